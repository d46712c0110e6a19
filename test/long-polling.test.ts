import http from 'node:http'
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ErrorCodes } from '../lib/errors.js'
import vixRealtime, { hubPlugin, longPollingPlugin } from '../plugins/index.js'
import { baseUrl, build } from './helpers/app.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { PollClient } from './helpers/poll-client.js'
import { delay, waitFor } from './helpers/wait.js'
import { hubOf } from '../lib/hub/realtime.js'

const message = (room: string, text: string, id?: string): Record<string, unknown> =>
  id === undefined ? { room, type: 'chat.message', payload: { text } } : { id, room, type: 'chat.message', payload: { text } }

const events = (frames: any[]): string[] => frames.filter((f) => f.kind === 'event').map((f) => f.payload.text)

const PUBLISH_KEY = 'k'.repeat(16)
const bearer = { authorization: `Bearer ${PUBLISH_KEY}` }

/** A server-side publish: `POST /ws/send` without a session (with the bearer key unless `headers` say otherwise). */
async function serverPublish (app: FastifyInstance, payload: unknown, headers: Record<string, string> = bearer): Promise<{ statusCode: number, headers: Record<string, unknown>, body: any }> {
  const response = await app.inject({ method: 'POST', url: '/ws/send', headers, payload: payload as Record<string, unknown> })
  return { statusCode: response.statusCode, headers: response.headers, body: response.json() }
}

/**
 * The events `ws` got before a marker published now by server code: frames
 * of one connection arrive in order, so an HTTP publish refused before the
 * marker would have shown up before it.
 */
async function eventsBeforeMarker (app: FastifyInstance, ws: TestClient, room: string): Promise<any[]> {
  await app.realtime.publish({ room, id: 'marker', type: 'marker' })
  await ws.waitFor((f) => f.kind === 'event' && f.id === 'marker')
  return (ws.frames as any[]).filter((f) => f.kind === 'event' && f.id !== 'marker')
}

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

t.test('POST /ws/send without session_id is a server-side publish (with serverPublish.key)', async (t) => {
  const app = await build(t, { longPolling: { serverPublish: { key: PUBLISH_KEY } } }, (app) => {
    app.realtime.on('headline', { schema: Type.Object({ title: Type.Optional(Type.String()) }) })
  })
  const ws = await connect(app)
  await ws.join('news')
  const response = await serverPublish(app, { room: 'news', type: 'headline', payload: { title: 'hi' } })
  t.equal(response.statusCode, 202)
  t.same(Object.keys(response.body), ['id'], 'answers {id}')
  const event = await ws.waitFor((f) => f.kind === 'event')
  t.equal(event.id, response.body.id, 'the stamped id')
  t.equal(event.payload.title, 'hi')
  const withId = await serverPublish(app, { id: 'srv-1', room: 'news', type: 'headline' })
  t.same(withId.body, { id: 'srv-1' }, 'a given id is kept')
  t.equal((await ws.waitFor((f) => f.kind === 'event' && f.id === 'srv-1')).type, 'headline')
})

t.test('server-side publish is off by default: 403 VIX_ERR_FORBIDDEN and nothing is delivered', async (t) => {
  const app = await build(t, { relayTypes: ['news'] })
  const ws = await connect(app)
  await ws.join('news')
  const valid = { room: 'news', type: 'news', payload: { title: 'hi' } }
  for (const [name, headers] of [['no header', {}], ['any bearer', bearer]] as const) {
    const response = await serverPublish(app, valid, headers)
    t.equal(response.statusCode, 403, name)
    t.equal(response.body.code, ErrorCodes.FORBIDDEN, name)
    t.equal(response.headers['www-authenticate'], undefined, `${name}: no bearer challenge while it is off`)
  }
  const invalid = await serverPublish(app, { type: 'has space' })
  t.equal(invalid.statusCode, 403, 'refused before the body is looked at')
  t.same(await eventsBeforeMarker(app, ws, 'news'), [], 'the WebSocket client got none of them')
  const poller = await PollClient.create(app)
  await poller.join('news')
  t.equal((await poller.send(valid)).statusCode, 202, 'a poll session still sends (with its session_id)')
})

t.test('serverPublish.key: no or a wrong bearer is 401 with WWW-Authenticate: Bearer', async (t) => {
  const app = await build(t, { relayTypes: ['news'], longPolling: { serverPublish: { key: PUBLISH_KEY } } })
  const ws = await connect(app)
  await ws.join('news')
  const valid = { room: 'news', type: 'news', payload: {} }
  const refusals: Array<[string, Record<string, string>]> = [
    ['no Authorization', {}],
    ['a wrong key', { authorization: `Bearer ${'x'.repeat(16)}` }],
    ['a prefix of the key', { authorization: `Bearer ${PUBLISH_KEY.slice(0, 15)}` }],
    ['the key without the Bearer scheme', { authorization: PUBLISH_KEY }],
    ['another scheme', { authorization: `Basic ${PUBLISH_KEY}` }]
  ]
  for (const [name, headers] of refusals) {
    const response = await serverPublish(app, valid, headers)
    t.equal(response.statusCode, 401, name)
    t.equal(response.body.code, ErrorCodes.UNAUTHORIZED, name)
    t.equal(response.headers['www-authenticate'], 'Bearer', name)
  }
  t.same(await eventsBeforeMarker(app, ws, 'news'), [], 'nothing was delivered')
  const accepted = await serverPublish(app, valid)
  t.equal(accepted.statusCode, 202, 'the right key publishes')
  t.equal(accepted.headers['www-authenticate'], undefined)
  t.equal((await ws.waitFor((f) => f.kind === 'event' && f.type === 'news')).id, accepted.body.id)
})

t.test('serverPublish.key: the message passes the accept stage (known type, payload schema, reserved types)', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], longPolling: { serverPublish: { key: PUBLISH_KEY } } }, (app) => {
    app.realtime.on('headline', { schema: Type.Object({ title: Type.String({ minLength: 1 }) }, { additionalProperties: false }) })
  })
  const ws = await connect(app)
  await ws.join('news')

  const badPayload = await serverPublish(app, { room: 'news', type: 'headline', payload: { title: 5 } })
  t.equal(badPayload.statusCode, 400)
  t.equal(badPayload.body.code, ErrorCodes.INVALID_MESSAGE)
  t.equal(badPayload.body.path, '/payload/title', 'the path of the bad field')
  const extra = await serverPublish(app, { room: 'news', type: 'headline', payload: { title: 'x', admin: true } })
  t.equal(extra.statusCode, 400)
  t.equal(extra.body.code, ErrorCodes.INVALID_MESSAGE)

  const unknown = await serverPublish(app, { room: 'news', type: 'nope', payload: {} })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.body.code, ErrorCodes.UNKNOWN_TYPE)

  for (const type of ['server.going_away', 'presence.join', 'error']) {
    const reserved = await serverPublish(app, { room: 'news', type, payload: { retryAfterMs: 0 } })
    t.equal(reserved.statusCode, 400, `${type} is refused`)
    t.equal(reserved.body.code, ErrorCodes.UNKNOWN_TYPE, `${type}: never a known type`)
  }
  t.same(await eventsBeforeMarker(app, ws, 'news'), [], 'nothing refused was delivered')
  t.throws(() => app.realtime.on('server.going_away', () => {}), { code: ErrorCodes.INVALID_OPTION }, 'a reserved type cannot be made known')

  const relayed = await serverPublish(app, { room: 'news', type: 'chat.message', payload: { text: 'a relay type is known' } })
  t.equal(relayed.statusCode, 202)
  const valid = await serverPublish(app, { room: 'news', type: 'headline', payload: { title: 'ok' } })
  t.equal(valid.statusCode, 202)
  const events = await ws.waitForCount((f) => f.kind === 'event' && f.id !== 'marker', 2)
  t.same(events.map((f) => [f.type, f.id]), [['chat.message', relayed.body.id], ['headline', valid.body.id]])

  const lax = await build(t, { rejectUnknownTypes: false, longPolling: { serverPublish: { key: PUBLISH_KEY } } })
  const laxUnknown = await serverPublish(lax, { type: 'nope' })
  t.equal(laxUnknown.statusCode, 400, 'unknown is refused whatever rejectUnknownTypes says')
  t.equal(laxUnknown.body.code, ErrorCodes.UNKNOWN_TYPE)
})

t.test('a handler on room.join does not make room.join publishable from HTTP', async (t) => {
  const app = await build(t, { longPolling: { serverPublish: { key: PUBLISH_KEY } } }, (app) => {
    app.realtime.on('room.join', () => {})
  })
  const ws = await connect(app)
  await ws.join('news')
  const response = await serverPublish(app, { room: 'news', type: 'room.join', payload: { room: 'news' } })
  t.equal(response.statusCode, 400, 'a reserved type is never published from outside')
  t.same(await eventsBeforeMarker(app, ws, 'news'), [], 'nobody got a room.join event')
})

t.test('serverPublish.authorize(request, message): false or a throw is 403; with a key both must agree', async (t) => {
  const calls: Array<{ publisher: unknown, message: unknown }> = []
  const authorize = (request: any, message: any): boolean => {
    calls.push({ publisher: request.headers['x-publisher'], message })
    if (request.headers['x-publisher'] === 'broken') throw new Error('authorize bug')
    return request.headers['x-publisher'] === 'cron' && message.room !== 'admin'
  }
  const app = await build(t, { relayTypes: ['news'], longPolling: { serverPublish: { authorize } } })
  const ws = await connect(app)
  await ws.join('news')
  for (const [name, headers, room] of [['no publisher', {}, 'news'], ['another publisher', { 'x-publisher': 'bob' }, 'news'], ['a denied room', { 'x-publisher': 'cron' }, 'admin'], ['a throwing authorize', { 'x-publisher': 'broken' }, 'news']] as const) {
    const response = await serverPublish(app, { room, type: 'news', payload: { n: 1 } }, headers)
    t.equal(response.statusCode, 403, name)
    t.equal(response.body.code, ErrorCodes.FORBIDDEN, name)
  }
  t.same(await eventsBeforeMarker(app, ws, 'news'), [], 'nothing refused was delivered')
  const allowed = await serverPublish(app, { id: 'cron-1', room: 'news', type: 'news', payload: { n: 2 } }, { 'x-publisher': 'cron' })
  t.equal(allowed.statusCode, 202)
  t.same(allowed.body, { id: 'cron-1' })
  t.match(await ws.waitFor((f) => f.kind === 'event' && f.id === 'cron-1'), { type: 'news', payload: { n: 2 } })
  t.same(calls.at(-1), { publisher: 'cron', message: { id: 'cron-1', room: 'news', type: 'news', payload: { n: 2 } } }, 'authorize sees the request and the decoded message')

  const both = await build(t, { relayTypes: ['news'], longPolling: { serverPublish: { key: PUBLISH_KEY, authorize } } })
  const before = calls.length
  const noKey = await serverPublish(both, { room: 'news', type: 'news' }, { 'x-publisher': 'cron' })
  t.equal(noKey.statusCode, 401, 'the key is checked first')
  t.equal(calls.length, before, 'authorize is not asked without the key')
  t.equal((await serverPublish(both, { room: 'news', type: 'news' }, { ...bearer, 'x-publisher': 'bob' })).statusCode, 403, 'the key alone is not enough')
  t.equal((await serverPublish(both, { room: 'news', type: 'news' }, { ...bearer, 'x-publisher': 'cron' })).statusCode, 202, 'key and authorize agree')
})

t.test('authenticate is not consulted for a server-side publish: serverPublish is its auth', async (t) => {
  let authenticated = 0
  const app = await build(t, {
    relayTypes: ['news'],
    authenticate: () => { authenticated++; return null },
    longPolling: { serverPublish: { key: PUBLISH_KEY } }
  })
  t.equal((await app.inject({ url: '/ws/poll' })).statusCode, 401, 'authenticate rejects every client')
  const before = authenticated
  t.ok(before > 0)
  const published = await serverPublish(app, { room: 'news', type: 'news', payload: {} })
  t.equal(published.statusCode, 202, 'a server-side publish with the key goes through')
  const wrongKey = await serverPublish(app, { room: 'news', type: 'news', payload: {} }, {})
  t.equal(wrongKey.statusCode, 401)
  t.equal(authenticated, before, 'authenticate was never called for them')
})

t.test('server-side publish obeys authorizePublish(null, message)', async (t) => {
  const seen: unknown[] = []
  const app = await build(t, {
    relayTypes: ['x'],
    authorizePublish: (session, msg) => { seen.push(session); return msg.room !== 'admin' },
    longPolling: { serverPublish: { key: PUBLISH_KEY } }
  })
  const denied = await serverPublish(app, { room: 'admin', type: 'x' })
  t.equal(denied.statusCode, 403)
  t.equal(denied.body.code, ErrorCodes.FORBIDDEN)
  const allowed = await serverPublish(app, { room: 'lobby', type: 'x' })
  t.equal(allowed.statusCode, 202)
  t.same(seen, [null, null])
})

t.test('a failing server-side publish is a 500 that says nothing about its cause', async (t) => {
  const app = await build(t, { relayTypes: ['x'], longPolling: { serverPublish: { key: PUBLISH_KEY } } })
  hubOf(app.realtime).attachPersistence({
    shouldPersist: () => true,
    persist: async () => { throw new Error('disk on fire') },
    joinWithRecovery: async (_s, _r, _since, join) => { join(); return { recovered: false, replayed: 0, latestId: null, pos: null } },
    sequence: (envelope) => { hubOf(app.realtime).deliverLocal(envelope) }
  })
  const response = await serverPublish(app, { room: 'r', type: 'x' })
  t.equal(response.statusCode, 500)
  t.equal(response.body.code, ErrorCodes.INTERNAL)
  t.notMatch(JSON.stringify(response.body), /disk on fire/)
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
  const app = await build(t, { relayTypes: ['chat.message'], longPolling: { serverPublish: { key: PUBLISH_KEY } } })
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

  // A server-side publish (with the key) gets the same answers.
  const publishBad = await serverPublish(app, { type: 'chat.message', extra: 1 })
  t.equal(publishBad.statusCode, 400)
  t.equal(publishBad.body.code, ErrorCodes.INVALID_MESSAGE)
  t.equal(publishBad.body.path, '/extra')

  const publishRaw = await serverPublish(app, { hello: 1 })
  t.equal(publishRaw.statusCode, 400)
  t.equal(publishRaw.body.path, '/type')

  const wrongType = await app.inject({ method: 'POST', url: '/ws/send', headers: { ...bearer, 'content-type': 'text/plain' }, payload: 'hi' })
  t.equal(wrongType.statusCode, 400)
  t.equal(wrongType.json().code, ErrorCodes.INVALID_MESSAGE)

  const empty = await app.inject({ method: 'POST', url: '/ws/send', headers: { ...bearer, 'content-type': 'application/json' }, payload: '' })
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
  await app.realtime.publish({ type: 'later' })
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

t.test('options: prefix, off in the umbrella, bad values fail boot', async (t) => {
  const app = await build(t, { longPolling: { prefix: '/rt' } })
  t.equal((await app.inject({ url: '/rt/poll' })).statusCode, 200)
  t.equal((await app.inject({ url: '/ws/poll' })).statusCode, 404)

  const off = await build(t, { longPolling: false })
  t.equal((await off.inject({ url: '/ws/poll' })).statusCode, 404)
  t.notOk(off.hasDecorator('realtimeLongPolling'))

  const badValues = [
    ['sessionTtl', 0], ['maxBuffer', 1.5], ['wait', -1], ['prefix', 'ws'], ['prefix', '/ws/'], ['maxMessageSize', '10'], ['resolveRecipients', 'yes'],
    ['serverPublish', {}], ['serverPublish', 'on'], ['serverPublish.key', { key: 'short' }], ['serverPublish.authorize', { authorize: true }]
  ] as const
  for (const [name, value] of badValues) {
    const bad = Fastify()
    const option = name.startsWith('serverPublish') ? 'serverPublish' : name
    await t.rejects(async () => { await bad.register(hubPlugin).register(longPollingPlugin, { [option]: value } as any).ready() }, { code: ErrorCodes.INVALID_OPTION, message: new RegExp(`"${name.replace('.', '\\.')}"`) }, `${name}=${JSON.stringify(value)}`)
    await bad.close()
  }
  const tooShort = Fastify()
  await t.rejects(async () => { await tooShort.register(hubPlugin).register(longPollingPlugin, { wait: 5000, maxWait: 1000 }).ready() }, { code: ErrorCodes.INVALID_OPTION, message: /maxWait/ })
  await tooShort.close()
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

t.test('the plugin registers with just the hub, and leaves the app\'s own JSON routes alone', async (t) => {
  const app = Fastify()
  await app.register(hubPlugin, { relayTypes: ['chat.message'] })
  await app.register(longPollingPlugin)
  app.post('/echo', async (request) => request.body)
  t.teardown(() => app.close())
  const echo = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } })
  t.same(echo.json(), { a: 1 }, 'the app\'s JSON parser is untouched')
  const bad = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{oops' })
  t.equal(bad.json().code, 'FST_ERR_CTP_INVALID_JSON_BODY', 'and so is its error handler')
  const poller = await PollClient.create(app)
  await poller.join('general')
  t.equal((await poller.send(message('general', 'hi'))).statusCode, 202)
  t.equal((await app.inject({ method: 'POST', url: '/ws/send', payload: message('general', 'server') })).statusCode, 403, 'server-side publish is off here too')
})

t.test('the part needs the hub and refuses hub options', async (t) => {
  const alone = Fastify()
  t.teardown(() => alone.close())
  await t.rejects(async () => { await alone.register(longPollingPlugin).ready() }, { code: 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE', message: /vix-realtime-long-polling/ }, 'without the hub, boot fails')

  for (const [option, value] of [['relayTypes', ['chat.message']], ['authenticate', () => ({})], ['identityKey', () => 'k'], ['goingAwayRetryAfter', 2500]] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(hubPlugin).register(longPollingPlugin, { [option]: value } as any).ready() }, { code: ErrorCodes.INVALID_OPTION, message: new RegExp(`"${option}".*hub option`) }, option)
  }
})
