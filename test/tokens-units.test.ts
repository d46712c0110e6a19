import t from 'tap'
import type { ControlMessage } from '../lib/broker/types.js'
import { Control } from '../lib/hub/control.js'
import { Expiry } from '../lib/hub/expiry.js'
import { Hub } from '../lib/hub/hub.js'
import { LongPollManager } from '../lib/long-polling/manager.js'
import { unwrapIdentity } from '../lib/identity.js'
import { FakeClock } from './helpers/fake-clock.js'
import { openFake } from './helpers/fake-transport.js'

const ignore = (): void => {}

t.test('Control: requests from other nodes are acted on once, malformed ones ignored; replies only count for their caller', async (t) => {
  const hub = new Hub({ nodeId: 'here', identityKey: (identity) => (identity as { user: string }).user })
  const ada = openFake(hub, { user: 'ada' })
  hub.join(ada.session, 'general')
  const sent: ControlMessage[] = []
  const warnings: string[] = []
  const control = new Control({
    nodeId: 'here',
    broker: { publishControl: (message) => { sent.push(message) } },
    sessions: hub.sessions,
    identityKey: (identity) => (identity as { user: string }).user,
    leave: (session, room) => hub.leave(session, room),
    send: (session, frame) => session.send(frame),
    logger: { warn: (_o, msg) => { warnings.push(String(msg)) }, debug: ignore }
  })
  control.receive({ node: 'here', type: 'control.request', id: 'own', action: 'count', key: 'ada' })
  t.same(sent, [], 'its own messages are ignored')
  for (const malformed of [{ action: 'count' }, { action: 'leave', key: 'ada' }, { action: 'disconnect', key: 'ada', code: 'x' }, { action: 'nope', key: 'ada' }, { action: 'count', key: 'ada', id: 7 }]) {
    control.receive({ node: 'there', type: 'control.request', id: 'm', ...malformed })
  }
  t.same(sent, [], 'malformed requests get no answer')
  control.receive({ node: 'there', type: 'control.request', id: 'q1', action: 'leave', key: 'ada', room: 'general' })
  control.receive({ node: 'there', type: 'control.request', id: 'q1', action: 'leave', key: 'ada', room: 'general' })
  t.same(sent, [{ node: 'here', type: 'control.reply', id: 'q1', to: 'there', sessions: 1 }], 'acted on and answered once per request id')
  t.ok(ada.transport.sent.some((frame) => frame.includes('"room.left"')))
  control.receive({ node: 'there', type: 'control.request', id: 'q2', action: 'disconnect', session: ada.session.id, code: 4005, reason: 'x' })
  t.same(ada.transport.closedWith, { code: 4005, reason: 'x' }, 'a request by session id')
  control.receive({ node: 'there', type: 'control.reply', id: 'q9', to: 'elsewhere', sessions: 3 })
  control.receive({ node: 'there', type: 'control.reply', id: 'unknown', to: 'here', sessions: 3 })
  control.receive({ node: 'there', type: 'something.else' })

  // A call: a reply counts once per node; the call resolves at `nodes`.
  const call = control.connections({ identity: { user: 'bob' } }, { nodes: 2, timeout: 5000 })
  const request = sent.at(-1) as ControlMessage
  control.receive({ node: 'there', type: 'control.reply', id: request.id, to: 'here', sessions: 2 })
  control.receive({ node: 'there', type: 'control.reply', id: request.id, to: 'here', sessions: 5 })
  t.same(await call, { sessions: 2, nodes: { here: 0, there: 2 } })
  t.same(await control.connections({ identity: { user: 'bob' } }, { nodes: 1 }), { sessions: 0, nodes: { here: 0 } }, 'nodes: 1 is this node alone')

  // Over the SEEN bound, the oldest ids are forgotten.
  for (let i = 0; i < 1030; i++) control.receive({ node: 'there', type: 'control.request', id: `s${i}`, action: 'count', key: 'ada' })
  t.equal(sent.filter((m) => m.type === 'control.reply').length, 2 + 1030)

  const failing = new Control({ ...{ nodeId: 'n', sessions: hub.sessions, identityKey: () => 'k', leave: () => false, send: () => false }, broker: { publishControl: async () => { throw new Error('down') } }, logger: { warn: (_o, msg) => { warnings.push(String(msg)) }, debug: ignore } })
  t.same(await failing.connections({ identity: 'x' }, { timeout: 5000 }), { sessions: 0, nodes: { n: 0 } }, 'a broker that fails: this node only, at once')
  t.match(warnings, [/could not reach the other nodes/])
  failing.receive({ node: 'other', type: 'control.request', id: 'z', action: 'count', key: 'k' })
  await new Promise((resolve) => setImmediate(resolve))
  t.match(warnings, [/could not reach/, /answer could not be sent/])
})

t.test('Expiry: a token far in the future is waited for in steps under the timer limit', async (t) => {
  const clock = new FakeClock()
  const hub = new Hub()
  const { session, transport } = openFake(hub)
  session.renew(undefined, 3 * 2_147_483_647)
  const expiry = new Expiry({ clock: { now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout }, grace: 0, send: (s, frame) => s.send(frame) })
  expiry.track(session)
  t.ok(clock.delays.every((delay) => delay <= 2_147_483_647), 'no delay over 2^31 - 1')
  clock.tick(3 * 2_147_483_647 - 30_001)
  t.notOk(transport.sent.some((frame) => frame.includes('session.expiring')))
  clock.tick(1)
  t.ok(transport.sent.some((frame) => frame.includes('session.expiring')))
  clock.tick(30_000)
  t.equal(transport.closedWith?.code, 4001)
  expiry.forget(session)
})

t.test('long polling: a session the server closes with nothing queued ends at once', async (t) => {
  const hub = new Hub()
  const manager = new LongPollManager(hub.longPollParts(), { sessionTtl: 1000, maxBuffer: 8 })
  const { poll, session } = manager.create(undefined)
  session.close(4000, 'bye')
  t.equal(manager.size, 0)
  t.equal(manager.get(poll.id, undefined), undefined)
  manager.close()
})

t.test('unwrapIdentity: only exactly { identity, expiresAt } with a finite time is a token that expires', async (t) => {
  t.same(unwrapIdentity({ identity: 'a', expiresAt: 5 }), { identity: 'a', expiresAt: 5 })
  t.same(unwrapIdentity({ identity: 'a', expiresAt: new Date(7) }), { identity: 'a', expiresAt: 7 })
  t.equal(unwrapIdentity({ identity: 'a', expiresAt: Number.NaN }).expiresAt, undefined, 'not a finite time: an identity like any other')
  t.same(unwrapIdentity({ identity: 'a', expiresAt: 5, role: 'x' }), { identity: { identity: 'a', expiresAt: 5, role: 'x' }, expiresAt: undefined })
  t.same(unwrapIdentity(['identity', 'expiresAt']), { identity: ['identity', 'expiresAt'], expiresAt: undefined })
  t.same(unwrapIdentity('ada'), { identity: 'ada', expiresAt: undefined })
})
