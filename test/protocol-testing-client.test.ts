import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { connect, SESSION_GONE, TestClientError } from '../lib/testing/index.js'
import { toFrame } from '../lib/testing/link.js'
import { inProcessApp, onBothTransports } from './helpers/transports.js'

// vix-realtime/testing itself: what it hands the server (query, headers), how a refused
// session, a frame that is not a message and each way a session ends look to a test.

let app: FastifyInstance

t.before(async () => {
  app = await inProcessApp({
    relayTypes: ['chat.message'],
    authenticate: (request) => {
      const user = request.headers['x-user']
      return user === 'nobody' ? null : { user: typeof user === 'string' ? user : 'guest', key: (request.query as Record<string, string>).client_key ?? null }
    }
  })
})
t.teardown(() => app.close())

onBothTransports(t, 'headers and query reach authenticate; a refused session rejects connect with its status', async (t, on) => {
  const client = await on.connect(app, { headers: { 'x-user': 'ada' }, query: { client_key: 'k'.repeat(22) } })
  await client.join('who')
  const [session] = app.realtime.rooms.members('who')
  t.same(session.identity, { user: 'ada', key: 'k'.repeat(22) })
  await t.rejects(connect(app, { transport: on.transport, headers: { 'x-user': 'nobody' } }), /401/)
  await client.leave('who')
})

onBothTransports(t, 'a binary frame and a raw text frame from the server arrive as system frames', async (t, on) => {
  const client = await on.connect(app)
  await client.join(on.room('bytes'))
  const [session] = app.realtime.rooms.members(on.room('bytes'))
  session.sendSerialized(Buffer.from('hi'))
  session.sendSerialized('{"no":"type"}')
  t.match(await client.next((f) => f.type === 'binary'), { kind: 'system', payload: { data: Buffer.from('hi').toString('base64') } })
  t.match(await client.next((f) => f.type === 'raw'), { kind: 'system', payload: { text: '{"no":"type"}' } })
})

onBothTransports(t, 'next times out naming what was unread; expectNothing rejects with the frame that came', async (t, on) => {
  const client = await on.connect(app, { timeout: 30 })
  const room = on.room('quiet')
  await client.join(room)
  await t.rejects(client.next((f) => f.type === 'never'), /no matching frame within 30 ms; unread: \[/)
  await app.realtime.publish({ room, type: 'news', payload: {} })
  await t.rejects(client.expectNothing(500), /expected no frame, got .*"news"/)
  t.equal(client.frames.filter((f) => f.type === 'news').length, 1, 'frames keeps it')
})

onBothTransports(t, 'waits at the same time each get their frame (a long-poll client still polls one at a time)', async (t, on) => {
  const client = await on.connect(app)
  const room = on.room('both')
  await client.join(room)
  const waits = Promise.all([client.next((f) => f.type === 'one'), client.next((f) => f.type === 'two'), client.expectNothing(30, (f) => f.type === 'three')])
  await app.realtime.publish({ room, type: 'two', payload: {} })
  await app.realtime.publish({ room, type: 'one', payload: {} })
  const [one, two] = await waits
  t.same([one.type, two.type], ['one', 'two'])
})

onBothTransports(t, 'a refused join rejects with a TestClientError carrying the code and the frame', async (t, on) => {
  const client = await on.connect(app)
  const error = await client.join('').then(() => undefined, (error: unknown) => error)
  t.ok(error instanceof TestClientError)
  t.equal((error as TestClientError).code, 'VIX_ERR_INVALID_MESSAGE')
  t.equal((error as TestClientError).frame.kind, 'error')
})

onBothTransports(t, 'closed by the server: the client sees the end, and sending or closing afterwards is harmless', async (t, on) => {
  const client = await on.connect(app)
  const room = on.room('end')
  await client.join(room)
  const [session] = app.realtime.rooms.members(room)
  session.close(4000, 'bye')
  // A long-poll session learns it at its next poll: its id is gone (404).
  await t.rejects(client.next((f) => f.type === 'never'), /before the connection closed/)
  t.match(await client.closed, { code: on.transport === 'websocket' ? 4000 : SESSION_GONE })
  t.ok(client.isClosed)
  await client.send({ type: 'ignored' })
  t.same(await client.close(), await client.closed)
})

onBothTransports(t, 'an app closed under a session ends it', async (t, on) => {
  const own = await inProcessApp()
  const client = await on.connect(own)
  await own.close()
  await t.rejects(client.next((f) => f.type === 'never'), /before the connection closed/)
  t.ok(client.isClosed)
  await client.close()
})

t.test('the WebSocket transport is needed for transport websocket', async (t) => {
  const own = await inProcessApp({ websocket: false })
  t.teardown(() => own.close())
  await t.rejects(connect(own), /app\.injectWS is missing/)
  const polling = await connect(own, { transport: 'polling' })
  await polling.close()
})

t.test('long polling needs its routes', async (t) => {
  const own = await inProcessApp({ longPolling: false })
  t.teardown(() => own.close())
  await t.rejects(connect(own, { transport: 'polling' }), /GET \/ws\/poll answered 404/)
})

t.test('a text that is not a typed message is a raw frame', async (t) => {
  t.match(toFrame('[1,2]'), { kind: 'system', type: 'raw', payload: { text: '[1,2]' } })
  t.match(toFrame('{"type":"x","payload":{}}'), { type: 'x' })
})
