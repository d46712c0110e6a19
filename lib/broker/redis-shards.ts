import type { Redis } from 'ioredis'
import type { Health } from '../health.js'
import type { Logger } from '../hub/types.js'
import { HashRing } from './hash-ring.js'
import { RedisBroker, type RedisBrokerOptions } from './redis.js'
import type { Broker, BrokerEvents, ControlMessage, Envelope } from './types.js'

export interface ShardedRedisBrokerOptions extends Omit<RedisBrokerOptions, 'redis' | 'dependency' | 'roomsOnly'> {
  /** Two or more independent servers: `redis://` URLs or ioredis clients, in the same order on every node. */
  redis: Array<string | Redis>
  logger?: Logger
}

/**
 * Fan-out over several independent Redis servers (no Redis Cluster): each
 * room's channel lives on the one server a consistent hash of the room name
 * picks (`HashRing`), so each server carries about 1/n of the rooms' traffic
 * and a node subscribes, on each server, to the rooms it has local members
 * in there. Room-less broadcasts and the control channel (presence) live on
 * the first server: they are little traffic, and every node needs them anyway.
 *
 * Each server is a `RedisBroker` of its own, with its own link: a health
 * dependency (`redis`, `redis#2`, ...), its outage logged once, reconnect,
 * resubscribe and resync. One server down stops the cross-node delivery of
 * its rooms only; when it is back its rooms are subscribed again and the hub
 * repairs the gap from the store. The hub sees the broker connected while
 * every server is.
 *
 * @example
 * const hub = new Hub({ broker: new ShardedRedisBroker({ redis: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379'], prefix: 'chat:' }) })
 * await hub.started
 */
export class ShardedRedisBroker implements Broker {
  readonly servers: RedisBroker[]
  private readonly ring: HashRing
  /** Which servers the hub was last told are up; the hub sees one connection, up while all are. */
  private readonly up: boolean[]

  constructor (options: ShardedRedisBrokerOptions) {
    const { redis, ...shared } = options
    this.servers = redis.map((server, index) => new RedisBroker({
      ...shared,
      redis: server,
      roomsOnly: index > 0,
      dependency: index === 0
        ? { name: 'redis', label: 'Redis', option: 'broker.redis[0]' }
        : { name: `redis#${index + 1}`, label: `Redis #${index + 1}`, option: `broker.redis[${index}]` }
    }))
    this.ring = new HashRing(redis.length)
    this.up = redis.map(() => true)
  }

  /** The index of the server that carries `room`. */
  serverOf (room: string): number {
    return this.ring.owner(room)
  }

  private serverFor (room: string): RedisBroker {
    return this.servers[this.ring.owner(room)]
  }

  /** Every server's link is a dependency of its own. */
  watch (health: Health): void {
    for (const server of this.servers) server.watch(health)
  }

  /** What server `index` tells the hub: everything as it is, but `connection` only when all servers' state changes. */
  private eventsOf (index: number, events: BrokerEvents): BrokerEvents {
    return {
      resync: events.resync,
      error: events.error,
      control: events.control,
      connection: (connected) => {
        const before = this.up.every(Boolean)
        this.up[index] = connected
        const after = this.up.every(Boolean)
        if (after !== before) events.connection(after)
      }
    }
  }

  async start (deliver: (envelope: Envelope) => void, events: BrokerEvents): Promise<void> {
    const results = await Promise.allSettled(this.servers.map(async (server, index) => { await server.start(deliver, this.eventsOf(index, events)) }))
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failed === undefined) return
    // failFast: one server unreachable fails boot; the others are not left connecting.
    await this.close()
    throw failed.reason
  }

  async publish (envelope: Envelope): Promise<void> {
    await (envelope.room === undefined ? this.servers[0] : this.serverFor(envelope.room)).publish(envelope)
  }

  async publishControl (message: ControlMessage): Promise<void> {
    await this.servers[0].publishControl(message)
  }

  async subscribe (room: string): Promise<void> {
    await this.serverFor(room).subscribe(room)
  }

  async unsubscribe (room: string): Promise<void> {
    await this.serverFor(room).unsubscribe(room)
  }

  async close (): Promise<void> {
    await Promise.all(this.servers.map(async (server) => { await server.close() }))
  }
}
