import t from 'tap'
import { EventEmitter } from 'node:events'
import type { WebSocket } from 'ws'
import { Hub } from '../lib/hub/hub.js'
import { RealtimeMetrics } from '../lib/metrics.js'
import { WebSocketConnections } from '../lib/websocket/connections.js'

/**
 * The WebSocket connection table with fake sockets and a fake clock: the
 * heartbeat, socket errors and peers that vanish, seen through the metrics.
 */

class FakeSocket extends EventEmitter {
  readonly OPEN = 1
  readyState = 1
  bufferedAmount = 0
  sent: unknown[] = []
  pings = 0
  terminated = false
  closedWith: number | undefined
  send (data: unknown): void { this.sent.push(data) }
  ping (): void { this.pings++ }
  close (code: number): void { this.closedWith = code; this.readyState = 2 }
  terminate (): void {
    if (this.terminated) return
    this.terminated = true
    this.readyState = 3
    this.emit('close', 1006, Buffer.alloc(0))
  }
}

async function value (metrics: RealtimeMetrics, name: string, reason?: string): Promise<number> {
  const family = (await metrics.registry.getMetricsAsJSON()).find((f) => f.name === name)
  const sample = family?.values.find((v) => (v.labels as Record<string, string>).reason === reason)
  if (sample === undefined) throw new Error(`no ${name} ${reason ?? ''}`)
  return sample.value
}

function setup (t: { teardown: (fn: () => unknown) => void }): { hub: Hub, metrics: RealtimeMetrics, connections: WebSocketConnections, clock: { now: number }, logs: string[] } {
  const logs: string[] = []
  const hub = new Hub({ logger: { debug (_o, msg) { logs.push(`debug:${msg}`) }, warn (_o, msg) { logs.push(`warn:${msg}`) }, error (_o, msg) { logs.push(`error:${msg}`) } } })
  const metrics = new RealtimeMetrics(hub.metricsParts())
  const clock = { now: 0 }
  const connections = new WebSocketConnections(hub.webSocketParts(), { pingInterval: 1000, idleTimeout: 3000, now: () => clock.now })
  t.teardown(() => { connections.stopTimer(); metrics.close() })
  return { hub, metrics, connections, clock, logs }
}

t.test('the heartbeat pings the live and terminates the silent; the gauge follows', async (t) => {
  const { metrics, connections, clock } = setup(t)
  const chatty = new FakeSocket()
  const silent = new FakeSocket()
  connections.attach(chatty as unknown as WebSocket, undefined)
  connections.attach(silent as unknown as WebSocket, undefined)
  t.equal(connections.size, 2)
  t.equal(await value(metrics, 'vix_ws_connections_active'), 2)

  clock.now = 2000
  chatty.emit('pong')
  connections.heartbeat()
  t.equal(chatty.pings, 1)
  t.equal(silent.pings, 1)

  clock.now = 4000
  chatty.emit('message', Buffer.from('{"type":"room.join","payload":{"room":"r"}}'), false)
  connections.heartbeat()
  t.equal(silent.terminated, true, 'silent for longer than idleTimeout')
  t.equal(chatty.terminated, false)
  t.equal(connections.size, 1)
  t.equal(await value(metrics, 'vix_ws_connections_active'), 1)

  chatty.readyState = 2
  connections.heartbeat()
  t.equal(chatty.pings, 2, 'a closing socket is not pinged')
  connections.terminateAll()
  t.equal(await value(metrics, 'vix_ws_connections_active'), 0)
  t.equal(await value(metrics, 'vix_ws_rooms_active'), 0)
  t.equal(await value(metrics, 'vix_ws_connections_total'), 2)
})

t.test('socket errors: expected disconnects at debug, an oversize frame counted as too_large', async (t) => {
  const { hub, metrics, connections, logs } = setup(t)
  const seen: string[] = []
  hub.onError((_session, error) => { seen.push((error as NodeJS.ErrnoException).code ?? error.message) })
  const socket = new FakeSocket()
  connections.attach(socket as unknown as WebSocket, undefined)
  socket.emit('error', Object.assign(new Error('reset'), { code: 'ECONNRESET' }))
  socket.emit('error', Object.assign(new Error('Max payload size exceeded'), { code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' }))
  socket.emit('error', new Error('odd'))
  t.same(seen, ['ECONNRESET', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'odd'])
  t.same(logs, ['debug:vix-realtime: peer disconnected', 'warn:vix-realtime: socket error', 'warn:vix-realtime: socket error'])
  t.equal(await value(metrics, 'vix_ws_errors_total', 'too_large'), 1)
  t.equal(await value(metrics, 'vix_ws_errors_total', 'internal'), 0)
})

t.test('binary frames of every ws shape reach raw handlers as one Buffer', async (t) => {
  const { hub, metrics, connections } = setup(t)
  const received: number[] = []
  hub.onMessage((_session, data, info) => { if (info.binary) received.push((data as Buffer).length) })
  const socket = new FakeSocket()
  connections.attach(socket as unknown as WebSocket, undefined)
  socket.emit('message', Buffer.from([1, 2]), true)
  socket.emit('message', new Uint8Array([1, 2, 3]).buffer, true)
  socket.emit('message', [Buffer.from([1]), Buffer.from([2, 3, 4])], true)
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(received, [2, 3, 4])
  t.equal(await value(metrics, 'vix_ws_messages_inbound_total'), 3)
})

t.test('closeAll closes every session with the code, once', async (t) => {
  const { connections } = setup(t)
  const sockets = [new FakeSocket(), new FakeSocket()]
  for (const socket of sockets) connections.attach(socket as unknown as WebSocket, undefined)
  connections.closeAll()
  connections.closeAll(1000, 'again')
  t.same(sockets.map((s) => s.closedWith), [1001, 1001])
})
