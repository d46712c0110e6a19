import type { Redis } from 'ioredis'

/** What the subscriber connections need of their broker: how to open one, and where their messages and troubles go. */
export interface ShardSubscriberParts {
  /** A new, not yet connected client to `host:port` (subscriber mode only; no reconnect of its own). */
  open: (host: string, port: number) => Redis
  /** A shard message on `channel`, from any node. */
  message: (channel: string, data: string) => void
  /** A node's connection failed or closed: what it carried must be placed again. */
  broken: (node: string, error: unknown) => void
  /** A node dropped subscriptions by itself (a slot left it: failover, resharding); the connection is fine. */
  moved: (node: string) => void
}

/**
 * Whether `error` is ioredis reporting a `sunsubscribe` no command asked
 * for: Redis pushes one for each shard channel of a slot that leaves the
 * server. The connection stays usable.
 */
const pushedUnsubscribe = (error: unknown): boolean => error instanceof Error && error.message.startsWith('Command queue state error') && error.message.includes('Last reply: sunsubscribe')

/**
 * One subscriber connection per cluster master that carries a wanted
 * partition, `SSUBSCRIBE`d to the channels placed on it: the connections
 * stay as few as the masters, however many rooms. A connection that breaks
 * is forgotten (its broker places its partitions again, on whatever master
 * owns them by then); a master left with nothing placed is disconnected.
 *
 * @example
 * const nodes = new ShardSubscribers(parts)
 * await nodes.subscribe('127.0.0.1:7000', ['vix:{e8a}room:general'])
 */
export class ShardSubscribers {
  private readonly clients = new Map<string, Redis>()

  constructor (private readonly parts: ShardSubscriberParts) {}

  /** The masters connected now, as `host:port`. */
  get nodes (): string[] {
    return [...this.clients.keys()]
  }

  /** Whether `node`'s connection is open and ready. */
  ready (node: string): boolean {
    return this.clients.get(node)?.status === 'ready'
  }

  private async client (node: string): Promise<Redis> {
    let client = this.clients.get(node)
    if (client === undefined) {
      const split = node.lastIndexOf(':')
      const created = this.parts.open(node.slice(0, split), Number(node.slice(split + 1)))
      client = created
      this.clients.set(node, created)
      created.on('smessage', (channel: string, data: string) => { this.parts.message(channel, data) })
      // An error (a MOVED reply to SSUBSCRIBE) or a close: place again, elsewhere if need be.
      const broken = (error: unknown): void => {
        if (this.clients.get(node) !== created) return
        if (pushedUnsubscribe(error)) {
          this.parts.moved(node)
          return
        }
        this.clients.delete(node)
        created.disconnect()
        this.parts.broken(node, error)
      }
      created.on('error', broken)
      created.on('moved', () => { broken(new Error(`Redis Cluster node ${node} no longer serves a subscribed slot (MOVED)`)) })
      created.on('close', () => { broken(new Error(`Redis Cluster node ${node}: subscriber connection closed`)) })
      await created.connect()
    }
    if (client.status !== 'ready') throw new Error(`Redis Cluster node ${node}: subscriber connection not ready`)
    return client
  }

  /** `SSUBSCRIBE` `channels`, all of one slot, on `node` (connected first when needed). */
  async subscribe (node: string, channels: string[]): Promise<void> {
    if (channels.length === 0) return
    await (await this.client(node)).ssubscribe(...channels)
  }

  /** `SUNSUBSCRIBE` `channels` on `node` if it is still connected; a connection already gone dropped them anyway. */
  async unsubscribe (node: string, channels: string[]): Promise<void> {
    const client = this.clients.get(node)
    if (client?.status !== 'ready' || channels.length === 0) return
    await client.sunsubscribe(...channels)
  }

  /** Disconnect every master not in `keep`. */
  release (keep: ReadonlySet<string>): void {
    for (const [node, client] of this.clients) {
      if (keep.has(node)) continue
      this.clients.delete(node)
      client.disconnect()
    }
  }

  /** Quit every connection (shutdown). */
  async close (): Promise<void> {
    const clients = [...this.clients.values()]
    this.clients.clear()
    await Promise.all(clients.map(async (client) => {
      if (client.status !== 'ready') {
        client.disconnect()
        return
      }
      await client.quit().catch(() => { client.disconnect() })
    }))
  }
}
