import type { Cluster, Redis } from 'ioredis'
import type { Logger } from '../hub/types.js'
import { optionalPackage } from '../optional.js'
import { BrokerLink, LinkedBroker } from './link.js'
import { ShardSubscribers } from './redis-cluster-nodes.js'
import { keySlot, partitionOf, partitionTags } from './slots.js'
import type { Broker, BrokerEvents, ControlMessage, Envelope } from './types.js'
import { ChannelNames, decodeControl, decodeEnvelope, encodeWire } from './wire.js'

const ioredis = optionalPackage<typeof import('ioredis')>('ioredis', 'broker.redis.cluster')

/** A seed of a Redis Cluster: `host:port`, or its parts. */
export type ClusterSeed = string | { host: string, port: number }

export interface RedisClusterBrokerOptions {
  /** Seeds: one or more servers of the cluster (the rest is discovered). */
  cluster: ClusterSeed[]
  /** Sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`): the only mode; required, so that the choice is explicit. */
  sharded: true
  /** How many partitions the rooms are hashed into, each on its own slot, evenly spaced (default 64; the same on every node). */
  partitions?: number
  /** Put before every channel name (default `vix:`); no `{` or `}`, which would change the channels' slots. */
  prefix?: string
  /** Reconnect backoff of the publishing connection: first delay and ceiling, in ms (default 50 and 2000). */
  retryDelay?: { min?: number, max?: number }
  /** How long a connection, or one subscribe, may take; with the hub's `failFast`, how long `start` waits, in ms (default 5000). */
  connectTimeout?: number
  /** How often the slot map is read to find partitions that moved (failover, resharding), in ms (default 1000). */
  topologyInterval?: number
  logger?: Logger
}

const silent: Logger = { debug () {}, warn () {}, error () {} }

/** `host:port` of each slot's master, from `CLUSTER SLOTS`. */
function slotOwners (reply: unknown): Map<number, string> {
  const owners = new Map<number, string>()
  for (const [from, to, master] of reply as Array<[number, number, [string, number]]>) {
    for (let slot = from; slot <= to; slot++) owners.set(slot, `${master[0]}:${master[1]}`)
  }
  return owners
}

/**
 * Fan-out over a Redis Cluster with sharded pub/sub: each room is a shard
 * channel `<prefix>{<tag>}room:<name>` whose hash tag is its partition's
 * (`partitionOf`), so a room lives on one master and `SPUBLISH` reaches only
 * that master and the nodes subscribed there — not every server, as plain
 * pub/sub on a cluster does. The partitions' tags sit on evenly spaced slots
 * (`partitionTags`), so the masters carry even shares. A node subscribes a
 * room only while it has a local member, over one connection per master it
 * needs, partition by partition.
 *
 * The slot map is read every `topologyInterval` ms and whenever a subscriber
 * connection breaks or is told its slot moved: a partition whose master
 * changed (failover, resharding) or whose connection was lost is subscribed
 * again on the master that serves it now, and the hub repairs what was
 * missed meanwhile from the store (the `resync` of every broker).
 *
 * @example
 * const hub = new Hub({ broker: new RedisClusterBroker({ cluster: ['10.0.0.1:7000', '10.0.0.2:7000'], sharded: true }) })
 */
export class RedisClusterBroker extends LinkedBroker implements Broker {
  readonly prefix: string
  readonly partitions: number
  protected readonly link: BrokerLink
  private readonly logger: Logger
  private readonly names: ChannelNames
  private readonly tags: string[]
  private readonly publisher: Cluster
  private readonly subscribers: ShardSubscribers
  private readonly connectTimeout: number
  private readonly topologyInterval: number
  /** Wanted rooms by partition, also while disconnected. */
  private readonly wanted = new Map<number, Set<string>>()
  /** The master each partition's channels are subscribed on now. */
  private readonly placed = new Map<number, string>()
  /** Each slot's master as last read: where a partition new to this node is subscribed. */
  private owners = new Map<number, string>()
  /** Subscription changes run one at a time, in order. */
  private chain: Promise<unknown> = Promise.resolve()
  private syncQueued = false
  private timer: NodeJS.Timeout | undefined

  constructor (options: RedisClusterBrokerOptions) {
    super()
    this.prefix = options.prefix ?? 'vix:'
    this.partitions = options.partitions ?? 64
    this.logger = options.logger ?? silent
    this.connectTimeout = options.connectTimeout ?? 5000
    this.topologyInterval = options.topologyInterval ?? 1000
    this.tags = partitionTags(this.partitions)
    this.names = new ChannelNames(this.prefix, (room) => `:${room}`)
    this.link = new BrokerLink({ name: 'redis-cluster', label: 'Redis Cluster', option: 'broker.redis.cluster' }, this.logger)
    const min = options.retryDelay?.min ?? 50
    const max = options.retryDelay?.max ?? 2000
    const seeds = options.cluster.map((seed) => typeof seed === 'string' ? { host: seed.slice(0, seed.lastIndexOf(':')), port: Number(seed.slice(seed.lastIndexOf(':') + 1)) } : seed)
    this.publisher = new (ioredis().Cluster)(seeds, {
      lazyConnect: true,
      // A publish while the cluster is unreachable fails at once: counted, and the store repairs it.
      enableOfflineQueue: false,
      clusterRetryStrategy: (times: number) => Math.min(max, min * 2 ** Math.min(times - 1, 16)),
      redisOptions: { connectTimeout: this.connectTimeout, maxRetriesPerRequest: 1 }
    })
    this.subscribers = new ShardSubscribers({
      open: (host, port): Redis => new (ioredis().Redis)(port, host, {
        lazyConnect: true,
        connectTimeout: this.connectTimeout,
        commandTimeout: this.connectTimeout,
        autoResubscribe: false,
        enableOfflineQueue: false,
        retryStrategy: () => null
      }),
      message: (channel, data) => { this.received(channel, data) },
      broken: (node, error) => { this.broken(node, error) },
      moved: (node) => { this.moved(node) }
    })
  }

  /** The shard channel of a room: its partition's hash tag, then the room. */
  roomChannel (room: string): string {
    return this.tagged(partitionOf(room, this.partitions), this.names.room(room).slice(this.prefix.length))
  }

  /** Room-less broadcasts and control messages live on partition 0. */
  get broadcastChannel (): string {
    return this.tagged(0, 'all')
  }

  get controlChannel (): string {
    return this.tagged(0, 'control')
  }

  private tagged (partition: number, rest: string): string {
    return `${this.prefix}{${this.tags[partition]}}${rest}`
  }

  /** The slot of partition `partition`'s channels. */
  slotOf (partition: number): number {
    return keySlot(`{${this.tags[partition]}}`)
  }

  /** The masters (`host:port`) this node has a subscriber connection to: at most one each. */
  get subscriberNodes (): string[] {
    return this.subscribers.nodes
  }

  /** The master (`host:port`) a partition's channels are subscribed on, if they are. */
  placementOf (partition: number): string | undefined {
    return this.placed.get(partition)
  }

  private received (channel: string, data: string): void {
    const events = this.link.events
    if (channel === this.controlChannel) {
      const message = decodeControl(data, events)
      if (message !== undefined) events?.control?.(message)
      return
    }
    const envelope = decodeEnvelope(data, events)
    if (envelope !== undefined) this.deliver(envelope)
  }

  /** Every channel of `partition` this node wants. */
  private channelsOf (partition: number): string[] {
    const channels = [...this.wanted.get(partition) ?? []].map((room) => this.roomChannel(room))
    return partition === 0 ? [this.broadcastChannel, this.controlChannel, ...channels] : channels
  }

  /** A master's subscriber connection broke: its partitions are placed again; the hub sees the broker down until they are. */
  private broken (node: string, error: unknown): void {
    for (const [partition, placed] of this.placed) if (placed === node) this.placed.delete(partition)
    this.link.failed(error)
    this.link.lost()
    this.queueSync()
  }

  /** A master dropped shard channels by itself (a slot left it): not an outage; its partitions are placed again, where they are served now. */
  private moved (node: string): void {
    for (const [partition, placed] of this.placed) if (placed === node) this.placed.delete(partition)
    this.queueSync()
  }

  /** Run `step` after every change queued before it. */
  private queue<T> (step: () => Promise<T>): Promise<T> {
    const next = this.chain.then(step)
    this.chain = next.catch(() => {})
    return next
  }

  private queueSync (): void {
    if (this.syncQueued || this.link.closing) return
    this.syncQueued = true
    this.queue(async () => {
      this.syncQueued = false
      await this.sync()
    }).catch((error: unknown) => { this.link.failed(error) })
  }

  /**
   * Read the slot map; subscribe each partition with wanted channels on the
   * master that serves it now, where it is not already. After boot, any
   * partition subscribed again means messages may have been missed: the link
   * is reported restored (after an outage) or resubscribed (a move), and the
   * hub repairs from the store.
   */
  private async sync (): Promise<void> {
    if (this.link.closing) return
    let owners: Map<number, string>
    try {
      owners = slotOwners(await this.publisher.cluster('SLOTS'))
      this.owners = owners
    } catch (error) {
      this.link.failed(error)
      this.link.lost()
      return
    }
    let moved = 0
    let failed = false
    for (let partition = 0; partition < this.partitions; partition++) {
      const channels = this.channelsOf(partition)
      if (channels.length === 0) continue
      const owner = owners.get(this.slotOf(partition))
      const current = this.placed.get(partition)
      if (owner !== undefined && current === owner && this.subscribers.ready(owner)) continue
      this.placed.delete(partition)
      try {
        if (current !== undefined) await this.subscribers.unsubscribe(current, channels).catch(() => {})
        if (owner === undefined) throw new Error(`no master serves slot ${this.slotOf(partition)}`)
        await this.subscribers.subscribe(owner, channels)
        this.placed.set(partition, owner)
        moved += channels.length
      } catch (error) {
        failed = true
        this.link.failed(error)
      }
    }
    this.subscribers.release(new Set(this.placed.values()))
    if (failed) {
      this.link.lost()
      return
    }
    if (!this.link.connected) this.link.restored(moved)
    else if (moved > 0) this.link.resubscribed(moved)
  }

  /**
   * Connect the publishing connection and subscribe what is wanted. When the
   * cluster cannot be reached the node boots anyway and goes on trying every
   * `topologyInterval` ms (then repairs from the store); with the hub's
   * `failFast`, reject with `VIX_ERR_DEPENDENCY_UNAVAILABLE` instead.
   */
  async start (deliver: (envelope: Envelope) => void, events: BrokerEvents): Promise<void> {
    const link = this.begin(deliver, events)
    // The publishing client's errors are counted; what makes an outage is the slot map or a subscriber connection failing (sync).
    this.publisher.on('error', (error: unknown) => { link.counted(error) })
    this.publisher.on('node error', (error: unknown) => { link.counted(error) })
    link.booting = true
    link.quiet = link.failFast
    try {
      await this.connectPublisher().catch((error: unknown) => {
        // Unreachable: an outage from the start (logged once unless failFast throws it); the slot map is read again every topologyInterval.
        link.failed(error)
        throw error
      })
      await this.queue(async () => { await this.sync() })
      if (!link.connected) throw link.lastError ?? new Error('Redis Cluster not subscribed')
    } catch (error) {
      if (link.failFast) {
        await this.close()
        throw link.unavailable(error)
      }
    } finally {
      link.booting = false
      link.quiet = false
    }
    link.bootedWithout()
    this.timer = setInterval(() => { this.queueSync() }, this.topologyInterval)
    this.timer.unref()
  }

  private async connectPublisher (): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`Redis Cluster not ready after ${this.connectTimeout} ms`)) }, this.connectTimeout)
    })
    try {
      await Promise.race([this.publisher.connect(), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  async publish (envelope: Envelope): Promise<void> {
    await this.publisher.spublish(envelope.room === undefined ? this.broadcastChannel : this.roomChannel(envelope.room), encodeWire(envelope))
  }

  async publishControl (message: ControlMessage): Promise<void> {
    await this.publisher.spublish(this.controlChannel, encodeWire(message))
  }

  async subscribe (room: string): Promise<void> {
    const partition = partitionOf(room, this.partitions)
    const rooms = this.wanted.get(partition) ?? new Set<string>()
    rooms.add(room)
    this.wanted.set(partition, rooms)
    await this.queue(async () => {
      const placed = this.placed.get(partition)
      // A partition new to this node goes where the slot map says; disconnected, the sync after the reconnect subscribes it.
      const node = placed ?? this.owners.get(this.slotOf(partition))
      if (!this.link.connected || node === undefined) return
      try {
        await this.subscribers.subscribe(node, placed === undefined ? this.channelsOf(partition) : [this.roomChannel(room)])
        this.placed.set(partition, node)
      } catch (error) {
        // Moved, slow or lost meanwhile: counted, and the sync places the partition again (an outage only if that fails too).
        this.placed.delete(partition)
        this.link.counted(error)
        this.queueSync()
      }
    })
  }

  async unsubscribe (room: string): Promise<void> {
    const partition = partitionOf(room, this.partitions)
    this.wanted.get(partition)?.delete(room)
    if (this.wanted.get(partition)?.size === 0) this.wanted.delete(partition)
    await this.queue(async () => {
      const node = this.placed.get(partition)
      if (node === undefined) return
      if (!this.wanted.has(partition) && partition !== 0) this.placed.delete(partition)
      await this.subscribers.unsubscribe(node, [this.roomChannel(room)]).catch(() => {})
    })
  }

  async close (): Promise<void> {
    if (this.link.closing) return
    this.link.closing = true
    clearInterval(this.timer)
    this.wanted.clear()
    await this.chain
    await this.subscribers.close()
    if (this.publisher.status === 'ready') await this.publisher.quit().catch(() => { this.publisher.disconnect() })
    else this.publisher.disconnect()
  }
}
