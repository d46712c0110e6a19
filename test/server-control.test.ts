import t, { type Test } from 'tap'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { VixRealtimeOptions } from '../plugins/index.js'
import { build } from './helpers/app.js'
import { PollClient } from './helpers/poll-client.js'
import { redisAvailable, redisUrl, uniquePrefix } from './helpers/redis.js'
import { requireService } from './helpers/services.js'
import { delay, until } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'

const up = await redisAvailable()

const auth: VixRealtimeOptions = {
  relayTypes: ['chat'],
  docs: false,
  authenticate: (request: FastifyRequest) => {
    const user = (request.query as { user?: string }).user ?? request.headers.authorization
    return user === undefined ? null : { user }
  },
  identityKey: (identity) => (identity as { user: string }).user
}

async function member (t: Test, app: FastifyInstance, user: string, room?: string): Promise<TestClient> {
  const client = await connect(app, `/ws?user=${user}`)
  t.teardown(() => { client.close() })
  if (room !== undefined) await client.join(room)
  return client
}

const isType = (type: string) => (frame: any) => typeof frame === 'object' && frame.type === type

t.test('one node: connections, leave and disconnect act on an identity\'s sessions of both transports, and are idempotent', async (t) => {
  const app = await build(t, { ...auth, nodeId: 'solo' })
  const ws = await member(t, app, 'ada', 'general')
  const poll = await PollClient.create(app, { authorization: 'ada' })
  await poll.join('general')
  const bob = await member(t, app, 'bob', 'general')
  const ada = { identity: { user: 'ada' } }

  t.same(await app.realtime.connections(ada), { sessions: 2, nodes: { solo: 2 } }, 'ada has two sessions here')
  t.same(await app.realtime.connections({ identity: { user: 'eve' } }), { sessions: 0, nodes: { solo: 0 } })

  t.same(await app.realtime.leave(ada, 'general'), { sessions: 2, nodes: { solo: 2 } }, 'both taken out of the room')
  t.match(await ws.waitFor(isType('room.left')), { kind: 'system', room: 'general', payload: { room: 'general' } })
  await poll.pollUntil(isType('room.left'))
  t.same(app.realtime.rooms.members('general').map((s) => s.identityKey), ['bob'], 'bob stays')
  t.same(await app.realtime.leave(ada, 'general'), { sessions: 0, nodes: { solo: 0 } }, 'leaving again does nothing')
  const bobSession = [...app.realtime.sessions.values()].find((s) => s.identityKey === 'bob')!
  t.equal(app.realtime.leave(bobSession, 'general'), true, 'the session form of leave still works (synchronously, this node)')

  const held = poll.poll({ wait: 3000 })
  await delay(100) // the poll is held
  const result = await app.realtime.disconnect(ada, { code: 4003, reason: 'banned', reconnect: false })
  t.same(result, { sessions: 2, nodes: { solo: 2 } }, 'both closed')
  t.same(await ws.closed, { code: 4003, reason: 'banned' }, 'the socket is closed with the code')
  t.match(ws.frames.find(isType('session.closed')), { kind: 'system', payload: { code: 4003, reason: 'banned', reconnect: false } }, 'told not to reconnect')
  t.match((await held).body.messages.find(isType('session.closed')), { payload: { code: 4003, reconnect: false } }, 'the held poll is told too')
  t.equal((await poll.poll()).statusCode, 404, 'the poll session is gone')
  t.same(await app.realtime.disconnect(ada), { sessions: 0, nodes: { solo: 0 } }, 'a second disconnect finds nothing')

  t.same(await app.realtime.disconnect({ session: bobSession.id }), { sessions: 1, nodes: { solo: 1 } }, 'one session by id')
  t.match(await bob.closed, { code: 4000 }, 'the default code')
  t.same(await app.realtime.disconnect({ session: 'nobody' }), { sessions: 0, nodes: { solo: 0 } })
})

t.test('bad arguments are coded errors', async (t) => {
  const app = await build(t, { ...auth })
  const ada = { identity: { user: 'ada' } }
  await t.rejects(app.realtime.disconnect(ada, { code: 1000 }), { code: 'VIX_ERR_INVALID_OPTION', message: /disconnect.code/ })
  await t.rejects(app.realtime.disconnect(ada, { reason: 'x'.repeat(121) }), { code: 'VIX_ERR_INVALID_OPTION', message: /disconnect.reason/ })
  await t.rejects(app.realtime.disconnect({ room: 'x' } as never), { code: 'VIX_ERR_INVALID_OPTION', message: /target/ })
  await t.rejects(app.realtime.disconnect(null as never), { code: 'VIX_ERR_INVALID_OPTION', message: /target/ })
  await t.rejects(app.realtime.leave(ada, ''), { code: 'VIX_ERR_INVALID_OPTION', message: /leave.room/ })
  await t.rejects(app.realtime.connections(ada, { timeout: -1 }), { code: 'VIX_ERR_INVALID_OPTION', message: /timeout/ })
  await t.rejects(app.realtime.connections(ada, { nodes: 0 }), { code: 'VIX_ERR_INVALID_OPTION', message: /nodes/ })
})

t.test('three nodes over real Redis: each call reaches every node, which answers with its count', async (t) => {
  if (!requireService(t, 'redis', up.ok, up.reason)) return
  const prefix = uniquePrefix()
  const nodes = await Promise.all(['a', 'b', 'c'].map(async (nodeId) => await build(t, { ...auth, nodeId, broker: { redis: redisUrl, prefix } })))
  const [a, b, c] = nodes
  const adas = [await member(t, a, 'ada', 'general'), await member(t, b, 'ada', 'general'), await member(t, b, 'ada'), await member(t, c, 'ada', 'general')]
  const bob = await member(t, c, 'bob', 'general')
  const ada = { identity: { user: 'ada' } }

  t.same(await b.realtime.connections(ada, { nodes: 3, timeout: 5000 }), { sessions: 4, nodes: { a: 1, b: 2, c: 1 } }, 'counted on every node')
  t.same(await a.realtime.leave(ada, 'general', { nodes: 3, timeout: 5000 }), { sessions: 3, nodes: { a: 1, b: 1, c: 1 } }, 'out of the room on every node')
  await Promise.all([adas[0], adas[1], adas[3]].map(async (client) => await client.waitFor(isType('room.left'))))

  const result = await c.realtime.disconnect(ada, { code: 4010, reason: 'account deleted', reconnect: false, nodes: 3, timeout: 5000 })
  t.same(result, { sessions: 4, nodes: { a: 1, b: 2, c: 1 } }, 'closed everywhere, counted per node')
  for (const client of adas) {
    t.same(await client.closed, { code: 4010, reason: 'account deleted' })
    t.match(client.frames.find(isType('session.closed')), { payload: { code: 4010, reconnect: false } })
  }
  t.equal(bob.ws.readyState, bob.ws.OPEN, 'another identity is untouched')
  await until(() => nodes.every((node) => [...node.realtime.sessions.values()].every((s) => s.identityKey !== 'ada')))
  t.same(await a.realtime.disconnect(ada, { timeout: 300 }), { sessions: 0, nodes: { a: 0, b: 0, c: 0 } }, 'again: nothing left, every node still answers (waited for the timeout)')
})
