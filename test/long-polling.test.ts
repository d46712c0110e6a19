import http from 'node:http'
import t from 'tap'
import Fastify from 'fastify'
import { ErrorCodes } from '../lib/errors.js'
import vixRealtime, { longPollingPlugin } from '../plugins/index.js'
import { baseUrl, build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { PollClient } from './helpers/poll-client.js'
import { delay, waitFor } from './helpers/wait.js'

const message = (room: string, text: string, id?: string): Record<string, unknown> =>
  id === undefined ? { room, type: 'chat.message', payload: { text } } : { id, room, type: 'chat.message', payload: { text } }

const events = (frames: any[]): string[] => frames.filter((f) => f.kind === 'event').map((f) => f.payload.text)

/** Wait until `check` holds (polling a condition the test cannot await directly). */
async function until (check: () => boolean, timeoutMs = 3000): Promise<void> {
  await waitFor(check, { timeout: timeoutMs, message: 'condition not met in time' })
}

/** A real HTTP GET on its own connection; resolves with status and parsed body. */
async function httpGet (url: string, signal?: AbortSignal): Promise<{ statusCode: number, body: any, headers: http.IncomingHttpHeaders }> {
  return await new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, signal }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => { resolve({ statusCode: response.statusCode as number, body: JSON.parse(text), headers: response.headers }) })
      response.on('error', reject)
    })
    request.on('error', reject)
  })
}

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

t.test('POST /ws/send without session_id is a server-side publish', async (t) => {
  const app = await build(t)
  const ws = await connect(app)
  await ws.join('news')
  const response = await app.inject({ method: 'POST', url: '/ws/send', payload: { room: 'news', type: 'headline', payload: { title: 'hi' } } })
  t.equal(response.statusCode, 202)
  const event = await ws.waitFor((f) => f.kind === 'event')
  t.equal(event.id, response.json().id, 'the stamped id')
  t.equal(event.payload.title, 'hi')
  const withId = await app.inject({ method: 'POST', url: '/ws/send', payload: { id: 'srv-1', room: 'news', type: 'headline' } })
  t.same(withId.json(), { id: 'srv-1' }, 'a given id is kept')
  t.equal((await ws.waitFor((f) => f.kind === 'event' && f.id === 'srv-1')).type, 'headline')
})

t.test('server-side publish obeys authorizePublish(null, message)', async (t) => {
  const seen: unknown[] = []
  const app = await build(t, {
    authorizePublish: (session, msg) => { seen.push(session); return msg.room !== 'admin' }
  })
  const denied = await app.inject({ method: 'POST', url: '/ws/send', payload: { room: 'admin', type: 'x' } })
  t.equal(denied.statusCode, 403)
  t.equal(denied.json().code, ErrorCodes.FORBIDDEN)
  const allowed = await app.inject({ method: 'POST', url: '/ws/send', payload: { room: 'lobby', type: 'x' } })
  t.equal(allowed.statusCode, 202)
  t.same(seen, [null, null])
})

t.test('a failing server-side publish is a 500 that says nothing about its cause', async (t) => {
  const app = await build(t)
  app.realtime.persistence = {
    shouldPersist: () => true,
    persist: async () => { throw new Error('disk on fire') },
    joinWithRecovery: (_s, _r, _since, join) => { join(); return { recovered: false, replayed: 0, latestId: null } }
  }
  const response = await app.inject({ method: 'POST', url: '/ws/send', payload: { room: 'r', type: 'x' } })
  t.equal(response.statusCode, 500)
  t.equal(response.json().code, ErrorCodes.INTERNAL)
  t.notMatch(response.body, /disk on fire/)
})

t.test('a poll session gets error answers, not error frames, for what it sends', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  app.realtime.on('boom', () => { throw new Error('handler bug') })
  const poller = await PollClient.create(app)

  const notInRoom = await poller.send(message('general', 'hi'))
  t.equal(notInRoom.statusCode, 403)
  t.equal(notInRoom.body.code, ErrorCodes.NOT_IN_ROOM)

  const unknown = await poller.send({ type: 'nope' })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.body.code, ErrorCodes.UNKNOWN_TYPE)

  const failed = await poller.send({ type: 'boom' })
  t.equal(failed.statusCode, 500)
  t.equal(failed.body.code, ErrorCodes.INTERNAL)

  const badPayload = await poller.send({ type: 'room.join', payload: { room: '' } })
  t.equal(badPayload.statusCode, 400)
  t.equal(badPayload.body.code, ErrorCodes.INVALID_MESSAGE)
  t.equal(badPayload.body.path, '/payload/room')

  const { body } = await poller.poll()
  t.same(body.messages, [], 'no error frame is queued: the HTTP answer carried it')
})

t.test('400 VIX_ERR_INVALID_MESSAGE with the path, as the WebSocket error frame says', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const poller = await PollClient.create(app)
  const ws = await connect(app)
  const bad = { type: 'chat.message', room: 'general', payload: 'not an object' }

  const http400 = await poller.send(bad)
  ws.send(bad)
  const frame = await ws.waitFor((f) => f.kind === 'error')
  t.equal(http400.statusCode, 400)
  t.equal(http400.body.code, ErrorCodes.INVALID_MESSAGE)
  t.equal(http400.body.path, '/payload')
  t.equal(http400.body.path, frame.payload.path, 'same path as over WebSocket')
  t.equal(http400.body.message, frame.payload.message, 'same message as over WebSocket')

  const badType = await poller.send({ type: 'has space' })
  t.equal(badType.statusCode, 400)
  t.equal(badType.body.path, '/type')

  const noType = await poller.send({ payload: {} })
  t.equal(noType.statusCode, 400)
  t.equal(noType.body.code, ErrorCodes.INVALID_MESSAGE)
  t.equal(noType.body.path, '/type')

  const notJson = await poller.send('{oops')
  t.equal(notJson.statusCode, 400)
  t.equal(notJson.body.code, ErrorCodes.INVALID_MESSAGE)

  const notObject = await poller.send('[1,2]')
  t.equal(notObject.statusCode, 400)
  t.equal(notObject.body.path, '/')

  const publishBad = await app.inject({ method: 'POST', url: '/ws/send', payload: { type: 'x', extra: 1 } })
  t.equal(publishBad.statusCode, 400)
  t.equal(publishBad.json().code, ErrorCodes.INVALID_MESSAGE)

  const publishRaw = await app.inject({ method: 'POST', url: '/ws/send', payload: { hello: 1 } })
  t.equal(publishRaw.statusCode, 400)
  t.equal(publishRaw.json().path, '/type')

  const wrongType = await app.inject({ method: 'POST', url: '/ws/send', headers: { 'content-type': 'text/plain' }, payload: 'hi' })
  t.equal(wrongType.statusCode, 400)
  t.equal(wrongType.json().code, ErrorCodes.INVALID_MESSAGE)

  const empty = await app.inject({ method: 'POST', url: '/ws/send', headers: { 'content-type': 'application/json' }, payload: '' })
  t.equal(empty.statusCode, 400)
  t.equal(empty.json().code, ErrorCodes.INVALID_MESSAGE)
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

t.test('413 when the body is larger than maxMessageSize', async (t) => {
  const app = await build(t, { longPolling: { maxMessageSize: 100 } })
  const poller = await PollClient.create(app)
  const response = await poller.send({ type: 'x', payload: { text: 'a'.repeat(200) } })
  t.equal(response.statusCode, 413)
  t.equal(response.body.code, ErrorCodes.PAYLOAD_TOO_LARGE)
  t.match(response.body.message, /100 bytes/)
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
  await app.inject({ method: 'POST', url: '/ws/send', payload: { type: 'wake' } })
  const first = await held
  t.equal(first.statusCode, 200)
  t.equal(first.body.messages[0].type, 'wake', 'a room-less publish reaches every session')
})

t.test('the lost-response case: frames not acked come again', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  await app.inject({ method: 'POST', url: '/ws/send', payload: { type: 'one' } })
  await app.inject({ method: 'POST', url: '/ws/send', payload: { type: 'two' } })

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

  await app.inject({ method: 'POST', url: '/ws/send', payload: { type: 'three' } })
  const after = await poller.poll({ ack: 2 })
  t.same(after.body.messages.map((f: any) => f.type), ['three'], 'an ack frees what it confirms')

  const beyond = await poller.poll({ ack: 99 })
  t.same(beyond.body.messages, [], 'an ack past what was sent is clamped')
  t.equal(beyond.body.next, 3)
})

t.test('without ack, delivery is at-most-once: each poll confirms what was sent before', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  await app.inject({ method: 'POST', url: '/ws/send', payload: { type: 'one' } })
  const first = await poller.poll({ ack: null })
  t.same(first.body.messages.map((f: any) => f.type), ['one'])
  const second = await poller.poll({ ack: null })
  t.same(second.body.messages, [], 'not sent again')
  t.equal(app.realtimeLongPolling.get(poller.sessionId, undefined)?.size, 0, 'freed from the queue')
})

t.test('max limits one answer; the rest follows', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  for (const type of ['a', 'b', 'c']) await app.inject({ method: 'POST', url: '/ws/send', payload: { type } })
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
  for (let i = 0; i < 5; i++) await app.inject({ method: 'POST', url: '/ws/send', payload: { type: `m${i}` } })
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

t.test('a held poll whose client hangs up is cleaned up at once', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  const poll = app.realtimeLongPolling.get(poller.sessionId, undefined)
  const controller = new AbortController()
  const held = httpGet(`${baseUrl(app)}/ws/poll?session_id=${poller.sessionId}&wait=20000`, controller.signal)
  await until(() => poll?.waiter !== null)
  controller.abort()
  await t.rejects(held)
  await until(() => poll?.waiter === null)
  await app.inject({ method: 'POST', url: '/ws/send', payload: { type: 'later' } })
  const next = await poller.poll()
  t.equal(next.statusCode, 200, 'no 409: the session is free')
  t.same(next.body.messages.map((f: any) => f.type), ['later'], 'nothing was taken by the abandoned poll')
})

t.test('a held poll is released when the app closes; new sessions get 503', async (t) => {
  const app = Fastify()
  await app.register(vixRealtime, { shutdownTimeout: 2000 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const poller = await PollClient.create(app)
  const held = httpGet(`${baseUrl(app)}/ws/poll?session_id=${poller.sessionId}&wait=20000`)
  await until(() => app.realtimeLongPolling.get(poller.sessionId, undefined)?.waiter !== null)
  const started = Date.now()
  app.realtime.lifecycle.requestStop()
  const create = await app.inject({ url: '/ws/poll' })
  t.equal(create.statusCode, 503)
  t.equal(create.json().code, ErrorCodes.SHUTTING_DOWN)
  t.equal(create.headers['retry-after'], '1')
  const answered = await held
  t.equal(answered.statusCode, 200)
  t.same(answered.body.messages.map((f: any) => f.type), ['server.going_away'])
  const quick = await poller.poll({ wait: 20_000 })
  t.equal(quick.statusCode, 200, 'a poll while stopping does not wait')
  await app.close()
  t.ok(Date.now() - started < 5000)
  t.equal(app.realtimeLongPolling.size, 0)
  t.equal(app.realtime.sessions.size, 0)
})

t.test('sessions idle past the TTL are swept', async (t) => {
  const app = await build(t, { longPolling: { sessionTtl: 60_000 } })
  const poller = await PollClient.create(app)
  await poller.join('general')
  t.equal(app.realtimeLongPolling.sweep(Date.now() + 30_000), 0, 'still fresh')
  t.equal(app.realtimeLongPolling.sweep(Date.now() + 61_000), 1)
  t.equal(app.realtime.getSession(poller.sessionId), undefined, 'the hub session is gone')
  t.equal(app.realtime.rooms.size('general'), 0, 'and it left its rooms')
  t.equal((await poller.poll()).statusCode, 404)
})

t.test('closing a poll session from the server ends it', async (t) => {
  const app = await build(t)
  app.realtime.on('bye', (session) => { session.close(1000, 'bye') })
  const poller = await PollClient.create(app)
  t.equal((await poller.send({ type: 'bye' })).statusCode, 202)
  t.equal((await poller.poll()).statusCode, 404)
  const other = await PollClient.create(app)
  app.realtime.getSession(other.sessionId)?.transport.terminate()
  t.equal((await other.poll()).statusCode, 404)
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

  await app.inject({ method: 'POST', url: '/ws/send', payload: { room: 'general', type: 'news', payload: { n: 1 } } })
  t.same((await outsider.poll()).body.messages.map((f: any) => f.type), ['news'], 'resolved in')
  t.same((await member.poll()).body.messages.map((f: any) => f.type), ['news'], 'a member gets it once')
  t.same((await stranger.poll()).body.messages, [], 'not resolved, not a member')
  await ws.waitForCount((f) => f.kind === 'event', 1)
  await delay(20)
  t.equal(ws.frames.filter((f: any) => f.kind === 'event').length, 1, 'WebSocket sessions are not resolved by this option')

  extra = undefined as unknown as string[]
  await app.inject({ method: 'POST', url: '/ws/send', payload: { room: 'general', type: 'quiet' } })
  t.same((await outsider.poll()).body.messages, [], 'a resolver may name nobody')
  t.same((await member.poll()).body.messages.map((f: any) => f.type), ['quiet'])
})

t.test('a resolver that throws is logged and ignored', async (t) => {
  const app = await build(t, { longPolling: { resolveRecipients: () => { throw new Error('bad resolver') } } })
  const member = await PollClient.create(app)
  await member.join('general')
  const sent = await app.inject({ method: 'POST', url: '/ws/send', payload: { room: 'general', type: 'news' } })
  t.equal(sent.statusCode, 202)
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
  await app.inject({ method: 'POST', url: '/ws/send', payload: { type: 'a' } })
  await app.inject({ method: 'POST', url: '/ws/send', payload: { type: 'b' } })
  await poller.poll()
  await poller.poll()
  t.same(counts, { created: 1, polled: 2, enqueued: 2, drained: 2 })
  t.equal(app.realtimeLongPolling.buffered(), 0)
})

t.test('options: prefix, off in the umbrella, bad values fail boot', async (t) => {
  const app = await build(t, { longPolling: { prefix: '/rt' } })
  t.equal((await app.inject({ url: '/rt/poll' })).statusCode, 200)
  t.equal((await app.inject({ url: '/ws/poll' })).statusCode, 404)

  const off = await build(t, { longPolling: false })
  t.equal((await off.inject({ url: '/ws/poll' })).statusCode, 404)
  t.notOk(off.hasDecorator('realtimeLongPolling'))

  for (const [name, value] of [['sessionTtl', 0], ['maxBuffer', 1.5], ['wait', -1], ['prefix', 'ws'], ['prefix', '/ws/'], ['maxMessageSize', '10'], ['resolveRecipients', 'yes']] as const) {
    const bad = Fastify()
    await t.rejects(async () => { await bad.register(longPollingPlugin, { [name]: value } as any).ready() }, { code: ErrorCodes.INVALID_OPTION }, `${name}=${String(value)}`)
    await bad.close()
  }
  const tooShort = Fastify()
  await t.rejects(async () => { await tooShort.register(longPollingPlugin, { wait: 5000, maxWait: 1000 }).ready() }, { code: ErrorCodes.INVALID_OPTION, message: /maxWait/ })
  await tooShort.close()
})

t.test('the plugin registers alone, and leaves the app\'s own JSON routes alone', async (t) => {
  const app = Fastify()
  await app.register(longPollingPlugin, { relayTypes: ['chat.message'] })
  app.post('/echo', async (request) => request.body)
  t.teardown(() => app.close())
  const echo = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } })
  t.same(echo.json(), { a: 1 }, 'the app\'s JSON parser is untouched')
  const bad = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{oops' })
  t.equal(bad.json().code, 'FST_ERR_CTP_INVALID_JSON_BODY', 'and so is its error handler')
  const poller = await PollClient.create(app)
  await poller.join('general')
  t.equal((await poller.send(message('general', 'hi'))).statusCode, 202)
})
