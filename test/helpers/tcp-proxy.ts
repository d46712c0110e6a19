import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy of the test's own in front of a shared server (PostgreSQL,
 * Redis): `cut()` drops every connection and refuses new ones until
 * `restore()`, an outage that never touches the shared server.
 *
 * @example
 * const proxy = await TcpProxy.start(5432)
 * proxy.cut(); proxy.restore(); await proxy.close()
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>()
  private open = true

  private readonly server: Server
  port = 0

  private constructor (targetPort: number, targetHost: string) {
    this.server = createServer((client) => { this.accept(client, targetPort, targetHost) })
  }

  static async start (targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, targetHost)
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve))
    proxy.port = (proxy.server.address() as { port: number }).port
    return proxy
  }

  private accept (client: Socket, port: number, host: string): void {
    if (!this.open) {
      client.destroy()
      return
    }
    const upstream = connect(port, host)
    for (const socket of [client, upstream]) {
      this.sockets.add(socket)
      socket.on('close', () => { this.sockets.delete(socket) })
      socket.on('error', () => { client.destroy(); upstream.destroy() })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  }

  cut (): void {
    this.open = false
    for (const socket of this.sockets) socket.destroy()
  }

  restore (): void {
    this.open = true
  }

  async close (): Promise<void> {
    this.cut()
    await new Promise((resolve) => this.server.close(resolve))
  }
}
