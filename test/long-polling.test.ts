import http from 'node:http'
import t from 'tap'
import Fastify from 'fastify'
import { ErrorCodes } from '../lib/errors.js'
import vixRealtime from '../plugins/index.js'
import { baseUrl, build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { chatMessage as message, httpGet, PollClient } from './helpers/poll-client.js'
import { delay, until } from './helpers/wait.js'

/** Long-poll sessions as a client sees them: creating one, polls held and answered, acks, the buffer, who may use it, what reaches it. */

const events = (frames: any[]): string[] => frames.filter((f) => f.kind === 'event').map((f) => f.payload.text)

t.test('GET /ws/poll creates a session: 128-bit id, empty messages, a cursor', async (t) => {
  const app = await build(t)
  const response = await app.inject({ url: '/ws/poll' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/json/)
  const body = response.json()
  t.match(body.session_id, /^[A-Za-z0-9_-]{22}$/)
  t.equal(Buffer.from(body.session_id, 'base64url').length, 16)
  t.same(body.messages, [])
  t.equal(body.next, 0)
  const session = app.realtime.getSession(body.session_id)
  t.equal(session?.transport.name, 'long-polling')
  t.equal(app.realtimeLongPolling.size, 1)
})

t.test('10,000 created ids are unique and 128-bit', async (t) => {
  const app = await build(t)
  const ids = new Set<string>()
  const malformed: string[] = []
  for (let i = 0; i < 10_000; i++) {
    const { poll } = app.realtimeLongPolling.create(undefined)
    if (!/^[A-Za-z0-9_-]{22}$/.test(poll.id) || Buffer.from(poll.id, 'base64url').length !== 16) malformed.push(poll.id)
    ids.add(poll.id)
  }
  t.same(malformed, [], 'every id is 22 base64url chars decoding to 16 bytes')
  t.equal(ids.size, 10_000, 'no two alike')
  t.equal(app.realtimeLongPolling.size, 10_000)
})

t.test('a held poll returns as soon as a WebSocket client publishes to the room', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const poller = await PollClient.create(app)
  await poller.join('general')
  const ws = await connect(app)
  await ws.join('general')
  const started = Date.now()
  const held = httpGet(`${baseUrl(app)}/ws/poll?session_id=${poller.sessionId}&ack=${poller.next}&wait=20000`)
  await until(() => app.realtimeLongPolling.get(poller.sessionId, undefined)?.waiter !== null)
  ws.send(message('general', 'hello from ws'))
  const { statusCode, body } = await held
  t.equal(statusCode, 200)
  t.ok(Date.now() - started < 10_000, 'answered well before wait')
  t.same(events(body.messages), ['hello from ws'])
  t.equal(body.dropped, 0)
  t.equal(body.next, poller.next + 1)
})

t.test('a poll times out with an empty list', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  const { statusCode, body } = await poller.poll({ wait: 30 })
  t.equal(statusCode, 200)
  t.same(body.messages, [])
  t.equal(body.next, 0)
  t.equal(body.dropped, 0)
})

t.test('wait is capped by maxWait', async (t) => {
  const app = await build(t, { longPolling: { wait: 10, maxWait: 20 } })
  const poller = await PollClient.create(app)
  const started = Date.now()
  const { body } = await poller.poll({ wait: 600_000 })
  t.same(body.messages, [])
  t.ok(Date.now() - started < 5000)
})

t.test('the default wait applies when the client gives none', async (t) => {
  const app = await build(t, { longPolling: { wait: 20 } })
  const poller = await PollClient.create(app)
  const response = await app.inject({ url: `/ws/poll?session_id=${poller.sessionId}&ack=0` })
  t.equal(response.statusCode, 200)
  t.same(response.json().messages, [])
})

t.test('poll and WebSocket clients share a room: both see every message in publish order', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const poller = await PollClient.create(app)
  await poller.join('general')
  const ws = await connect(app)
  await ws.join('general')

  for (let i = 0; i < 3; i++) {
    ws.send(message('general', `ws-${i}`, `w${i}`))
    await ws.waitFor((f) => f.kind === 'ack' && f.id === `w${i}`)
    const sent = await poller.send(message('general', `poll-${i}`, `p${i}`))
    t.equal(sent.statusCode, 202)
    t.same(sent.body, { id: `p${i}` })
  }
  const order = ['ws-0', 'poll-0', 'ws-1', 'poll-1', 'ws-2', 'poll-2']
  await ws.waitForCount((f) => f.kind === 'event', 6)
  t.same(events(ws.frames as any[]), order, 'the WebSocket client sees both transports interleaved')
  await poller.pollUntil((f) => f.kind === 'event', 6)
  t.same(events(poller.received), order, 'the poll client sees the same order')
  const acks = poller.received.filter((f) => f.kind === 'ack' && f.type === 'chat.message').map((f) => f.id)
  t.same(acks, ['p0', 'p1', 'p2'], 'a poll client gets acks for its ids, like a WebSocket one')
})

t.test('a malformed querystring is a 400 VIX_ERR_INVALID_REQUEST, not a Fastify code', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  for (const query of ['wait=soon', 'ack=-1', 'max=0']) {
    const response = await app.inject({ url: `/ws/poll?session_id=${poller.sessionId}&${query}` })
    t.equal(response.statusCode, 400, query)
    t.equal(response.json().code, ErrorCodes.INVALID_REQUEST, query)
    t.equal(response.json().path, `/${query.split('=')[0] as string}`, query)
  }
})

t.test('404 for an unknown or expired session', async (t) => {
  const app = await build(t)
  const poll = await app.inject({ url: '/ws/poll?session_id=AAAAAAAAAAAAAAAAAAAAAA' })
  t.equal(poll.statusCode, 404)
  t.equal(poll.json().code, ErrorCodes.SESSION_NOT_FOUND)
  const send = await app.inject({ method: 'POST', url: '/ws/send?session_id=AAAAAAAAAAAAAAAAAAAAAA', payload: { type: 'x' } })
  t.equal(send.statusCode, 404)
  t.equal(send.json().code, ErrorCodes.SESSION_NOT_FOUND)
})

t.test('409 for a second concurrent poll on one session', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  const held = httpGet(`${baseUrl(app)}/ws/poll?session_id=${poller.sessionId}&wait=20000`)
  await until(() => app.realtimeLongPolling.get(poller.sessionId, undefined)?.waiter !== null)
  const second = await poller.poll({ wait: 0 })
  t.equal(second.statusCode, 409)
  t.equal(second.body.code, ErrorCodes.SESSION_BUSY)
  await app.realtime.publish({ type: 'wake' })
  const first = await held
  t.equal(first.statusCode, 200)
  t.equal(first.body.messages[0].type, 'wake', 'a room-less publish reaches every session')
})

t.test('the lost-response case: frames not acked come again', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  await app.realtime.publish({ type: 'one' })
  await app.realtime.publish({ type: 'two' })

  // A real client that hangs up as soon as the answer starts arriving: the server did answer.
  await new Promise<void>((resolve, reject) => {
    const request = http.get(`${baseUrl(app)}/ws/poll?session_id=${poller.sessionId}&ack=0&wait=0`, (response) => {
      t.equal(response.statusCode, 200)
      response.destroy()
      resolve()
    })
    request.on('error', reject)
  })
  const again = await poller.poll({ ack: 0 })
  t.same(again.body.messages.map((f: any) => f.type), ['one', 'two'], 'same frames again without a new ack')
  t.equal(again.body.next, 2)

  await app.realtime.publish({ type: 'three' })
  const after = await poller.poll({ ack: 2 })
  t.same(after.body.messages.map((f: any) => f.type), ['three'], 'an ack frees what it confirms')

  const beyond = await poller.poll({ ack: 99 })
  t.same(beyond.body.messages, [], 'an ack past what was sent is clamped')
  t.equal(beyond.body.next, 3)
})

t.test('without ack, delivery is at-most-once: each poll confirms what was sent before', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  await app.realtime.publish({ type: 'one' })
  const first = await poller.poll({ ack: null })
  t.same(first.body.messages.map((f: any) => f.type), ['one'])
  const second = await poller.poll({ ack: null })
  t.same(second.body.messages, [], 'not sent again')
  t.equal(app.realtimeLongPolling.get(poller.sessionId, undefined)?.size, 0, 'freed from the queue')
})

t.test('max limits one answer; the rest follows', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  for (const type of ['a', 'b', 'c']) await app.realtime.publish({ type })
  const first = await poller.poll({ max: 2 })
  t.same(first.body.messages.map((f: any) => f.type), ['a', 'b'])
  const second = await poller.poll({ max: 2 })
  t.same(second.body.messages.map((f: any) => f.type), ['c'])
})

t.test('overflow drops the oldest frames and reports dropped until confirmed past them', async (t) => {
  const dropped: number[] = []
  const app = await build(t, { longPolling: { maxBuffer: 3 } })
  app.realtime.addObserver({ longPollDropped: (n) => dropped.push(n) })
  const poller = await PollClient.create(app)
  for (let i = 0; i < 5; i++) await app.realtime.publish({ type: `m${i}` })
  t.equal(app.realtime.getSession(poller.sessionId)?.transport.queued?.(), 3, 'bounded')
  const response = await poller.poll()
  t.same(response.body.messages.map((f: any) => f.type), ['m2', 'm3', 'm4'])
  t.equal(response.body.dropped, 2)
  t.equal(response.body.next, 5)
  t.same(dropped, [1, 1])
  const lost = await poller.poll({ ack: 0 })
  t.equal(lost.body.dropped, 2, 'a lost answer does not lose the drop count')
  const next = await poller.poll()
  t.equal(next.body.dropped, 0)
})

t.test('another identity can neither poll nor send on a session', async (t) => {
  const app = await build(t, {
    relayTypes: ['chat.message'],
    authenticate: (request: any) => request.headers['x-user'] === undefined ? null : { user: request.headers['x-user'] }
  })
  const alice = await PollClient.create(app, { 'x-user': 'alice' })
  t.same(app.realtime.getSession(alice.sessionId)?.identity, { user: 'alice' })
  await alice.join('general')
  const bob = new PollClient(app, alice.sessionId, { 'x-user': 'bob' })
  const poll = await bob.poll()
  t.equal(poll.statusCode, 404, 'same answer as an unknown session')
  t.equal(poll.body.code, ErrorCodes.SESSION_NOT_FOUND)
  const send = await bob.send(message('general', 'spoof'))
  t.equal(send.statusCode, 404)
  t.equal(send.body.code, ErrorCodes.SESSION_NOT_FOUND)
  const anonymous = await app.inject({ url: `/ws/poll?session_id=${alice.sessionId}` })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().code, ErrorCodes.UNAUTHORIZED)
  const anonymousCreate = await app.inject({ url: '/ws/poll' })
  t.equal(anonymousCreate.statusCode, 401)
  t.equal((await alice.poll()).statusCode, 200, 'the owner still can')
  t.equal((await alice.send(message('general', 'mine'))).statusCode, 202)
})

t.test('identityKey, a hub option, binds long-poll sessions', async (t) => {
  const app = await build(t, {
    relayTypes: ['chat.message'],
    authenticate: (request: any) => request.headers['x-user'] === undefined ? null : { id: request.headers['x-user'], name: request.headers['x-name'] },
    identityKey: (identity) => (identity as { id: string }).id
  })
  const ann = await PollClient.create(app, { 'x-user': 'u1', 'x-name': 'Ann' })
  t.equal(app.realtime.getSession(ann.sessionId)?.identityKey, 'u1', 'the session carries the key')
  const renamed = new PollClient(app, ann.sessionId, { 'x-user': 'u1', 'x-name': 'Ann B.' })
  t.equal((await renamed.poll()).statusCode, 200, 'the same key is the same client, whatever else changed')
  t.equal((await renamed.send({ type: 'room.join', payload: { room: 'general' } })).statusCode, 202)
  const other = new PollClient(app, ann.sessionId, { 'x-user': 'u2', 'x-name': 'Ann' })
  const refused = await other.poll()
  t.equal(refused.statusCode, 404, 'another key is another client, even with the same rest')
  t.equal(refused.body.code, ErrorCodes.SESSION_NOT_FOUND)
  t.equal((await other.send(message('general', 'spoof'))).statusCode, 404)

  // It is the hub's option now: the transport refuses it.
  const misplaced = Fastify()
  t.teardown(() => misplaced.close())
  await t.rejects(async () => { await misplaced.register(vixRealtime, { longPolling: { identityKey: () => 'x' } as any }) }, { code: ErrorCodes.INVALID_OPTION, message: /"identityKey"/ })
})

t.test('raw frames from the application reach a poll client as JSON', async (t) => {
  const app = await build(t)
  app.realtime.on('echo', (session) => {
    session.sendSerialized('echo: plain text')
    session.sendSerialized(Buffer.from([1, 2, 3]))
  })
  const poller = await PollClient.create(app)
  await poller.send({ type: 'echo' })
  const { body } = await poller.poll()
  t.equal(body.messages[0], 'echo: plain text')
  t.equal(body.messages[1].type, 'binary')
  t.equal(body.messages[1].payload.data, Buffer.from([1, 2, 3]).toString('base64'))
})

t.test('resolveRecipients adds long-poll recipients besides the room members, never twice', async (t) => {
  let extra: string[] = []
  const app = await build(t, { relayTypes: ['chat.message'], longPolling: { resolveRecipients: () => extra } })
  const member = await PollClient.create(app)
  await member.join('general')
  const outsider = await PollClient.create(app)
  const stranger = await PollClient.create(app)
  const ws = await connect(app)
  await ws.join('general')
  const wsSession = [...app.realtime.sessions.values()].find((s) => s.transport.name === 'websocket')
  extra = [outsider.sessionId, member.sessionId, outsider.sessionId, 'unknown-id', wsSession?.id as string]

  await app.realtime.publish({ room: 'general', type: 'news', payload: { n: 1 } })
  t.same((await outsider.poll()).body.messages.map((f: any) => f.type), ['news'], 'resolved in')
  t.same((await member.poll()).body.messages.map((f: any) => f.type), ['news'], 'a member gets it once')
  t.same((await stranger.poll()).body.messages, [], 'not resolved, not a member')
  await ws.waitForCount((f) => f.kind === 'event', 1)
  await delay(20)
  t.equal(ws.frames.filter((f: any) => f.kind === 'event').length, 1, 'WebSocket sessions are not resolved by this option')

  extra = undefined as unknown as string[]
  await app.realtime.publish({ room: 'general', type: 'quiet' })
  t.same((await outsider.poll()).body.messages, [], 'a resolver may name nobody')
  t.same((await member.poll()).body.messages.map((f: any) => f.type), ['quiet'])
})

t.test('a resolver that throws is logged and ignored', async (t) => {
  const app = await build(t, { longPolling: { resolveRecipients: () => { throw new Error('bad resolver') } } })
  const member = await PollClient.create(app)
  await member.join('general')
  const sent = await app.realtime.publish({ room: 'general', type: 'news' })
  t.equal(sent.type, 'news', 'the publish resolves despite the resolver')
  t.same((await member.poll()).body.messages.map((f: any) => f.type), ['news'])
})

t.test('observers count sessions, polls, enqueued and drained frames', async (t) => {
  const counts = { created: 0, polled: 0, enqueued: 0, drained: 0 }
  const app = await build(t)
  app.realtime.addObserver({
    longPollSessionCreated: () => { counts.created++ },
    longPollPolled: () => { counts.polled++ },
    longPollEnqueued: (n) => { counts.enqueued += n },
    longPollDrained: (n) => { counts.drained += n }
  })
  const poller = await PollClient.create(app)
  await app.realtime.publish({ type: 'a' })
  await app.realtime.publish({ type: 'b' })
  await poller.poll()
  await poller.poll()
  t.same(counts, { created: 1, polled: 2, enqueued: 2, drained: 2 })
  t.equal(app.realtimeLongPolling.buffered(), 0)
})
