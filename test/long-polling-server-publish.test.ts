import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ErrorCodes } from '../lib/errors.js'
import { build } from './helpers/app.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { PollClient } from './helpers/poll-client.js'
import { bearer, PUBLISH_KEY, serverPublish } from './helpers/server-publish.js'
import { hubOf } from '../lib/hub/realtime.js'

/** Server-side publish (POST /ws/send without a session) and its policy: off by default, serverPublish.key and authorize, the accept stage. */

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
