import type { Redis } from 'ioredis'
import { optionalPackage } from '../optional.js'
import type { Logger } from '../hub/types.js'
import { BrokerLink, LinkedBroker } from './link.js'
import type { Broker, BrokerEvents, ControlMessage, Envelope } from './types.js'
import { ChannelNames, decodeControl, decodeEnvelope, encodeWire } from './wire.js'

const ioredis = optionalPackage<typeof import('ioredis')>('ioredis', 'broker.redis')

export interface RedisBrokerOptions {
  /** A `redis://` URL (the broker opens and closes both connections), or a client of the app's (used to publish, duplicated to subscribe; left open on close). */
  redis: string | Redis
  /** Put before every channel name, so several apps share one Redis (default `vix:`). */
  prefix?: string
  /** Reconnect backoff: first delay and ceiling, in ms (default 50 and 2000). */
  retryDelay?: { min?: number, max?: number }
  /** With the hub's `failFast`: how long `start` waits for Redis before boot fails, in ms (default 5000, under Fastify's plugin timeout). */
  connectTimeout?: number
  logger?: Logger
  /** Where it stands among several servers (`ShardedRedisBroker`): its health dependency (`redis#2`) and option path (`broker.redis[1]`); default `redis` and `broker.redis`. */
  dependency?: { name: string, label: string, option: string }
  /** Subscribe room channels only, not `<prefix>all` and `<prefix>control` (a server that carries rooms alone; default false). */
  roomsOnly?: boolean
}

const silent: Logger = { debug () {}, warn () {}, error () {} }

/** Resolves once `client` is ready; rejects on its first error or on timeout (`failFast` boot); a lazy client is told to connect. */
async function whenReady (client: Redis, timeout: number): Promise<void> {
  if (client.status === 'ready') return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { done(new Error(`Redis not ready after ${timeout} ms`)) }, timeout)
    timer.unref()
    const onReady = (): void => { done() }
    const onError = (error: Error): void => { done(error) }
    function done (error?: Error): void {
      clearTimeout(timer)
      client.off('ready', onReady)
      client.off('error', onError)
      if (error === undefined) resolve()
      else reject(error)
    }
    client.on('ready', onReady)
    client.on('error', onError)
    if (client.status === 'wait') client.connect().catch(() => {})
  })
}

/**
 * Fan-out between nodes over Redis pub/sub: one connection publishes, one
 * subscribes. Each room is a channel `<prefix>room:<name>` that a node
 * subscribes to only while the room has a local member; room-less broadcasts
 * go on `<prefix>all`, which every node subscribes to. Envelopes travel as
 * JSON. Redis is a doorbell, not a log: what is lost while the subscriber is
 * disconnected is read from the shared store after it reconnects (the hub's
 * `resync`). Connections reconnect with capped exponential backoff; an
 * outage is logged once, and counted.
 *
 * @example
 * const hub = new Hub({ broker: new RedisBroker({ redis: 'redis://127.0.0.1:6379', prefix: 'chat:' }) })
 * await hub.started
 */
export class RedisBroker extends LinkedBroker implements Broker {
  readonly prefix: string
  private readonly publisher: Redis
  private readonly subscriber: Redis
  private readonly ownsPublisher: boolean
  private readonly logger: Logger
  private readonly connectTimeout: number
  private readonly roomsOnly: boolean
  /** Rooms this node wants, also while disconnected: they are subscribed again on reconnect. */
  private readonly rooms = new Set<string>()
  private started = false
  private resubscribing: Promise<void> | undefined
  private readonly names: ChannelNames
  protected readonly link: BrokerLink

  constructor (options: RedisBrokerOptions) {
    super()
    this.prefix = options.prefix ?? 'vix:'
    this.names = new ChannelNames(this.prefix, (room) => `:${room}`)
    this.logger = options.logger ?? silent
    // The URL given (none for a client of the app's) is named, redacted, in the log line of an outage.
    const dependency = options.dependency ?? { name: 'redis', label: 'Redis', option: 'broker.redis' }
    this.link = new BrokerLink({ ...dependency, url: typeof options.redis === 'string' ? options.redis : undefined }, this.logger)
    this.roomsOnly = options.roomsOnly ?? false
    this.connectTimeout = options.connectTimeout ?? 5000
    const min = options.retryDelay?.min ?? 50
    const max = options.retryDelay?.max ?? 2000
    const own = {
      lazyConnect: true,
      // A publish while disconnected fails at once instead of queueing: it is counted, and the store repairs it.
      enableOfflineQueue: false,
      // Re-subscribing is ours to do, so that the repair read starts only once every channel is back.
      autoResubscribe: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(max, min * 2 ** Math.min(times - 1, 16))
    }
    if (typeof options.redis === 'string') {
      this.publisher = new (ioredis().Redis)(options.redis, own)
      this.subscriber = new (ioredis().Redis)(options.redis, own)
      this.ownsPublisher = true
    } else {
      this.publisher = options.redis
      this.subscriber = options.redis.duplicate(own)
      this.ownsPublisher = false
    }
  }

  /** The channel of a room's envelopes. */
  roomChannel (room: string): string {
    return this.names.room(room)
  }

  /** The control channel every node subscribes to: presence announcements, heartbeats, sync requests. */
  get controlChannel (): string {
    return this.names.control
  }

  /** The channel of room-less broadcasts. */
  get broadcastChannel (): string {
    return this.names.broadcast
  }

  /**
   * Connect; when Redis cannot be reached (the first error, or `connectTimeout`)
   * resolve anyway and go on connecting in the background: the node boots,
   * delivers locally, and subscribes every wanted channel (then repairs from
   * the store) once both connections are ready. With the hub's `failFast`,
   * reject with `VIX_ERR_DEPENDENCY_UNAVAILABLE` instead.
   */
  async start (deliver: (envelope: Envelope) => void, events: BrokerEvents): Promise<void> {
    const link = this.begin(deliver, events)
    this.subscriber.on('message', (channel: string, data: string) => {
      if (channel === this.controlChannel) {
        const message = decodeControl(data, events)
        if (message !== undefined) events.control?.(message)
      } else {
        const envelope = decodeEnvelope(data, events)
        if (envelope !== undefined) this.deliver(envelope)
      }
    })
    for (const client of [this.publisher, this.subscriber]) {
      client.on('error', (error: unknown) => { link.failed(error) })
      client.on('close', () => { link.lost() })
      client.on('ready', () => { this.whenUp() })
    }
    this.started = true
    if (link.failFast) {
      // Boot fails with the coded error below instead of logging an outage the node would not live through.
      link.quiet = true
      link.booting = true
      try {
        await Promise.all([whenReady(this.publisher, this.connectTimeout), whenReady(this.subscriber, this.connectTimeout)])
        await this.up()
        if (!link.connected) throw link.lastError ?? new Error('Redis connection lost while subscribing')
      } catch (error) {
        link.closing = true
        this.subscriber.disconnect()
        if (this.ownsPublisher) this.publisher.disconnect()
        throw link.unavailable(error)
      } finally {
        link.quiet = false
        link.booting = false
      }
      return
    }
    // Reachable: connected and subscribed when start resolves, as before. Not: the first
    // error (or connectTimeout) ends the wait, the node boots, ioredis retries with the backoff.
    link.booting = true
    try {
      await Promise.all([whenReady(this.publisher, this.connectTimeout), whenReady(this.subscriber, this.connectTimeout)])
      await this.up()
    } catch {
    } finally {
      link.booting = false
    }
    // Until both connections are ready the hub counts the broker as disconnected.
    link.bootedWithout()
  }

  /** `up()` from an event: it never rejects (a failed subscribe is reported as an outage). */
  private whenUp (): void {
    this.up().catch((error: unknown) => { this.link.failed(error) })
  }

  /**
   * A connection is (again) ready: once both are, subscribe every wanted
   * channel (the rooms with local members included), then have the hub
   * repair what was missed from the store. One run at a time.
   */
  private up (): Promise<void> {
    if (!this.started || this.link.closing || this.link.connected) return Promise.resolve()
    if (this.publisher.status !== 'ready' || this.subscriber.status !== 'ready') return Promise.resolve()
    this.resubscribing ??= this.resubscribe().finally(() => { this.resubscribing = undefined })
    return this.resubscribing
  }

  private async resubscribe (): Promise<void> {
    const shared = this.roomsOnly ? [] : [this.broadcastChannel, this.controlChannel]
    const channels = [...shared, ...[...this.rooms].map((room) => this.roomChannel(room))]
    try {
      // Nothing wanted yet (a rooms-only server before its first room): connected all the same.
      if (channels.length > 0) await this.subscriber.subscribe(...channels)
    } catch (error) {
      this.link.failed(error)
      return
    }
    if (this.publisher.status !== 'ready' || this.subscriber.status !== 'ready') return
    this.link.restored(channels.length)
  }

  async publish (envelope: Envelope): Promise<void> {
    const channel = envelope.room === undefined ? this.broadcastChannel : this.roomChannel(envelope.room)
    await this.publisher.publish(channel, encodeWire(envelope))
  }

  async publishControl (message: ControlMessage): Promise<void> {
    await this.publisher.publish(this.controlChannel, encodeWire(message))
  }

  async subscribe (room: string): Promise<void> {
    this.rooms.add(room)
    // Disconnected: the join goes on, the channel is subscribed on reconnect and the gap read from the store.
    if (this.subscriber.status !== 'ready') return
    await this.subscriber.subscribe(this.roomChannel(room))
  }

  async unsubscribe (room: string): Promise<void> {
    this.rooms.delete(room)
    if (this.subscriber.status !== 'ready') return
    await this.subscriber.unsubscribe(this.roomChannel(room))
  }

  async close (): Promise<void> {
    if (this.link.closing) return
    this.link.closing = true
    this.rooms.clear()
    const quit = async (client: Redis): Promise<void> => {
      if (client.status !== 'ready') {
        client.disconnect()
        return
      }
      await client.quit().catch(() => { client.disconnect() })
    }
    // QUIT drops the subscriptions with the connection.
    await quit(this.subscriber)
    if (this.ownsPublisher) await quit(this.publisher)
  }
}
