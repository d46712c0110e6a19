import t from 'tap'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { Hub } from '../plugins/index.js'
import { build } from './helpers/app.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { PollClient } from './helpers/poll-client.js'
import { connect, type TestClient } from './helpers/ws-client.js'

// A rate this slow refills nothing while a test runs: the burst is all a session has.
const slow = (burst: number, closeAfter?: number): { rate: number, burst: number, closeAfter?: number } => ({ rate: 0.01, burst, closeAfter })
const KEY = 'limits-test-publish-key-0123'
const isEvent = (text: string) => (f: any): boolean => f.kind === 'event' && f.payload?.text === text
const rateErrors = (client: TestClient): any[] => client.frames.filter((f: any) => f.kind === 'error' && f.payload?.code === 'VIX_ERR_RATE_LIMITED')

async function pair (app: FastifyInstance, room = 'r'): Promise<[TestClient, TestClient]> {
  const a = await connect(app)
  const b = await connect(app)
  await a.join(room)
  await b.join(room)
  return [a, b]
}

t.test('session rate over WebSocket: frames past the burst get VIX_ERR_RATE_LIMITED with their id and are not processed; one that keeps on is closed 1008; the room neighbour keeps receiving', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], limits: { sessionRate: slow(5, 20) } })
  const [flooder, neighbour] = await pair(app)
  // The join took one token: four left.
  for (let i = 0; i < 10; i++) flooder.send({ id: `f${i}`, room: 'r', type: 'chat.message', payload: { text: `flood ${i}` } })
  const errors = await flooder.waitForCount((f) => f.kind === 'error', 6)
  t.same(errors.map((f) => f.id), ['f4', 'f5', 'f6', 'f7', 'f8', 'f9'], 'each refused frame is answered with its own id, in order')
  t.match(errors[0], { kind: 'error', type: 'error', payload: { code: 'VIX_ERR_RATE_LIMITED', message: /0\.01 messages\/s \(burst 5\)/ } })
  await neighbour.waitFor(isEvent('flood 3'))
  const published = await app.realtime.publish({ room: 'r', type: 'chat.message', payload: { text: 'meanwhile' } })
  await neighbour.waitFor((f) => f.id === published.id)
  t.equal(neighbour.frames.filter((f: any) => f.kind === 'event' && /^flood/.test(f.payload.text)).length, 4, 'only the accepted frames were relayed')

  // It keeps on: past closeAfter refusals (20) without letting its bucket refill, it is closed.
  for (let i = 10; i < 40; i++) flooder.send({ id: `f${i}`, room: 'r', type: 'chat.message', payload: { text: `flood ${i}` } })
  const closed = await flooder.closed
  t.same(closed, { code: 1008, reason: 'rate limit exceeded' })
  t.equal(rateErrors(flooder).length, 20, 'refused frames up to closeAfter were answered')

  neighbour.send({ id: 'n1', room: 'r', type: 'chat.message', payload: { text: 'still here' } })
  t.match(await neighbour.waitFor((f) => f.kind === 'ack' && f.id === 'n1'), { type: 'chat.message' }, 'the neighbour, with its own bucket, is served')
  const metrics = await scrapeMetrics(app)
  t.equal(metrics.value('vix_limit_rejections_total', { limit: 'session_rate' }), 21, 'every refused frame is counted (20 answered + the one that closed it)')
})

t.test('a session that pauses long enough to refill its bucket starts its refusals count again', async (t) => {
  let now = 0
  const hub = new Hub({ limits: { sessionRate: { rate: 10, burst: 2, closeAfter: 2 } } })
  const limits = new (hub.limits.constructor as any)(hub.limits.options, () => {}, () => now)
  const session = { id: 's' } as any
  t.same([limits.frame(session), limits.frame(session), limits.frame(session), limits.frame(session)], ['accept', 'accept', 'refuse', 'refuse'])
  now += 100 // one token back, not a full bucket
  t.equal(limits.frame(session), 'accept')
  t.equal(limits.frame(session), 'close', 'the third refusal without a refill is past closeAfter 2')
  now += 1000
  t.same([limits.frame(session), limits.frame(session), limits.frame(session)], ['accept', 'accept', 'refuse'], 'after a full refill the count starts again')
  t.equal(limits.rateLimited(session).retryAfter, 1, 'Retry-After is at least one second')
})

t.test('session rate over HTTP: POST /ws/send past the burst answers 429 with Retry-After; a poll session that keeps on is ended', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], limits: { sessionRate: slow(2, 2) } })
  const listener = await connect(app)
  await listener.join('r')
  const poll = await PollClient.create(app)
  await poll.join('r')
  t.equal((await poll.send({ room: 'r', type: 'chat.message', payload: { text: 'one' } })).statusCode, 202)
  await listener.waitFor(isEvent('one'))
  const send = async (): Promise<any> => await app.inject({
    method: 'POST',
    url: `/ws/send?session_id=${poll.sessionId}`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ room: 'r', type: 'chat.message', payload: { text: 'over' } })
  })
  const refused = await send()
  t.equal(refused.statusCode, 429)
  t.equal(refused.json().code, 'VIX_ERR_RATE_LIMITED')
  t.ok(Number(refused.headers['retry-after']) >= 1, `Retry-After: ${String(refused.headers['retry-after'])}`)
  t.equal((await send()).statusCode, 429)
  t.equal((await send()).statusCode, 429, 'the third refusal closes the session')
  t.equal((await send()).json().code, 'VIX_ERR_SESSION_NOT_FOUND', 'the session is gone')
  t.notOk(listener.frames.some(isEvent('over')), 'no refused send was relayed')
  const other = await PollClient.create(app)
  await other.join('r')
  t.equal((await other.send({ room: 'r', type: 'chat.message', payload: { text: 'two' } })).statusCode, 202)
  await listener.waitFor(isEvent('two'))
})

t.test('per client IP: long-poll session creation and server-side HTTP publish share a bucket (429, Retry-After); other IPs are served', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], limits: { ipRate: { rate: 0.01, burst: 3 } }, longPolling: { serverPublish: { key: KEY } } })
  const listener = await connect(app)
  await listener.join('r')
  const create = async (ip: string): Promise<any> => await app.inject({ url: '/ws/poll', remoteAddress: ip })
  const publish = async (ip: string, text: string): Promise<any> => await app.inject({
    method: 'POST',
    url: '/ws/send',
    remoteAddress: ip,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    payload: JSON.stringify({ room: 'r', type: 'chat.message', payload: { text } })
  })
  t.equal((await create('198.51.100.1')).statusCode, 200)
  t.equal((await create('198.51.100.1')).statusCode, 200)
  t.equal((await publish('198.51.100.1', 'third')).statusCode, 202)
  const refused = await create('198.51.100.1')
  t.equal(refused.statusCode, 429)
  t.match(refused.json(), { code: 'VIX_ERR_RATE_LIMITED', message: /client IP/ })
  t.ok(Number(refused.headers['retry-after']) >= 1)
  const refusedPublish = await publish('198.51.100.1', 'fourth')
  t.equal(refusedPublish.statusCode, 429)
  t.ok(Number(refusedPublish.headers['retry-after']) >= 1, 'a refused publish says when to come back')
  t.equal((await publish('198.51.100.2', 'other ip')).statusCode, 202, 'another IP has its own bucket')
  await listener.waitFor(isEvent('other ip'))
  t.ok(listener.frames.some(isEvent('third')))
  t.notOk(listener.frames.some(isEvent('fourth')), 'the refused publish was not delivered')
  const metrics = await scrapeMetrics(app)
  t.equal(metrics.value('vix_limit_rejections_total', { limit: 'ip_rate' }), 2)
})

t.test('rooms per session: a join past maxRoomsPerSession gets VIX_ERR_LIMIT_EXCEEDED and is not made', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], limits: { maxRoomsPerSession: 2 } })
  const a = await connect(app)
  const b = await connect(app)
  await a.join('one')
  await a.join('two')
  a.send({ id: 'j3', type: 'room.join', payload: { room: 'three' } })
  const refused = await a.waitFor((f) => f.kind === 'error' && f.id === 'j3')
  t.match(refused.payload, { code: 'VIX_ERR_LIMIT_EXCEEDED', message: /at most 2 rooms per session/ })
  const session = [...app.realtime.sessions.values()][0]
  t.same([...session.rooms].sort(), ['one', 'two'], 'the join was not made')
  t.equal(app.realtime.rooms.has('three'), false)
  t.match(await a.join('one'), { kind: 'ack' }, 'joining a room it is in again is not a new room')
  await b.join('three')
  await b.join('one')
  b.send({ room: 'one', type: 'chat.message', payload: { text: 'hello one' } })
  await a.waitFor(isEvent('hello one'))
  t.equal((await scrapeMetrics(app)).value('vix_limit_rejections_total', { limit: 'rooms_per_session' }), 1)
})

t.test('members per room: a join past maxMembersPerRoom gets VIX_ERR_LIMIT_EXCEEDED (WebSocket frame, HTTP 429) and is not made', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], limits: { maxMembersPerRoom: 2 } })
  const [a, b] = await pair(app, 'r')
  const c = await connect(app)
  c.send({ id: 'jc', type: 'room.join', payload: { room: 'r' } })
  const refused = await c.waitFor((f) => f.kind === 'error' && f.id === 'jc')
  t.match(refused.payload, { code: 'VIX_ERR_LIMIT_EXCEEDED', message: /room "r" has 2 members/ })
  const poll = await PollClient.create(app)
  const sent = await poll.send({ type: 'room.join', payload: { room: 'r' } })
  t.equal(sent.statusCode, 429)
  t.equal(sent.body.code, 'VIX_ERR_LIMIT_EXCEEDED')
  t.equal(app.realtime.rooms.size('r'), 2)
  b.send({ room: 'r', type: 'chat.message', payload: { text: 'members only' } })
  await a.waitFor(isEvent('members only'))
  c.send({ id: 'c-pub', room: 'r', type: 'chat.message', payload: { text: 'not a member' } })
  t.match(await c.waitFor((f) => f.kind === 'error' && f.id === 'c-pub'), { payload: { code: 'VIX_ERR_NOT_IN_ROOM' } })
  b.close()
  await b.closed
  t.match(await c.join('r'), { kind: 'ack' }, 'a place in the room frees when a member leaves')
})

t.test('per-type declarations: maxSize and rate are enforced per session, counted and shown in the catalogue', async (t) => {
  let handled = 0
  const app = await build(t, { relayTypes: ['chat.message'] }, (app) => {
    app.realtime.on('note', { schema: Type.Object({ text: Type.String() }), maxSize: 100, rate: { rate: 0.01, burst: 2 }, description: 'A note' }, () => { handled++ })
    app.realtime.on('chat.message', { rate: { rate: 0.01, burst: 1 } })
  })
  const [a, b] = await pair(app)
  a.send({ id: 'big', type: 'note', payload: { text: 'x'.repeat(200) } })
  t.match(await a.waitFor((f) => f.id === 'big'), { kind: 'error', payload: { code: 'VIX_ERR_PAYLOAD_TOO_LARGE', message: /larger than 100 bytes/ } })
  for (const id of ['n1', 'n2', 'n3']) a.send({ id, type: 'note', payload: { text: 'small' } })
  t.match(await a.waitFor((f) => f.id === 'n3'), { kind: 'error', payload: { code: 'VIX_ERR_RATE_LIMITED', message: /"note" messages/ } })
  t.equal(handled, 2, 'the oversized and the over-rate frames reached no handler')
  for (const id of ['m1', 'm2']) b.send({ id, type: 'note', payload: { text: 'mine' } })
  await b.waitForCount((f) => f.kind === 'ack' && f.type === 'note', 2)
  t.equal(handled, 4, 'another session has its own per-type bucket')

  // A relay type with a declared rate: the second one is refused before it is relayed.
  a.send({ id: 'c1', room: 'r', type: 'chat.message', payload: { text: 'first' } })
  a.send({ id: 'c2', room: 'r', type: 'chat.message', payload: { text: 'second' } })
  t.match(await a.waitFor((f) => f.id === 'c2' && f.kind === 'error'), { payload: { code: 'VIX_ERR_RATE_LIMITED' } })
  await b.waitFor(isEvent('first'))
  t.notOk(b.frames.some(isEvent('second')))

  const poll = await PollClient.create(app)
  const tooBig = await poll.send({ type: 'note', payload: { text: 'y'.repeat(200) } })
  t.equal(tooBig.statusCode, 413, 'over HTTP the same declaration answers 413')

  const document = (await app.inject('/docs/json')).json()
  const note = document.paths['/ws'].get['x-vix-messages'].find((m: { type: string }) => m.type === 'note')
  t.match(note, { type: 'note', maxSize: 100, rate: { rate: 0.01, burst: 2 }, description: 'A note' }, 'the catalogue shows the declaration')
  const metrics = await scrapeMetrics(app)
  t.equal(metrics.value('vix_limit_rejections_total', { limit: 'type_size' }), 2)
  t.equal(metrics.value('vix_limit_rejections_total', { limit: 'type_rate' }), 2)
})

t.test('bad limits fail at construction with VIX_ERR_INVALID_OPTION naming the option', async (t) => {
  const invalid = (name: RegExp) => ({ code: 'VIX_ERR_INVALID_OPTION', message: name })
  t.throws(() => new Hub({ limits: { maxConnections: 0 } }), invalid(/limits\.maxConnections/))
  t.throws(() => new Hub({ limits: { maxConnectionsPerIp: 1.5 } }), invalid(/limits\.maxConnectionsPerIp/))
  t.throws(() => new Hub({ limits: { sessionRate: { rate: -1 } } }), invalid(/limits\.sessionRate\.rate/))
  t.throws(() => new Hub({ limits: { sessionRate: { rate: 1, burst: 0 } } }), invalid(/limits\.sessionRate\.burst/))
  t.throws(() => new Hub({ limits: { sessionRate: { rate: 1, closeAfter: 0 } } }), invalid(/closeAfter/))
  t.throws(() => new Hub({ limits: { ipRate: null as any } }), invalid(/limits\.ipRate/))
  t.throws(() => new Hub({ limits: { maxRooms: 3 } as any }), invalid(/limits\.maxRooms.*unknown limit/))
  t.throws(() => new Hub({ limits: 5 as any }), invalid(/"limits"/))
  t.throws(() => new Hub().on('x', { maxSize: 0 }), invalid(/x\.maxSize/))
  t.throws(() => new Hub().on('x', { rate: { rate: 0 } }), invalid(/x\.rate\.rate/))
  const hub = new Hub({ limits: { sessionRate: { rate: 2.5 } } })
  t.same(hub.limits.options.sessionRate, { rate: 2.5, burst: 3, closeAfter: 1000 }, 'burst defaults to the rate, rounded up')
})
