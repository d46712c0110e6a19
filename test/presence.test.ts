import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { hubPlugin } from '../plugins/hub.js'
import { presencePlugin } from '../plugins/presence.js'
import { Hub } from '../lib/hub/hub.js'
import { build } from './helpers/app.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { PollClient } from './helpers/poll-client.js'
import { delay } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { hubOf } from '../lib/hub/realtime.js'

const WINDOW = 40
const presence = { window: WINDOW, meta: (identity: unknown) => ({ name: String(identity).toUpperCase() }) }
const byHeader = (request: any): unknown => request.headers['x-user'] ?? null

const isDiff = (f: any): boolean => f.kind === 'system' && f.type === 'presence.diff'
const isState = (f: any): boolean => f.kind === 'system' && f.type === 'presence.state'
const diffs = (client: TestClient): any[] => client.frames.filter(isDiff).map((f: any) => f.payload)
/** Long enough for every pending window to have been flushed. */
const settle = async (): Promise<void> => { await delay(WINDOW * 5) }

async function member (t: Test, app: any, user: string, room = 'lobby'): Promise<TestClient> {
  const client = await connect(app, '/ws', { headers: { 'x-user': user } })
  t.teardown(() => { client.close() })
  await client.join(room)
  return client
}

t.test('one node: state, one join diff per new member, none for a second tab, one leave for the last', async (t) => {
  const app = await build(t, { authenticate: byHeader, presence })
  const ada = await member(t, app, 'ada')
  const adaState = await ada.waitFor(isState)
  t.same(adaState.payload, { room: 'lobby', members: [{ key: '"ada"', meta: { name: 'ADA' }, connections: 1 }] })
  t.equal(adaState.room, 'lobby')
  t.ok(ada.frames.indexOf(adaState) > ada.frames.findIndex((f: any) => f.kind === 'ack'), 'presence.state comes after the ack')
  await settle()

  const bob = await member(t, app, 'bob')
  const bobState = await bob.waitFor(isState)
  t.same(bobState.payload.members.map((m: any) => m.key).sort(), ['"ada"', '"bob"'], 'two identities see each other in presence.state')
  await ada.waitFor((f) => isDiff(f) && f.payload.joins.some((j: any) => j.key === '"bob"'))
  await settle()

  const adaBefore = diffs(ada).length
  const bobBefore = diffs(bob).length
  const cy = await member(t, app, 'cy')
  await settle()
  t.same(diffs(ada).slice(adaBefore), [{ room: 'lobby', joins: [{ key: '"cy"', meta: { name: 'CY' } }], leaves: [] }], 'a third joining: one join diff for ada')
  t.same(diffs(bob).slice(bobBefore), [{ room: 'lobby', joins: [{ key: '"cy"', meta: { name: 'CY' } }], leaves: [] }], 'and one for bob')

  const cyTab = await member(t, app, 'cy')
  await settle()
  t.equal(diffs(ada).length, adaBefore + 1, 'a second connection of the same identity: no diff')
  t.same(app.realtime.presence('lobby').find((m) => m.key === '"cy"'), { key: '"cy"', meta: { name: 'CY' }, connections: 2 })
  const cyTabState = await cyTab.waitFor(isState)
  t.equal(cyTabState.payload.members.find((m: any) => m.key === '"cy"').connections, 2)

  cy.close()
  await settle()
  t.equal(diffs(ada).length, adaBefore + 1, 'closing one tab changes nothing others see')
  cyTab.close()
  await settle()
  t.same(diffs(ada).slice(adaBefore + 1), [{ room: 'lobby', joins: [], leaves: [{ key: '"cy"' }] }], 'its last connection closing: one leave diff')
  t.same(diffs(bob).slice(bobBefore + 1), [{ room: 'lobby', joins: [], leaves: [{ key: '"cy"' }] }])
  t.same(app.realtime.presence('lobby').map((m) => m.key).sort(), ['"ada"', '"bob"'])

  const metrics = await scrapeMetrics(app)
  t.equal(metrics.value('vix_presence_members'), 2, 'members gauge')
  t.ok(metrics.value('vix_presence_diffs_total') >= 6, 'diff frames counted')
  t.notOk(metrics.text.includes('vix_presence_members{'), 'no room label')
})

t.test('a long-poll session is a member like a WebSocket one', async (t) => {
  const app = await build(t, { authenticate: byHeader, presence })
  const ada = await member(t, app, 'ada')
  await settle()
  // Its own join reached ada too (its state already had it; applying a diff is idempotent).
  const before = diffs(ada).length
  const poller = await PollClient.create(app, { 'x-user': 'pat' })
  await poller.join('lobby')
  const [state] = await poller.pollUntil(isState)
  t.same(state.payload.members.map((m: any) => m.key).sort(), ['"ada"', '"pat"'])
  await settle()
  t.same(diffs(ada).slice(before), [{ room: 'lobby', joins: [{ key: '"pat"', meta: { name: 'PAT' } }], leaves: [] }], 'it appears: one join diff')
  await poller.pollUntil((f) => isDiff(f) && f.payload.joins[0]?.key === '"pat"')
  t.equal((await poller.send({ type: 'room.leave', payload: { room: 'lobby' } })).statusCode, 202)
  await settle()
  t.same(diffs(ada).slice(before + 1), [{ room: 'lobby', joins: [], leaves: [{ key: '"pat"' }] }], 'and disappears: one leave diff')

  // Its session ending (expiry, DELETE) is its last connection closing too.
  const again = await PollClient.create(app, { 'x-user': 'pat' })
  await again.join('lobby')
  await settle()
  hubOf(app.realtime).closeSession(app.realtime.getSession(again.sessionId)!, 1000)
  await settle()
  t.same(diffs(ada).slice(before + 2), [
    { room: 'lobby', joins: [{ key: '"pat"', meta: { name: 'PAT' } }], leaves: [] },
    { room: 'lobby', joins: [], leaves: [{ key: '"pat"' }] }
  ])
})

t.test('a join storm of 200 sessions reaches a member in a few coalesced frames', async (t) => {
  const app = await build(t, { authenticate: byHeader, presence: { window: 100 } })
  const watcher = await member(t, app, 'watcher')
  await delay(300)
  const before = diffs(watcher).length
  const storm = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const client = await connect(app, '/ws', { headers: { 'x-user': `u${i}` } })
    t.teardown(() => { client.close() })
    return client
  }))
  const started = Date.now()
  for (const client of storm) client.send({ type: 'room.join', payload: { room: 'lobby' } })
  await Promise.all(storm.map(async (client) => await client.waitFor((f) => f.kind === 'ack' && f.type === 'room.join', 10_000)))
  t.comment(`200 joins acked in ${Date.now() - started} ms`)
  await delay(400)
  const frames = diffs(watcher).slice(before)
  const joined = new Set(frames.flatMap((d) => d.joins.map((j: any) => j.key)))
  t.equal(joined.size, 200, 'every join reached the watcher')
  t.ok(frames.length <= 12, `in ${frames.length} diff frames, not 200`)
  t.equal(app.realtime.presence('lobby').length, 201)
})

t.test('anonymous sessions are members of their own, never shown by session id', async (t) => {
  const app = await build(t, { presence: { window: WINDOW } })
  const a = await connect(app)
  const b = await connect(app)
  t.teardown(() => { a.close(); b.close() })
  await a.join('lobby')
  await b.join('lobby')
  const state = await b.waitFor(isState)
  const keys = state.payload.members.map((m: any) => m.key)
  t.equal(keys.length, 2)
  const ids = [...app.realtime.sessions.keys()]
  for (const key of keys) {
    t.match(key, /^anon:/)
    t.notOk(ids.some((id) => key.includes(id)), 'the key does not reveal the session id')
  }
  t.same(state.payload.members.map((m: any) => m.meta), [{}, {}], 'no meta option: {}')
})

t.test('GET /ws/presence: authorized like /ws/history, answers the members', async (t) => {
  const app = await build(t, {
    presence,
    authenticate: byHeader,
    authorizeJoin: (session, room) => room !== 'secret' || session.identity === 'admin'
  })
  await member(t, app, 'ada')
  const anonymous = await app.inject({ url: '/ws/presence?room=lobby' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().code, 'VIX_ERR_UNAUTHORIZED')
  const bob = await app.inject({ url: '/ws/presence?room=secret', headers: { 'x-user': 'bob' } })
  t.equal(bob.statusCode, 403)
  t.equal(bob.json().code, 'VIX_ERR_FORBIDDEN')
  const admin = await app.inject({ url: '/ws/presence?room=secret', headers: { 'x-user': 'admin' } })
  t.same(admin.json(), { room: 'secret', members: [] })
  const lobby = await app.inject({ url: '/ws/presence?room=lobby', headers: { 'x-user': 'bob' } })
  t.equal(lobby.statusCode, 200)
  t.same(lobby.json(), { room: 'lobby', members: [{ key: '"ada"', meta: { name: 'ADA' }, connections: 1 }] })
  const bad = await app.inject({ url: '/ws/presence', headers: { 'x-user': 'bob' } })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'VIX_ERR_INVALID_REQUEST')
  const docs = await app.inject({ url: '/docs/json' })
  const route = docs.json().paths['/ws/presence']
  t.ok(route?.get, 'documented in OpenAPI')
  t.ok(route.get.responses['200'] && route.get.responses['401'] && route.get.responses['403'])
})

t.test('rooms: a list or a predicate; other rooms get no presence', async (t) => {
  const app = await build(t, { authenticate: byHeader, presence: { window: WINDOW, rooms: ['lobby'] } })
  const ada = await member(t, app, 'ada', 'other')
  await settle()
  t.notOk(ada.frames.some((f: any) => typeof f.type === 'string' && f.type.startsWith('presence.')), 'no presence frames in a room without presence')
  t.same(app.realtime.presence('other'), [])
  const hub = new Hub({ presence: { rooms: (room) => room.startsWith('p-') } })
  t.ok(hub.presenceTracker?.covers('p-1'))
  t.notOk(hub.presenceTracker?.covers('q-1'))
  t.same(new Hub().presence('lobby'), [], 'presence off: no members')
})

t.test('a meta function that throws or returns a non-object shows {}', async (t) => {
  let calls = 0
  const app = await build(t, {
    authenticate: byHeader,
    presence: { window: WINDOW, meta: (identity) => { calls++; if (identity === 'bad') throw new Error('no profile'); return identity === 'odd' ? 5 as any : { ok: true } } }
  })
  await member(t, app, 'bad')
  await member(t, app, 'odd')
  t.same(app.realtime.presence('lobby').map((m) => m.meta), [{}, {}])
  t.equal(calls, 2)
})

t.test('bad presence options fail boot with VIX_ERR_INVALID_OPTION naming them', async (t) => {
  for (const [presence, name] of [
    [5, 'presence'],
    [{ rooms: 'some' }, 'presence.rooms'],
    [{ rooms: [''] }, 'presence.rooms'],
    [{ window: 0 }, 'presence.window'],
    [{ heartbeat: 5 }, 'presence.heartbeat'],
    [{ heartbeat: 1000, ttl: 1000 }, 'presence.ttl'],
    [{ grace: -1 }, 'presence.grace'],
    [{ meta: 'name' }, 'presence.meta']
  ] as const) {
    t.throws(() => new Hub({ presence: presence as any }), { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(name.replace('.', '\\.')) }, JSON.stringify(presence))
  }
  t.equal(new Hub({ presence: false as any }).presenceTracker, undefined, 'false: off')
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(hubPlugin)
  await t.rejects(async () => { await app.register(presencePlugin).ready() }, { code: 'VIX_ERR_INVALID_OPTION' }, 'the route without the hub option')
})
