import t, { type Test } from 'tap'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { CloseCodes } from '../lib/errors.js'
import type { Clock } from '../lib/hub/expiry.js'
import { build } from './helpers/app.js'
import { FakeClock } from './helpers/fake-clock.js'
import { PollClient } from './helpers/poll-client.js'
import { delay, until } from './helpers/wait.js'
import { connect, upgradeStatus } from './helpers/ws-client.js'

/**
 * Demo tokens `user:expiresAt:room,room`: who, when the token expires (on the
 * fake clock, ms) and the rooms it may join. Read from `?token=` or
 * `Authorization: Bearer` (the default refresh gives both).
 */
function parseToken (token: string | undefined): { identity: { user: string, rooms: string[] }, expiresAt: number } | null {
  const [user, expires, rooms = ''] = (token ?? '').split(':')
  if (user === undefined || user === '' || user === 'bad' || expires === undefined) return null
  return { identity: { user, rooms: rooms.split(',') }, expiresAt: Number(expires) }
}

function tokenOf (request: FastifyRequest): string | undefined {
  const query = request.query as { token?: string }
  return query.token ?? request.headers.authorization?.replace(/^Bearer /, '')
}

const clockOf = (fake: FakeClock): Clock => ({ now: () => fake.now, setTimeout: fake.setTimeout, clearTimeout: fake.clearTimeout })

async function server (t: Test, fake: FakeClock, extra: Record<string, unknown> = {}): Promise<FastifyInstance> {
  return await build(t, {
    relayTypes: ['chat'],
    docs: false,
    clock: clockOf(fake),
    authenticate: (request) => parseToken(tokenOf(request)),
    identityKey: (identity) => (identity as { user: string }).user,
    authorizeJoin: (session, room) => (session.identity as { rooms: string[] }).rooms.includes(room),
    ...extra
  })
}

const isType = (type: string) => (frame: any) => typeof frame === 'object' && frame.type === type

t.test('websocket: a session refreshed in-band keeps its socket, its rooms and its stream; a room it may no longer join is left with a coded frame', async (t) => {
  const fake = new FakeClock()
  const app = await server(t, fake)
  const ada = await connect(app, '/ws?token=ada:60000:general,vip')
  t.teardown(() => { ada.close() })
  await ada.join('general')
  await ada.join('vip')
  const [session] = [...app.realtime.sessions.values()]
  t.equal(session.expiresAt, 60_000, 'the session carries its token expiry')

  fake.tick(29_999)
  t.notOk(ada.frames.some(isType('session.expiring')), 'nothing before the notice')
  fake.tick(1)
  const expiring = await ada.waitFor(isType('session.expiring'))
  t.same(expiring.payload, { expiresAt: 60_000, closesAt: 85_000 }, 'warned 30 s before, with when it closes')

  ada.send({ id: 'r1', type: 'auth.refresh', payload: { token: 'ada:200000:general' } })
  const ack = await ada.waitFor((f) => f.kind === 'ack' && f.id === 'r1')
  t.same(ack.payload, { expiresAt: 200_000 }, 'acked with the new expiry')
  const left = await ada.waitFor(isType('room.left'))
  t.match(left, { kind: 'system', room: 'vip', payload: { room: 'vip', code: 'VIX_ERR_FORBIDDEN' } }, 'the room the new token does not allow is left, with a coded frame')
  t.same([...session.rooms], ['general'], 'still in the room it may join')
  t.same(session.identity, { user: 'ada', rooms: ['general'] }, 'the identity is the refreshed one')

  fake.tick(60_000) // past the old expiry and its grace
  await app.realtime.publish({ room: 'general', type: 'news', payload: { n: 1 } })
  await ada.waitFor((f) => f.kind === 'event' && f.type === 'news')
  t.equal(ada.ws.readyState, ada.ws.OPEN, 'the socket is still open')
  t.equal(app.realtime.sessions.get(session.id), session, 'the same session')

  fake.tick(200_000 + 25_000 - fake.now)
  const closed = await ada.closed
  t.same(closed, { code: CloseCodes.TOKEN_EXPIRED, reason: 'VIX_ERR_TOKEN_EXPIRED: token expired' }, 'the new token expires in its turn')
})

t.test('websocket: an unrefreshed session is closed 4001 at expiresAt + tokenGrace, told why first', async (t) => {
  const fake = new FakeClock()
  const app = await server(t, fake, { tokenGrace: 5000 })
  const ada = await connect(app, '/ws?token=ada:1000:general')
  await ada.join('general')
  fake.tick(499)
  await delay(20)
  t.notOk(ada.frames.some(isType('session.expiring')), 'a token shorter than twice the notice is warned halfway')
  fake.tick(1)
  await ada.waitFor(isType('session.expiring'))
  fake.tick(5499)
  await delay(20)
  t.equal(ada.ws.readyState, ada.ws.OPEN, 'open during the grace')
  fake.tick(1)
  const closed = await ada.closed
  t.equal(closed.code, 4001)
  t.match(ada.frames.find(isType('session.closed')), { kind: 'system', payload: { code: 4001, error: 'VIX_ERR_TOKEN_EXPIRED', reconnect: true } })
  await until(() => app.realtime.sessions.size === 0)
  t.equal(app.realtime.rooms.size('general'), 0, 'the session is gone, and out of its room')
})

t.test('websocket: refused refreshes are coded errors and change nothing', async (t) => {
  const fake = new FakeClock()
  fake.now = 30_000
  const app = await server(t, fake)
  const ada = await connect(app, '/ws?token=ada:60000:general')
  t.teardown(() => { ada.close() })
  const refresh = async (id: string, payload: unknown): Promise<any> => {
    ada.send({ id, type: 'auth.refresh', payload })
    return await ada.waitFor((f) => f.id === id)
  }
  t.match(await refresh('a', { token: 'bad:1' }), { kind: 'error', payload: { code: 'VIX_ERR_UNAUTHORIZED' } }, 'refused by authenticate')
  t.match(await refresh('b', { token: 'bob:90000:general' }), { kind: 'error', payload: { code: 'VIX_ERR_UNAUTHORIZED', message: /another identity/ } }, 'another identity')
  t.match(await refresh('c', { token: 'ada:100:general' }), { kind: 'error', payload: { code: 'VIX_ERR_TOKEN_EXPIRED' } }, 'already expired')
  t.match(await refresh('d', { token: '' }), { kind: 'error', payload: { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/token' } }, 'an empty token')
  t.match(await refresh('e', {}), { kind: 'error', payload: { code: 'VIX_ERR_INVALID_MESSAGE' } }, 'no token')
  const [session] = [...app.realtime.sessions.values()]
  t.equal(session.expiresAt, 60_000, 'the expiry is unchanged')
  t.equal(ada.ws.readyState, ada.ws.OPEN)
})

t.test('a token that never expires, a refresh hook, and an expired token at the door', async (t) => {
  const fake = new FakeClock()
  fake.now = 5000
  const seen: string[] = []
  const app = await server(t, fake, {
    authenticate: (request: FastifyRequest) => {
      const token = tokenOf(request)
      if (token === 'forever') return { user: 'ada', rooms: [] }
      return parseToken(token)
    },
    refresh: (session: { id: string }, token: string) => { seen.push(token); return token === 'ok' ? { identity: { user: 'ada', rooms: [] }, expiresAt: new Date(9000) } : false }
  })
  t.equal(await upgradeStatus(app, '/ws?token=ada:4000:general'), 401, 'an expired token is refused before the 101')
  const ada = await connect(app, '/ws?token=forever')
  t.teardown(() => { ada.close() })
  const [session] = [...app.realtime.sessions.values()]
  t.equal(session.expiresAt, undefined, 'an identity returned alone never expires')
  ada.send({ id: 'x', type: 'auth.refresh', payload: { token: 'nope' } })
  t.match(await ada.waitFor((f) => f.id === 'x'), { kind: 'error', payload: { code: 'VIX_ERR_UNAUTHORIZED' } })
  ada.send({ id: 'y', type: 'auth.refresh', payload: { token: 'ok' } })
  t.match(await ada.waitFor((f) => f.id === 'y'), { kind: 'ack', payload: { expiresAt: 9000 } }, 'the hook may start a clock, with a Date')
  t.same(seen, ['nope', 'ok'], 'the refresh hook checked each token')
})

t.test('without authenticate an auth.refresh is refused', async (t) => {
  const app = await build(t, { docs: false })
  const client = await connect(app)
  t.teardown(() => { client.close() })
  client.send({ id: 'r', type: 'auth.refresh', payload: { token: 'x' } })
  t.match(await client.waitFor((f) => f.id === 'r'), { kind: 'error', payload: { code: 'VIX_ERR_UNAUTHORIZED' } })
  t.throws(() => app.realtime.on('auth.refresh', () => {}), { code: 'VIX_ERR_INVALID_OPTION' }, 'the type is the server\'s own')
})

t.test('long polling: refreshed in-band over POST /ws/send; the next requests carry the new token', async (t) => {
  const fake = new FakeClock()
  const app = await server(t, fake)
  const ada = await PollClient.create(app, { authorization: 'Bearer ada:60000:general,vip' })
  await ada.join('general')
  await ada.join('vip')
  fake.tick(30_000)
  await ada.pollUntil(isType('session.expiring'))
  const sent = await ada.send({ id: 'r1', type: 'auth.refresh', payload: { token: 'ada:200000:general' } })
  t.equal(sent.statusCode, 202)
  await ada.pollUntil((f) => f.kind === 'ack' && f.id === 'r1')
  t.match(await ada.pollUntil(isType('room.left')), [{ room: 'vip', payload: { code: 'VIX_ERR_FORBIDDEN' } }])
  ada.headers.authorization = 'Bearer ada:200000:general'
  fake.tick(60_000)
  await app.realtime.publish({ room: 'general', type: 'news', payload: {} })
  await ada.pollUntil((f) => f.type === 'news')
  t.equal(app.realtime.sessions.get(ada.sessionId)?.expiresAt, 200_000, 'the same poll session, renewed')
})

t.test('long polling: an unrefreshed session is ended at expiresAt + grace; a held poll gets session.closed, the next one 404', async (t) => {
  const fake = new FakeClock()
  const app = await server(t, fake)
  const ada = await PollClient.create(app, { authorization: 'Bearer ada:60000:general' })
  await ada.join('general')
  fake.tick(30_000)
  await ada.pollUntil(isType('session.expiring'))
  const held = ada.poll({ wait: 3000 })
  await delay(100)
  fake.tick(55_000)
  const answer = await held
  t.match(answer.body.messages, [{ kind: 'system', type: 'session.closed', payload: { code: 4001, error: 'VIX_ERR_TOKEN_EXPIRED', reconnect: true } }])
  t.equal((await ada.poll()).statusCode, 404, 'the session is gone')
  t.equal(app.realtime.rooms.size('general'), 0)
})
