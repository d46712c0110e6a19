import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { join } from 'node:path'
import WebSocket from 'ws'
import vixRealtime, { type VixRealtimeOptions } from '../plugins/index.js'
import { VixClient, type VixClientOptions } from '../lib/client/index.js'
import { baseUrl, build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { delay, waitFor } from './helpers/wait.js'

// The client on SSE (GET /ws/sse, POST /ws/send), its choice of transport, and
// the restart case: a server that is down is reconnected to, never a reason
// to leave WebSocket.

const fast = { minDelay: 20, maxDelay: 200, factor: 2, jitter: 0 }

function client (t: { teardown: (fn: () => void) => void }, app: FastifyInstance, options: Partial<VixClientOptions> = {}): { vix: VixClient, events: string[] } {
  const vix = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, reconnect: fast, autoUnref: true, ...options })
  t.teardown(() => { vix.close() })
  const events: string[] = []
  vix.on('transport', (to: string, from: string) => { events.push(`transport:${from}->${to}`) })
  vix.on('state', (state: string) => { events.push(`state:${state}`) })
  return { vix, events }
}

t.test('transports: [\'sse\'] alone: join, publish and receive over the real server', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const { vix } = client(t, app, { transports: ['sse'] })
  const texts: string[] = []
  vix.on('chat.message', (msg: any) => { texts.push(msg.payload.text) })
  await vix.connect()
  t.equal(vix.transport, 'sse')
  t.match(await vix.join('general'), { room: 'general', recovered: false })
  const peer = await connect(app)
  t.teardown(() => { peer.close() })
  peer.send({ type: 'room.join', payload: { room: 'general' } })
  await peer.waitFor((f) => f.type === 'room.join')
  await vix.publish('general', 'chat.message', { text: 'from sse' })
  t.match(await peer.waitFor((f) => f.kind === 'event'), { payload: { text: 'from sse' } })
  peer.send({ type: 'chat.message', room: 'general', payload: { text: 'from ws' } })
  await waitFor(() => texts.length === 2, { message: 'both messages on the SSE client' })
  t.same(texts, ['from sse', 'from ws'])
  t.equal([...app.realtime.sessions.values()].filter((s) => s.transport.name === 'sse').length, 1)
})

t.test('a refused upgrade (WebSocket off on the server): the client falls back to SSE, the next transport', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], websocket: false })
  const { vix, events } = client(t, app)
  await vix.connect()
  t.equal(vix.transport, 'sse')
  t.ok(events.includes('transport:websocket->sse'))
  await vix.join('general')
  await vix.publish('general', 'chat.message', { text: 'hi' })
})

t.test('SSE off on the server too: the client goes on to long polling', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], websocket: false, sse: false })
  const { vix, events } = client(t, app, { longPolling: { wait: 200 } })
  await vix.connect()
  t.equal(vix.transport, 'long-polling')
  t.same(events.filter((e) => e.startsWith('transport')), ['transport:websocket->sse', 'transport:sse->long-polling'])
})

/** An app on `port` (0: any), closed after the test unless closed before. */
async function listenOn (t: { teardown: (fn: () => unknown) => void, testdir: () => string }, port: number, options: VixRealtimeOptions): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(vixRealtime, options)
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port })
  return app
}

/** A server on a free port, a client in room general that got `text`, then the server stopped (as for a restart). */
async function stopAfterOne (t: { teardown: (fn: () => unknown) => void, testdir: () => string }, options: VixRealtimeOptions, clientOptions: Partial<VixClientOptions>, text: string): Promise<{ port: number, vix: VixClient, events: string[], texts: string[] }> {
  const first = await listenOn(t, 0, options)
  const port = (first.server.address() as { port: number }).port
  const { vix, events } = client(t, first, clientOptions)
  const texts: string[] = []
  vix.on('chat.message', (msg: any) => { texts.push(msg.payload.text) })
  await vix.connect()
  await vix.join('general')
  await first.realtime.publish({ room: 'general', type: 'chat.message', payload: { text } })
  await waitFor(() => texts.length === 1, { message: text })
  await first.close()
  return { port, vix, events, texts }
}

t.test('the restart case: a WebSocket client is back on WebSocket within 2 s of the server, never on another transport', async (t) => {
  const options: VixRealtimeOptions = { relayTypes: ['chat.message'], store: { path: join(t.testdir(), 'm.db') } }
  // The library's default reconnect timing, as a page would have it.
  const { port, vix, events, texts } = await stopAfterOne(t, options, { reconnect: {} }, 'before')
  // Down for 3 s: several attempts fail (and an HTTP check says the server is down).
  await delay(3000)
  t.equal(vix.state, 'reconnecting', 'reconnecting while the server is down')
  t.equal(vix.transport, 'websocket', 'and still on WebSocket')
  const second = await listenOn(t, port, options)
  const back = Date.now()
  await second.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'while away' } })
  await waitFor(() => vix.state === 'open', { timeout: 2000, message: 'open again within 2 s of the server' })
  t.ok(Date.now() - back <= 2000, `back in ${Date.now() - back} ms`)
  t.equal(vix.transport, 'websocket')
  t.same(events.filter((e) => e.startsWith('transport')), [], 'no transport change at all')
  await waitFor(() => texts.length === 2, { message: 'the missed message' })
  t.same(texts, ['before', 'while away'], 'rejoined with since: every message once, in order')
})

t.test('an SSE client through a restart: reconnecting, then SSE again, the missed messages replayed', async (t) => {
  const options: VixRealtimeOptions = { relayTypes: ['chat.message'], store: { path: join(t.testdir(), 'm.db') }, goingAwayRetryAfter: 100 }
  const { port, vix, events, texts } = await stopAfterOne(t, options, { transports: ['sse'] }, 'one')
  await waitFor(() => vix.state === 'reconnecting', { message: 'reconnecting' })
  const second = await listenOn(t, port, options)
  await second.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'two' } })
  await waitFor(() => texts.length === 2, { timeout: 5000, message: 'the missed message' })
  t.same(texts, ['one', 'two'])
  t.equal(vix.transport, 'sse')
  t.ok(events.includes('state:reconnecting') && events.at(-1) === 'state:open')
})
