import t from 'tap'
import Fastify from 'fastify'
import WebSocket from 'ws'
import vixRealtime from '../plugins/index.js'
import { ssePlugin } from '../plugins/sse.js'
import { hubPlugin } from '../plugins/hub.js'
import { VixClient } from '../lib/client/index.js'
import { resolveSseOptions } from '../lib/sse/options.js'
import { decodeCursor, encodeCursor } from '../lib/sse/cursor.js'
import { baseUrl, build } from './helpers/app.js'
import { SseReader } from './helpers/sse.js'
import { waitFor } from './helpers/wait.js'

// Edges of the SSE transport: its options, the cursor's form, frames that are
// not typed JSON, refused joins at open, sends without long polling, and the
// client when the stream is refused or the server goes away under a fallback.

t.test('options are checked at boot; the cursor round-trips names with , and @', async (t) => {
  t.throws(() => resolveSseOptions({ prefix: '/ws/' }), /prefix/)
  t.throws(() => resolveSseOptions({ heartbeat: -1 }), /heartbeat/)
  t.throws(() => resolveSseOptions({ retyr: 1 } as any), /retyr/)
  t.same(resolveSseOptions({}), { prefix: '/ws', heartbeat: 15_000, retry: 2000 })
  const cursor = encodeCursor(['a,b', 'c@d', 'e'], new Map([['a,b', '4.Xb3k']]))
  t.equal(cursor, 'a%2Cb@4.Xb3k,c%40d,e')
  t.same([...(decodeCursor(cursor) ?? [])], [['a,b', '4.Xb3k'], ['c@d', undefined], ['e', undefined]])
  t.same([...(decodeCursor('') ?? [])], [])
  for (const bad of ['%E0%A4%A', 'a@1.X', '@1.Xb3k', 'x'.repeat(9000)]) t.equal(decodeCursor(bad), null, `${bad.slice(0, 12)} is malformed`)
})

t.test('raw and binary frames of the application, and a refused join at open', async (t) => {
  const app = await build(t, { authorizeJoin: (_session, room) => room !== 'secret' })
  app.realtime.onOpen((session) => {
    session.sendSerialized('echo: hi\nthere')
    session.sendSerialized(Buffer.from([1, 2, 3]))
  })
  const reader = await SseReader.connect(app, '?rooms=open,secret', { 'last-event-id': 'secret@1.Xb3k' })
  t.teardown(() => { reader.close() })
  const resume = reader.frames[0].payload.resume
  t.match(resume.rooms, [{ room: 'secret', recovered: false, code: 'VIX_ERR_FORBIDDEN' }])
  await reader.waitFor((f) => f.kind === 'error' && f.payload.code === 'VIX_ERR_FORBIDDEN')
  t.ok(reader.frames.includes('echo: hi\nthere'), 'a raw text frame is a JSON string, its line break inside the data')
  t.match(reader.frames.find((f) => f.type === 'binary'), { kind: 'system', payload: { data: Buffer.from([1, 2, 3]).toString('base64') } })
  await reader.waitFor((f) => f.type === 'room.join' && f.room === 'open')
})

t.test('without long polling the SSE part answers POST /ws/send for its sessions', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], longPolling: false })
  const reader = await SseReader.connect(app, '?rooms=general')
  t.teardown(() => { reader.close() })
  await reader.waitFor((f) => f.type === 'room.join')
  const sent = await reader.send(app, { id: 'c-1', type: 'chat.message', room: 'general', payload: { text: 'hi' } })
  t.same([sent.status, sent.body], [202, { id: 'c-1' }])
  await reader.waitFor((f) => f.kind === 'event' && f.id === 'c-1')
  const unknown = await fetch(`${baseUrl(app)}/ws/send?session_id=nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  t.equal(unknown.status, 404)
  t.equal(app.realtimeSse.get(reader.sessionId, { other: true }), undefined, 'another identity finds nothing')
})

t.test('composed by hand, without long polling: the SSE part alone', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(hubPlugin)
  await app.register(ssePlugin, { heartbeat: 0 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const reader = await SseReader.connect(app)
  t.teardown(() => { reader.close() })
  t.equal(app.realtimeSse.size, 1)
})

t.test('the client: a refused stream is a failed attempt with its status; a fallback whose server goes away returns to WebSocket', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], websocket: false, sse: false })
  const only = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, transports: ['sse'], reconnect: false, autoUnref: true })
  t.teardown(() => { only.close() })
  const errors: any[] = []
  only.on('error', (error) => { errors.push(error) })
  await t.rejects(only.connect())
  t.match(errors[0], { code: 'VIX_ERR_CLIENT_CONNECT', status: 404 })

  const fallback = await build(t, { relayTypes: ['chat.message'], websocket: false })
  const client = new VixClient({ url: `${baseUrl(fallback, 'ws')}/ws`, WebSocket, reconnect: { minDelay: 20, maxDelay: 50, jitter: 0 }, autoUnref: true })
  t.teardown(() => { client.close() })
  const transports: string[] = []
  client.on('transport', (to: string) => { transports.push(to) })
  await client.connect()
  t.equal(client.transport, 'sse')
  await fallback.close()
  await waitFor(() => transports.includes('websocket'), { timeout: 5000, message: 'back to the first transport' })
  t.same(transports, ['sse', 'websocket'], 'the server is down: the next attempt is WebSocket again')
})

t.test('the umbrella leaves SSE out with sse: false', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(vixRealtime, { sse: false })
  t.equal((await app.inject('/ws/sse')).statusCode, 404)
})
