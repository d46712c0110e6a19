import { createServer, connect, type Server, type Socket } from 'node:net'

/** What the proxy does with traffic: forward it, or one of the faults. */
export type ProxyMode = 'open' | 'cut' | 'blackhole' | 'stall'

/** One proxied connection: the client's socket and its upstream (none while black-holed from the start). */
interface Link { client: Socket, upstream: Socket | null }

/**
 * A TCP proxy of the test's own in front of a shared server (PostgreSQL,
 * Redis): `cut()` drops every connection and refuses new ones until
 * `restore()`, an outage that never touches the shared server.
 * `blackhole()` keeps connections open (and accepts new ones) but forwards
 * nothing, dropping what is sent, as a dead network path does: on `restore()`
 * the connections that lost data are reset, as TCP would in the end.
 * `stall()` stops forwarding without losing anything: on `restore()` what
 * was held flows on, late.
 *
 * @example
 * const proxy = await TcpProxy.start(5432)
 * proxy.cut(); proxy.restore(); await proxy.close()
 * proxy.stall(); proxy.restore()
 */
export class TcpProxy {
  private readonly links = new Set<Link>()
  private state: ProxyMode = 'open'

  private readonly server: Server
  port = 0

  private constructor (private readonly targetPort: number, private readonly targetHost: string) {
    this.server = createServer((client) => { this.accept(client) })
  }

  static async start (targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, targetHost)
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve))
    proxy.port = (proxy.server.address() as { port: number }).port
    return proxy
  }

  /** The fault in force (`open` when none). */
  get mode (): ProxyMode {
    return this.state
  }

  /** Connections open right now. */
  get connections (): number {
    return this.links.size
  }

  private accept (client: Socket): void {
    if (this.state === 'cut') {
      client.destroy()
      return
    }
    const link: Link = { client, upstream: null }
    this.links.add(link)
    // A side that closes ends the other (its queued bytes still go out); an error resets both.
    const closed = (): void => {
      if (client.destroyed && (link.upstream === null || link.upstream.destroyed)) this.links.delete(link)
    }
    client.on('close', () => { link.upstream?.end(); closed() })
    client.on('error', () => { this.drop(link) })
    if (this.state === 'blackhole') {
      // Accepted, and nothing ever reaches the server: the connection only hangs.
      this.swallow(client)
      return
    }
    const upstream = connect(this.targetPort, this.targetHost)
    link.upstream = upstream
    upstream.on('close', () => { client.end(); closed() })
    upstream.on('error', () => { this.drop(link) })
    if (this.state === 'stall') client.pause()
    else this.forward(link)
  }

  private drop (link: Link): void {
    this.links.delete(link)
    link.client.destroy()
    link.upstream?.destroy()
  }

  private forward (link: Link): void {
    if (link.upstream === null) return
    link.client.pipe(link.upstream)
    link.upstream.pipe(link.client)
  }

  private hold (link: Link): void {
    for (const socket of [link.client, link.upstream]) {
      if (socket === null) continue
      socket.unpipe()
      socket.pause()
    }
  }

  /** Read and drop: what was sent is gone, as on a dead path. */
  private swallow (socket: Socket): void {
    socket.unpipe()
    socket.on('data', () => {})
    socket.resume()
  }

  cut (): void {
    this.state = 'cut'
    for (const link of [...this.links]) this.drop(link)
  }

  /** Forward nothing and drop what arrives, connections left open, until `restore()`. */
  blackhole (): void {
    if (this.state === 'stall') this.resumeHeld()
    this.state = 'blackhole'
    for (const link of this.links) {
      this.swallow(link.client)
      if (link.upstream !== null) this.swallow(link.upstream)
    }
  }

  /** Hold every byte (nothing lost) until `restore()`. */
  stall (): void {
    if (this.state === 'blackhole') this.resetSwallowed()
    this.state = 'stall'
    for (const link of this.links) this.hold(link)
  }

  restore (): void {
    const previous = this.state
    this.state = 'open'
    if (previous === 'blackhole') this.resetSwallowed()
    else if (previous === 'stall') this.resumeHeld()
  }

  /** Connections that went through a black hole cannot carry on (bytes are gone): reset them. */
  private resetSwallowed (): void {
    for (const link of [...this.links]) this.drop(link)
  }

  private resumeHeld (): void {
    for (const link of this.links) this.forward(link)
  }

  async close (): Promise<void> {
    this.cut()
    await new Promise((resolve) => this.server.close(resolve))
  }
}
