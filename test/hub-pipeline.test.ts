import t from 'tap'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import { Hub } from '../lib/hub/hub.js'
import type { HubOptions } from '../lib/hub/options.js'
import type { ErrorReason } from '../lib/hub/types.js'
import { StorePersistence } from '../lib/store/persistence.js'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import { FakeBroker, FakePersistence, deferred, heldRelaySession, openFake, recordingLogger } from './helpers/fake-transport.js'

/**
 * The publish pipeline seam: accept (server code's envelope, a client's
 * relay, a server-side HTTP publish), store, deliver locally (with the
 * recipient resolvers), distribute (a custom broker), and what observers see.
 */

const frame = (value: unknown): string => JSON.stringify(value)

function setup (options: HubOptions = {}): { hub: Hub, logger: ReturnType<typeof recordingLogger>, reasons: ErrorReason[] } {
  const logger = recordingLogger()
  const hub = new Hub({ logger, ...options })
  const reasons: ErrorReason[] = []
  hub.addObserver({ error: (reason) => { reasons.push(reason) } })
  return { hub, logger, reasons }
}

t.test('publish stamps id, ts and kind, defaults the payload, and reaches the room members only', async (t) => {
  const { hub } = setup()
  const a = openFake(hub)
  const b = openFake(hub)
  const outsider = openFake(hub)
  hub.join(a.session, 'r')
  hub.join(b.session, 'r')
  const message = await hub.publish({ room: 'r', type: 'news' })
  t.match(message, { kind: 'event', room: 'r', type: 'news', payload: {}, id: /^[0-9a-f-]{36}$/ })
  t.ok(Math.abs(Date.parse(message.ts) - Date.now()) < 5000, 'ts is the server time')
  t.same(a.transport.frames(), [message])
  t.same(b.transport.frames(), [message])
  t.same(outsider.transport.sent, [])
  t.equal((await hub.publish({ id: 'mine', room: 'r', type: 'news' })).id, 'mine', 'a given id is kept')
})

t.test('a room-less publish reaches every session; except skips one session, given or by id', async (t) => {
  const { hub } = setup()
  const a = openFake(hub)
  const b = openFake(hub)
  hub.join(a.session, 'r')
  hub.join(b.session, 'r')
  await hub.publish({ type: 'everyone' })
  await hub.publish({ room: 'r', type: 'not-a' }, { except: a.session })
  await hub.publish({ type: 'not-b' }, { except: b.session.id })
  t.same(a.transport.frames().map((f) => f.type), ['everyone', 'not-b'])
  t.same(b.transport.frames().map((f) => f.type), ['everyone', 'not-a'])
})

t.test('publish checks the envelope only: a bad one rejects VIX_ERR_INVALID_MESSAGE with the path and is not delivered; the type and payload are trusted', async (t) => {
  const broker = new FakeBroker()
  const { hub } = setup({ broker })
  let published = 0
  hub.addObserver({ published: () => { published++ } })
  const { session, transport } = openFake(hub)
  const long = 'x'.repeat(200)
  hub.join(session, long)
  hub.join(session, 'r')
  const cases: Array<[object, string]> = [
    [{ room: long, type: 'news' }, '/room'],
    [{ room: 'r', type: 'has space' }, '/type'],
    [{ type: 'news', payload: [1] }, '/payload'],
    [{ id: '', type: 'news' }, '/id']
  ]
  for (const [input, path] of cases) {
    await t.rejects(hub.publish(input as any), { code: 'VIX_ERR_INVALID_MESSAGE', statusCode: 400, path, message: new RegExp(`^${path}: `) }, path)
  }
  t.same(transport.sent, [])
  t.same(broker.published, [])
  t.equal(published, 0)
  hub.on('note', { schema: Type.Object({ text: Type.String() }) }, () => {})
  await hub.publish({ room: 'r', type: 'nobody.handles' })
  await hub.publish({ room: 'r', type: 'note', payload: { text: 1 } })
  t.same(transport.frames().map((f) => [f.type, f.payload]), [['nobody.handles', {}], ['note', { text: 1 }]], 'the type and payload are trusted: any type, any payload')
})

t.test('relay: the sender must be in the room, the message needs one, and its payload must pass the type\'s schema', async (t) => {
  const { hub } = setup({ relayTypes: ['chat'] })
  hub.on('chat', { schema: Type.Object({ text: Type.String({ minLength: 1 }) }) })
  const a = openFake(hub)
  const b = openFake(hub)
  hub.join(a.session, 'r')
  for (const room of ['r', 'other']) hub.join(b.session, room)
  hub.receive(a.session, frame({ id: 'c1', type: 'chat', room: 'other', payload: { text: 'hi' } }))
  hub.receive(a.session, frame({ id: 'c2', type: 'chat', payload: { text: 'hi' } }))
  hub.receive(a.session, frame({ id: 'c3', type: 'chat', room: 'r', payload: { text: '' } }))
  t.match(a.transport.frames(), [
    { kind: 'error', id: 'c1', payload: { code: 'VIX_ERR_NOT_IN_ROOM', message: 'Not in room "other": join it before publishing to it' } },
    { kind: 'error', id: 'c2', payload: { code: 'VIX_ERR_INVALID_MESSAGE', path: '/room' } },
    { kind: 'error', id: 'c3', payload: { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/text' } }
  ])
  await t.rejects(hub.relay(a.session, { type: 'chat', room: 'other', payload: { text: 'hi' } }), { code: 'VIX_ERR_NOT_IN_ROOM', statusCode: 403 })
  await t.rejects(hub.relay(a.session, { type: 'chat', room: 'r', payload: {} }), { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/text' })
  t.same(b.transport.sent, [], 'the rooms got nothing')
})

t.test('relay: authorizePublish, sync or async, sees the session and message; a denial is VIX_ERR_FORBIDDEN and delivers nothing', async (t) => {
  const asked: Array<[string | null, string]> = []
  const { hub } = setup({
    relayTypes: ['chat'],
    authorizePublish: (session, message) => {
      asked.push([session?.id ?? null, message.payload.text as string])
      if (message.payload.text === 'later') return Promise.resolve(true)
      if (message.payload.text === 'never, later') return Promise.resolve(false)
      return message.room !== 'readonly'
    }
  })
  const a = openFake(hub, undefined, 'a')
  const b = openFake(hub)
  for (const room of ['r', 'readonly']) { hub.join(a.session, room); hub.join(b.session, room) }
  hub.receive(a.session, frame({ id: 'c1', type: 'chat', room: 'readonly', payload: { text: 'sync no' } }))
  hub.receive(a.session, frame({ id: 'c2', type: 'chat', room: 'r', payload: { text: 'never, later' } }))
  hub.receive(a.session, frame({ id: 'c3', type: 'chat', room: 'r', payload: { text: 'later' } }))
  const frames = await a.transport.waitForFrames(4)
  t.match(frames, [
    { kind: 'error', id: 'c1', payload: { code: 'VIX_ERR_FORBIDDEN', message: 'Forbidden: may not publish "chat" to room "readonly"' } },
    { kind: 'error', id: 'c2', payload: { code: 'VIX_ERR_FORBIDDEN' } },
    { kind: 'event', id: 'c3' },
    { kind: 'ack', id: 'c3' }
  ])
  t.same(b.transport.frames().map((f) => f.id), ['c3'])
  t.same(asked, [['a', 'sync no'], ['a', 'never, later'], ['a', 'later']])
})

t.test('relay: every member gets it, sender included, then the sender is acked; handlers of the type run in between', async (t) => {
  const { hub } = setup({ relayTypes: ['chat'] })
  const a = openFake(hub)
  const b = openFake(hub)
  hub.join(a.session, 'r')
  hub.join(b.session, 'r')
  hub.on('chat', (session) => { session.send({ kind: 'system', type: 'handled', ts: '', payload: {} }) })
  hub.receive(a.session, frame({ id: 'm1', type: 'chat', room: 'r', payload: { text: 'hi' } }))
  t.match(a.transport.frames(), [
    { kind: 'event', id: 'm1', type: 'chat', room: 'r', payload: { text: 'hi' } },
    { kind: 'system', type: 'handled' },
    { kind: 'ack', id: 'm1', type: 'chat', room: 'r' }
  ])
  t.match(b.transport.frames(), [{ kind: 'event', id: 'm1' }])
  const result = await hub.receiveRequest(a.session, frame({ type: 'chat', room: 'r' }))
  const event = b.transport.frames().at(-1)
  t.same(result, { ok: true, id: event.id }, 'without a client id the result names the server id')
  t.ok(event.id.length > 0)
  t.match(await hub.relay(a.session, { type: 'chat', room: 'r', payload: {} }), { kind: 'event', room: 'r' })
})

t.test('publishFrom http: the type must be known whatever rejectUnknownTypes says; its schema and authorizePublish(null, message) apply', async (t) => {
  const asked: Array<[unknown, string]> = []
  const { hub } = setup({
    rejectUnknownTypes: false,
    relayTypes: ['chat'],
    authorizePublish: async (session, message) => { asked.push([session, message.type]); return message.room !== 'readonly' && message.room !== undefined }
  })
  hub.on('note', { schema: Type.Object({ text: Type.String() }) })
  const { session, transport } = openFake(hub)
  hub.join(session, 'r')
  await t.rejects(hub.publishFrom({ room: 'r', type: 'nobody.handles' }, 'http'), { code: 'VIX_ERR_UNKNOWN_TYPE', statusCode: 400 })
  await t.rejects(hub.publishFrom({ room: 'r', type: 'note', payload: { text: 2 } }, 'http'), { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/text' })
  await t.rejects(hub.publishFrom({ room: 'readonly', type: 'chat' }, 'http'), { code: 'VIX_ERR_FORBIDDEN', statusCode: 403, message: 'Forbidden: may not publish "chat" to room "readonly"' })
  await t.rejects(hub.publishFrom({ type: 'chat' }, 'http'), { code: 'VIX_ERR_FORBIDDEN', message: 'Forbidden: may not publish "chat"' })
  t.same(transport.sent, [])
  await hub.publishFrom({ room: 'r', type: 'chat' }, 'http')
  await hub.publishFrom({ room: 'r', type: 'note', payload: { text: 'ok' } }, 'http')
  t.same(transport.frames().map((f) => f.type), ['chat', 'note'])
  t.same(asked, [[null, 'chat'], [null, 'chat'], [null, 'chat'], [null, 'note']], 'authorizePublish runs after the type and schema checks, with a null session')
})

t.test('publishFrom http refuses the types the server itself speaks, even room.join with a handler registered', async (t) => {
  const { hub } = setup()
  hub.on('room.join', () => {})
  const { session, transport } = openFake(hub)
  hub.join(session, 'r')
  await t.rejects(hub.publishFrom({ room: 'r', type: 'room.join', payload: { room: 'r' } }, 'http'), { code: /^VIX_ERR_/, statusCode: 400 })
  t.same(transport.sent, [], 'no member got a forged room.join event')
})

t.test('recipient resolvers add recipients to room messages, never twice and never the excepted one; a throwing one is logged', async (t) => {
  const { hub, logger } = setup()
  const member = openFake(hub)
  const extra = openFake(hub)
  const other = openFake(hub)
  const excepted = openFake(hub)
  hub.join(member.session, 'r')
  hub.join(excepted.session, 'r')
  let asked = 0
  const removeFirst = hub.addRecipientResolver(() => { asked++; return [member.session, extra.session, extra.session, excepted.session] })
  hub.addRecipientResolver(() => { throw new Error('resolver bug') })
  hub.addRecipientResolver((message) => message.type === 'dm' ? [extra.session, other.session] : undefined)
  let outbound = 0
  hub.addObserver({ messagesOutbound: (count) => { outbound += count } })
  await hub.publish({ room: 'r', type: 'dm' }, { except: excepted.session })
  t.same([member, extra, other, excepted].map(({ transport }) => transport.sent.length), [1, 1, 1, 0])
  t.equal(outbound, 3, 'counted once per recipient')
  t.match(logger.errors, [['vix-realtime: recipient resolver failed', { err: { message: 'resolver bug' } }]])
  await hub.publish({ type: 'broadcast' })
  t.same([member, extra, other, excepted].map(({ transport }) => transport.sent.length), [2, 2, 2, 1], 'a room-less message reaches everyone once')
  t.equal(asked, 1, 'room-less messages are not resolved')
  removeFirst()
  await hub.publish({ room: 'r', type: 'news' })
  t.equal(asked, 1, 'a removed resolver is not asked')
  t.same([member, extra, other].map(({ transport }) => transport.sent.length), [3, 2, 2])
})

t.test('distribute: the broker gets every delivered envelope with this node id, and the room position when stored', async (t) => {
  const broker = new FakeBroker()
  const { hub } = setup({ broker, nodeId: 'node-a' })
  t.equal(hub.nodeId, 'node-a')
  const { session, transport } = openFake(hub)
  hub.join(session, 'r')
  const live = await hub.publish({ room: 'r', type: 'news' }, { except: session })
  const all = await hub.publish({ type: 'all' })
  const persistence = new FakePersistence(hub)
  hub.attachPersistence(persistence)
  t.equal(hub.persistence, persistence)
  const stored = await hub.publish({ id: 's1', room: 'r', type: 'news' })
  const again = await hub.publish({ id: 's1', room: 'r', type: 'news', payload: { changed: true } })
  // As another node gets them: through JSON.
  t.strictSame(JSON.parse(JSON.stringify(broker.published)), [
    { node: 'node-a', room: 'r', except: session.id, message: live },
    { node: 'node-a', message: all },
    { node: 'node-a', room: 'r', offset: 1, epoch: 'e1', message: stored }
  ], 'a duplicate is neither delivered nor distributed')
  t.same(again, stored, 'a duplicate resolves with the stored message')
  t.same(transport.frames().map((f) => f.id), [all.id, 's1'], 'delivered locally once, the duplicate not at all')
})

t.test('a broker whose publish throws or rejects never blocks local delivery; an outage is logged once, the next one again', async (t) => {
  for (const how of ['throws', 'rejects'] as const) {
    const broker = new FakeBroker()
    broker.onPublish = () => { if (how === 'throws') throw new Error('broker down'); return Promise.reject(new Error('broker down')) }
    const { hub, logger } = setup({ broker })
    const { session, transport } = openFake(hub)
    hub.join(session, 'r')
    await hub.publish({ room: 'r', type: 'one' })
    await hub.publish({ room: 'r', type: 'two' })
    await new Promise((resolve) => setImmediate(resolve))
    t.same(transport.frames().map((f) => f.type), ['one', 'two'], `delivered while the broker ${how}`)
    t.same(logger.errors.map(([message]) => message), ['vix-realtime: broker publish failed; local delivery goes on'], `logged once when it ${how}`)
  }
  const broker = new FakeBroker()
  let down = true
  broker.onPublish = () => down ? Promise.reject(new Error('down')) : Promise.resolve()
  const { hub, logger } = setup({ broker })
  for (const state of [true, false, true]) {
    down = state
    await hub.publish({ type: 'x' })
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(logger.errors.length, 2, 'an async broker: an outage after a success is logged again (a sync one: see the next test below)')
})

t.test('a sync broker\'s outage after a success is logged again', async (t) => {
  const broker = new FakeBroker()
  let down = true
  broker.onPublish = () => { if (down) throw new Error('down') }
  const { hub, logger } = setup({ broker })
  for (const state of [true, false, true]) {
    down = state
    await hub.publish({ type: 'x' })
  }
  t.equal(logger.errors.length, 2, 'two outages, two log lines')
})

t.test('the broker subscribes on a room\'s first local member and unsubscribes after its last; a failing call is logged', async (t) => {
  const broker = new FakeBroker()
  const { hub, logger } = setup({ broker })
  const a = openFake(hub)
  const b = openFake(hub)
  hub.join(a.session, 'r')
  hub.join(b.session, 'r')
  hub.leave(a.session, 'r')
  t.same(broker.calls, ['subscribe r'])
  hub.closeSession(b.session, 1000)
  t.same(broker.calls, ['subscribe r', 'unsubscribe r'])
  broker.onSubscribe = (room) => { if (room === 'sync') throw new Error('subscribe threw'); return Promise.reject(new Error('subscribe rejected')) }
  hub.join(a.session, 'sync')
  hub.join(a.session, 'async')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(logger.errors.map(([message]) => message), ['vix-realtime: broker subscribe failed', 'vix-realtime: broker subscribe failed'])
  await hub.publish({ room: 'async', type: 'still.works' })
  t.equal(a.transport.frames().at(-1).type, 'still.works')
})

t.test('a room.join is acked once the broker subscription is active, even when it fails', async (t) => {
  const broker = new FakeBroker()
  const subscribed = deferred()
  broker.onSubscribe = () => subscribed.promise
  const { hub, logger } = setup({ broker })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'j1', type: 'room.join', payload: { room: 'r' } }))
  t.ok(session.rooms.has('r'), 'joined at once')
  t.type(hub.roomReady('r'), Promise)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(transport.sent, [], 'not acked before the subscription is active')
  subscribed.resolve()
  t.match(await transport.waitForFrames(1), [{ kind: 'ack', type: 'room.join', id: 'j1' }])
  t.equal(hub.roomReady('r'), undefined, 'ready once subscribed')

  const failing = deferred()
  broker.onSubscribe = () => failing.promise
  hub.receive(session, frame({ id: 'j2', type: 'room.join', payload: { room: 'down' } }))
  failing.reject(new Error('no broker'))
  t.match(await transport.waitForFrames(2), [{ id: 'j1' }, { kind: 'ack', id: 'j2' }])
  t.equal(logger.errors.length, 1)
})

t.test('envelopes from another node are delivered, the node\'s own are ignored; the broker is started and closed by the hub', async (t) => {
  const broker = new FakeBroker()
  const { hub } = setup({ broker, nodeId: 'node-a' })
  await hub.started
  const a = openFake(hub)
  const b = openFake(hub)
  hub.join(a.session, 'r')
  const message = { id: 'm1', kind: 'event' as const, room: 'r', type: 'news', ts: new Date().toISOString(), payload: {} }
  broker.deliver({ node: 'node-b', room: 'r', except: a.session.id, message })
  broker.deliver({ node: 'node-a', room: 'r', message: { ...message, id: 'mine' } })
  broker.deliver({ node: 'node-b', message: { ...message, id: 'all', room: undefined } })
  t.same(a.transport.frames().map((f) => f.id), ['m1', 'all'], 'another node\'s except names a session of that node')
  t.same(b.transport.frames().map((f) => f.id), ['all'])
  t.equal(hub.deliverLocal({ node: 'node-b', room: 'r', message }), 1, 'deliverLocal says how many got it')
  t.equal(hub.deliverLocal({ node: 'node-b', room: 'empty', message: { ...message, room: 'empty' } }), 0)
  await hub.lifecycle.finalizeShutdown()
  t.same(broker.calls.at(-1), 'close')
})

t.test('observers count inbound frames, outbound frames and publishes', async (t) => {
  const { hub } = setup({ relayTypes: ['chat'] })
  const seen: string[] = []
  const remove = hub.addObserver({
    messageInbound: () => { seen.push('in') },
    messagesOutbound: (count) => { seen.push(`out ${count}`) },
    published: (message, seconds) => { seen.push(`published ${message.type} ${seconds >= 0 && seconds < 5}`) }
  })
  const a = openFake(hub)
  const b = openFake(hub)
  hub.join(a.session, 'r')
  hub.join(b.session, 'r')
  await hub.publish({ room: 'r', type: 'news' })
  await hub.publish({ room: 'empty', type: 'news' })
  hub.receive(a.session, frame({ id: 'c1', type: 'chat', room: 'r' }))
  hub.receive(a.session, 'raw')
  hub.receive(a.session, frame({ type: 'bad type' }))
  remove()
  remove()
  await hub.publish({ room: 'r', type: 'unseen' })
  t.same(seen, [
    'out 2', 'published news true',
    'out 0', 'published news true',
    'in', 'out 2', 'published chat true', 'out 1',
    'in',
    'in', 'out 1'
  ], 'the relay counts two deliveries and its ack; the error frame counts one')
})

t.test('observers get one error reason per refused or failed frame', async (t) => {
  const { hub, reasons } = setup({ relayTypes: ['chat'], authorizePublish: (_session, message) => message.room !== 'readonly' })
  hub.on('bug', () => { throw new Error('bug') })
  const { session } = openFake(hub)
  hub.join(session, 'readonly')
  for (const value of [{ type: 'bad type' }, { type: 'nobody.handles' }, { type: 'chat', room: 'elsewhere' }, { type: 'chat', room: 'readonly' }, { type: 'bug' }]) {
    hub.receive(session, frame(value))
  }
  t.same(reasons, ['invalid_message', 'invalid_message', 'forbidden', 'forbidden', 'internal'])
})

t.test('a relay whose commit fails is answered VIX_ERR_INTERNAL with its id, logged, and delivered to nobody', async (t) => {
  const { hub, logger, reasons } = setup({ relayTypes: ['chat'] })
  const { session, transport, persistence } = heldRelaySession(hub)
  hub.receive(session, frame({ id: 'c1', type: 'chat', room: 'r' }))
  persistence.fail(new Error('disk full'))
  t.match(await transport.waitForFrames(1), [{ kind: 'error', id: 'c1', payload: { code: 'VIX_ERR_INTERNAL' } }])
  t.equal(transport.sent.length, 1)
  t.match(logger.errors, [['vix-realtime: message handler failed', { err: { message: 'disk full' } }]])
  t.same(reasons, ['internal'])
})

t.test('a burst of 200 relayed frames shares one group commit of the SQLite store; events, acks and rows keep their order',
  async (t) => {
    const hub = new Hub({ relayTypes: ['chat'] })
    const store = new SqliteMessageStore({ path: join(t.testdir(), 'messages.db') })
    t.teardown(() => store.close())
    hub.attachPersistence(new StorePersistence(hub.persistenceParts(), store))
    const { session, transport } = openFake(hub)
    hub.join(session, 'r')
    const ids = Array.from({ length: 200 }, (_, i) => `m${i}`)
    for (const [i, id] of ids.entries()) hub.receive(session, frame({ id, type: 'chat', room: 'r', payload: { i } }))
    await transport.waitForFrames(200, (f) => f.kind !== 'event')
    t.equal(store.commits, 1, 'one transaction for the whole burst')
    t.same(transport.frames('event').map((f) => f.id), ids, 'events in order')
    t.same(transport.frames('ack').map((f) => f.id), ids, 'acks in order')
    t.same(transport.frames('error'), [])
    const order = transport.frames().map((f) => `${f.kind} ${f.id}`)
    t.ok(ids.every((id) => order.indexOf(`event ${id}`) < order.indexOf(`ack ${id}`)), 'each acked after its delivery')
    const page = await store.listByRoom('r', { limit: 500 })
    t.same(page.messages.map((m) => m.message.id), ids, 'stored in order')
  })
