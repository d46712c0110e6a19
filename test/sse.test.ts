import t from 'tap'
import { join } from 'node:path'
import { build } from './helpers/app.js'
import { SseReader } from './helpers/sse.js'
import { connect } from './helpers/ws-client.js'
import { until } from './helpers/wait.js'

const chat = (room: string, text: string, id?: string): Record<string, unknown> => ({ ...(id === undefined ? {} : { id }), type: 'chat.message', room, payload: { text } })

t.test('curl -N view: headers, retry:, the session frame first, id: on stored events, heartbeats', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], store: { path: join(t.testdir(), 'm.db') }, sse: { heartbeat: 50, retry: 1500 } })
  const reader = await SseReader.connect(app, '?rooms=general')
  t.teardown(() => { reader.close() })
  const headers = reader.response.headers
  t.equal(reader.response.statusCode, 200)
  t.match(headers['content-type'], /^text\/event-stream/)
  t.equal(headers['cache-control'], 'no-cache')
  t.equal(headers['x-accel-buffering'], 'no')
  t.equal(headers['content-encoding'], undefined, 'never compressed')
  t.equal(headers['transfer-encoding'], undefined, 'HTTP/1.1: no chunk framing, the body ends with the connection')
  t.equal(headers.connection, 'close')
  t.match(reader.raw, /^retry: 1500\ndata: \{"kind":"system","type":"session.opened"/, 'retry: then the session frame')
  t.match(reader.sessionId, /^[A-Za-z0-9_-]{22}$/)
  const joined = await reader.waitFor((f) => f.kind === 'ack' && f.type === 'room.join')
  t.equal(joined.room, 'general')

  const ws = await connect(app)
  ws.send({ type: 'room.join', payload: { room: 'general' } })
  await ws.waitFor((f) => f.type === 'room.join')
  ws.send(chat('general', 'hello', 'm-1'))
  const event = await reader.waitFor((f) => f.type === 'chat.message')
  t.equal(event.payload.text, 'hello')
  const withId = reader.events.find((e) => e.frame.type === 'chat.message')
  t.equal(withId?.id, `general@${event.pos as string}`, 'id: is the cursor of the stream\'s rooms')
  await reader.waitUntil(() => reader.comments.length >= 2)
  t.match(reader.raw, /\n:\n\n/, 'heartbeat comment lines')
  ws.close()
})

t.test('POST /ws/send with the stream\'s session: joins, publishes, leaves; refusals are coded answers', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const reader = await SseReader.connect(app)
  t.teardown(() => { reader.close() })
  const refused = await reader.send(app, chat('general', 'not yet'))
  t.equal(refused.status, 403)
  t.equal(refused.body.code, 'VIX_ERR_NOT_IN_ROOM')
  t.equal((await reader.send(app, { id: 'j1', type: 'room.join', payload: { room: 'general' } })).status, 202)
  await reader.waitFor((f) => f.type === 'room.join' && f.id === 'j1')
  const sent = await reader.send(app, chat('general', 'over sse', 'c-1'))
  t.equal(sent.status, 202)
  t.equal(sent.body.id, 'c-1')
  await reader.waitFor((f) => f.kind === 'event' && f.id === 'c-1')
  await reader.waitFor((f) => f.kind === 'ack' && f.id === 'c-1')
  t.equal((await reader.send(app, { type: 'room.leave', payload: { room: 'general' } })).status, 202)
  await reader.waitFor((f) => f.type === 'room.leave')
  t.equal(app.realtime.rooms.size('general'), 0)
  const other = await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/ws/send?session_id=nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"room.join","payload":{"room":"a"}}' })
  t.equal(other.status, 404)
})

t.test('the stream closing ends the session: out of every room', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const reader = await SseReader.connect(app, '?rooms=a,b')
  await reader.waitForCount((f) => f.type === 'room.join', 2)
  t.equal(app.realtime.rooms.size('a'), 1)
  reader.close()
  await until(() => app.realtime.rooms.size('a') === 0 && app.realtime.rooms.size('b') === 0)
  t.pass('left every room')
})

t.test('shutdown: server.going_away, a retry:, then the end of the stream', async (t) => {
  const app = await build(t, { goingAwayRetryAfter: 700 })
  const reader = await SseReader.connect(app, '?rooms=a')
  await app.close()
  await reader.waitUntil(() => reader.ended)
  t.equal(reader.frames.at(-1).type, 'server.going_away')
  t.equal(reader.retry, 700)
})
