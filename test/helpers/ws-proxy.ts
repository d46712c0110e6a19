import { WebSocket, WebSocketServer, type RawData } from 'ws'

/**
 * A WebSocket proxy of the test's own between a client and a server: every
 * frame is forwarded as is, except the server → client frames `drop`
 * returns true for, which vanish silently (the connection stays up, as when
 * a node loses one frame of a stream).
 *
 * @example
 * const proxy = await WsProxy.start('ws://127.0.0.1:3000/ws', (text) => JSON.parse(text).pos === '3.Xb3k')
 * new VixClient({ url: proxy.url, WebSocket })
 * proxy.dropped // ['{"kind":"event",...,"pos":"3.Xb3k"}']
 */
export class WsProxy {
  /** The server → client text frames that were dropped, as they were. */
  readonly dropped: string[] = []
  /** Every server → client text frame forwarded, in order. */
  readonly forwarded: string[] = []
  private readonly server: WebSocketServer
  private readonly sockets = new Set<WebSocket>()
  url = ''

  private constructor (private readonly target: string, private readonly drop: (text: string) => boolean) {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    this.server.on('connection', (client) => { this.accept(client) })
  }

  static async start (target: string, drop: (text: string) => boolean): Promise<WsProxy> {
    const proxy = new WsProxy(target, drop)
    await new Promise<void>((resolve) => { proxy.server.once('listening', resolve) })
    proxy.url = `ws://127.0.0.1:${(proxy.server.address() as { port: number }).port}/ws`
    return proxy
  }

  private accept (client: WebSocket): void {
    const upstream = new WebSocket(this.target)
    this.sockets.add(client)
    this.sockets.add(upstream)
    // What the client sends before the upstream opens waits for it, in order.
    const early: Array<[RawData, boolean]> = []
    client.on('message', (data, isBinary) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary })
      else early.push([data, isBinary])
    })
    upstream.on('open', () => {
      for (const [data, isBinary] of early.splice(0)) upstream.send(data, { binary: isBinary })
    })
    upstream.on('message', (data, isBinary) => {
      if (!isBinary) {
        const text = String(data)
        if (this.drop(text)) {
          this.dropped.push(text)
          return
        }
        this.forwarded.push(text)
      }
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary })
    })
    const end = (): void => {
      this.sockets.delete(client)
      this.sockets.delete(upstream)
      client.terminate()
      upstream.terminate()
    }
    client.on('close', end)
    upstream.on('close', end)
    client.on('error', end)
    upstream.on('error', end)
  }

  async close (): Promise<void> {
    for (const socket of this.sockets) socket.terminate()
    await new Promise((resolve) => { this.server.close(resolve) })
  }
}
