import { EventEmitter } from 'node:events'
import type { InProcessApp, WebSocketApp } from './app.js'
import type { WebSocket } from 'ws'
import type { TestLink, TestLinkSink } from './link.js'
import { toFrame } from './link.js'
import { realTimers } from './timers.js'

/**
 * What stands for the TCP socket of the upgrade request (`injectWS` gives it
 * none): the peer address the server reads (`request.ip`, per-address
 * limits), and a `close` when the connection ends, as a real socket's.
 */
class InjectedSocket extends EventEmitter {
  readonly remoteAddress = '127.0.0.1'
  readonly remotePort = 0
  readonly encrypted = false
  destroyed = false

  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
  }
}

/**
 * Over injectWS's in-memory streams no socket ever emits 'close' by itself: ws ends the
 * connection on its close timer (for this client, a timeout of `undefined`: the next turn of
 * the global setTimeout, which fake timers stop). So once the server ended its half (after the
 * close handshake, or a terminate), the client's stream is destroyed as a closed TCP socket would be.
 */
function endWithPeer (ws: WebSocket): void {
  const stream = (ws as unknown as { _socket?: EventEmitter & { destroy: () => void } })._socket
  stream?.once('end', () => { realTimers.setImmediate(() => { stream.destroy() }) })
}

/**
 * A WebSocket through `app.injectWS` (`@fastify/websocket` 11): the upgrade
 * runs through Fastify's hooks and routes, over in-memory streams, with no port.
 */
export async function openWebSocketLink (app: InProcessApp, url: string, headers: Record<string, string>, sink: TestLinkSink): Promise<TestLink> {
  const { injectWS, websocketServer: server } = app as InProcessApp & Partial<WebSocketApp>
  if (typeof injectWS !== 'function' || server === undefined) throw new Error('vix-realtime/testing: app.injectWS is missing (register the WebSocket transport, @fastify/websocket 11)')
  const socket = new InjectedSocket()
  // The server's end of this connection, found by its request's socket: its in-memory stream never
  // emits 'close' by itself once both sides closed, so the server would hold the session until its close timeout.
  let serverSide: WebSocket | undefined
  const onConnection = (peer: WebSocket, request: { socket?: unknown }): void => { if (request.socket === socket) serverSide = peer }
  server.on('connection', onConnection)
  let ws: WebSocket
  try {
    ws = await injectWS.call(app, url, { headers, socket })
  } catch (error) {
    socket.destroy()
    throw error
  } finally {
    server.off('connection', onConnection)
  }
  ws.on('message', (data, isBinary) => {
    if (isBinary) sink.frame({ kind: 'system', type: 'binary', ts: new Date(0).toISOString(), payload: { data: Buffer.from(data as Buffer).toString('base64') } })
    else sink.frame(toFrame(data.toString()))
  })
  ws.on('error', () => {})
  endWithPeer(ws)
  // injectWS builds its ws client the way ws builds a server's peer, without autoPong: answer pings as a browser does.
  ws.on('ping', (data) => { if (ws.readyState === ws.OPEN) ws.pong(data) })
  const ended = new Promise<void>((resolve) => {
    ws.on('close', (code, reason) => { serverSide?.terminate(); socket.destroy(); sink.end({ code, reason: reason.toString() }); resolve() })
  })
  return {
    send: async (text) => { if (ws.readyState === ws.OPEN) ws.send(text) },
    pull: async () => {},
    close: async () => {
      if (ws.readyState === ws.CLOSED) return
      ws.close(1000)
      await ended
    }
  }
}
