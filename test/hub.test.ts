import t from 'tap'
import { Type } from '@sinclair/typebox'
import { Hub, type HubObserver } from '../lib/hub.js'
import { FakeTransport } from './helpers/fake-transport.js'

function open (hub: Hub, identity?: unknown): { transport: FakeTransport, session: ReturnType<Hub['openSession']> } {
  const transport = new FakeTransport()
  return { transport, session: hub.openSession(transport, identity) }
}

t.test('publish stamps id, ts, kind and payload and fans out to the room only', async (t) => {
  const hub = new Hub()
  const a = open(hub)
  const b = open(hub)
  const outsider = open(hub)
  hub.join(a.session, 'r')
  hub.join(b.session, 'r')
  const msg = await hub.publish({ room: 'r', type: 'news' })
  t.type(msg.id, 'string')
  t.equal(msg.kind, 'event')
  t.same(msg.payload, {})
  t.ok(!Number.isNaN(Date.parse(msg.ts)))
  t.same(a.transport.frames(), [msg])
  t.same(b.transport.frames(), [msg])
  t.same(outsider.transport.frames(), [])
})

t.test('a room-less publish reaches every session; except skips one', async (t) => {
  const hub = new Hub()
  const a = open(hub)
  const b = open(hub)
  await hub.publish({ type: 'all' })
  await hub.publish({ type: 'not-a' }, { except: a.session })
  await hub.publish({ type: 'not-b' }, { except: b.session.id })
  t.same(a.transport.frames().map((f) => f.type), ['all', 'not-b'])
  t.same(b.transport.frames().map((f) => f.type), ['all', 'not-a'])
})

t.test('a broadcast is serialized once for all recipients', async (t) => {
  const hub = new Hub()
  const sessions = Array.from({ length: 5 }, () => open(hub))
  const original = JSON.stringify
  let calls = 0
  JSON.stringify = ((...args: Parameters<typeof JSON.stringify>) => { calls++; return original(...args) }) as typeof JSON.stringify
  try {
    await hub.publish({ type: 'x', payload: { n: 1 } })
  } finally {
    JSON.stringify = original
  }
  t.equal(calls, 1)
  for (const { transport } of sessions) t.equal(transport.sent.length, 1)
})

t.test('rooms: two maps, empty rooms deleted, closed sessions leave every room', async (t) => {
  const hub = new Hub()
  const a = open(hub)
  const b = open(hub)
  t.equal(hub.join(a.session, 'r1'), true)
  t.equal(hub.join(a.session, 'r1'), false)
  hub.join(a.session, 'r2')
  hub.join(b.session, 'r1')
  t.same(hub.rooms.names().sort(), ['r1', 'r2'])
  t.equal(hub.rooms.size('r1'), 2)
  t.equal(hub.leave(a.session, 'r2'), true)
  t.equal(hub.leave(a.session, 'r2'), false)
  t.same(hub.rooms.names(), ['r1'])
  hub.closeSession(a.session, 1000)
  hub.closeSession(a.session, 1000)
  t.equal(hub.rooms.size('r1'), 1)
  t.same([...a.session.rooms], [])
  hub.closeSession(b.session, 1006)
  t.equal(hub.rooms.count, 0)
  t.equal(hub.sessions.size, 0)
  t.equal(hub.getSession(a.session.id), undefined)
})

t.test('a slow consumer is closed 1013 and others still receive', async (t) => {
  const hub = new Hub({ maxBufferedAmount: 100 })
  const reasons: string[] = []
  hub.addObserver({ error: (reason) => reasons.push(reason) })
  const slow = open(hub)
  const fast = open(hub)
  slow.transport.buffered = 101
  const msg = await hub.publish({ type: 'x' })
  t.same(slow.transport.closedWith, { code: 1013, reason: 'slow consumer' })
  t.same(slow.transport.sent, [])
  t.same(fast.transport.frames(), [msg])
  t.same(reasons, ['slow_consumer'])
  t.equal(slow.session.send({ kind: 'event', type: 'y', ts: '', payload: {} }), false)
})

t.test('handlers: many per event, lifecycle hooks, failures isolated', async (t) => {
  const errors: Error[] = []
  const logged: unknown[] = []
  const hub = new Hub({ logger: { debug () {}, warn () {}, error: (obj) => logged.push(obj) } })
  const events: string[] = []
  hub.onOpen(() => { events.push('open1') })
  hub.onOpen(() => { throw new Error('open hook broke') })
  hub.onOpen(async () => { throw new Error('async open hook broke') })
  hub.onClose((_s, code) => { events.push(`close:${code}`) })
  hub.onError((_s, error) => { errors.push(error) })
  hub.onError(() => { throw new Error('error hook broke') })
  const a = open(hub)
  await new Promise((resolve) => setImmediate(resolve))
  hub.closeSession(a.session, 4000)
  t.same(events, ['open1', 'close:4000'])
  t.same(errors.map((e) => e.message), ['open hook broke', 'async open hook broke'])
  t.ok(logged.length >= 4)
})

t.test('receive: typed dispatch, ack, unknown type, schema payloads, throwing handlers', async (t) => {
  const hub = new Hub()
  const seen: unknown[] = []
  hub.on('ping', (session, msg) => { seen.push(msg) })
  hub.on('strict', { schema: Type.Object({ n: Type.Integer() }) }, (_s, msg) => { seen.push(msg.payload.n) })
  hub.on('boom', () => { throw new Error('boom') })
  hub.on('reject', async () => { throw 'not an error' }) // eslint-disable-line no-throw-literal
  const { transport, session } = open(hub)
  t.same(await hub.receive(session, '{"type":"ping","id":"p1"}', false), { ok: true, id: 'p1' })
  t.same(seen, [{ type: 'ping', payload: {}, id: 'p1' }])
  t.match(transport.frames().at(-1), { kind: 'ack', type: 'ping', id: 'p1' })
  t.match(await hub.receive(session, '{"type":"nope"}', false), { ok: false, code: 'VIX_ERR_UNKNOWN_TYPE' })
  t.match(await hub.receive(session, '{"type":"strict","payload":{"n":"x"}}', false), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/n' })
  t.match(await hub.receive(session, '{"type":"strict","payload":{"n":3}}', false), { ok: true })
  t.equal(seen.at(-1), 3)
  t.match(await hub.receive(session, '{"type":"boom","id":"b"}', false), { ok: false, code: 'VIX_ERR_INTERNAL', id: 'b' })
  t.match(await hub.receive(session, '{"type":"reject"}', false), { ok: false, code: 'VIX_ERR_INTERNAL' })
  t.match(transport.frames().at(-1), { kind: 'error', type: 'error', payload: { code: 'VIX_ERR_INTERNAL' } })
  const before = transport.sent.length
  t.match(await hub.receive(session, '{"type":5}', false, false), { ok: false, path: '/type' })
  t.equal(transport.sent.length, before, 'replyErrors=false sends no frame')
})

t.test('rejectUnknownTypes: false ignores unhandled types', async (t) => {
  const hub = new Hub({ rejectUnknownTypes: false })
  const { transport, session } = open(hub)
  t.same(await hub.receive(session, '{"type":"whatever"}', false), { ok: true })
  t.same(transport.sent, [])
})

t.test('raw handlers see raw frames and typed ones (flagged); a throw is an internal error', async (t) => {
  const hub = new Hub({ rejectUnknownTypes: false })
  const raw: unknown[] = []
  hub.onMessage((_s, data, info) => { raw.push([String(data), info]) })
  const { session } = open(hub)
  await hub.receive(session, 'hello', false)
  await hub.receive(session, Buffer.from('bin'), true)
  await hub.receive(session, '{"type":"t"}', false)
  t.same(raw, [['hello', { binary: false, typed: false }], ['bin', { binary: true, typed: false }], ['{"type":"t"}', { binary: false, typed: true }]])
  hub.onMessage(() => { throw new Error('raw broke') })
  t.match(await hub.receive(session, 'x', false), { ok: false, code: 'VIX_ERR_INTERNAL' })
  t.match(await hub.receive(session, '{"type":"t","id":"i"}', false), { ok: false, code: 'VIX_ERR_INTERNAL', id: 'i' })
})

t.test('frames of one session are processed in order even when handlers are slow', async (t) => {
  const hub = new Hub()
  const order: number[] = []
  hub.on('work', async (_s, msg) => {
    const n = msg.payload.n as number
    await new Promise((resolve) => setTimeout(resolve, n === 0 ? 20 : 0))
    order.push(n)
  })
  const { session } = open(hub)
  await Promise.all([0, 1, 2, 3].map((n) => hub.receive(session, JSON.stringify({ type: 'work', payload: { n } }), false)))
  t.same(order, [0, 1, 2, 3])
})

t.test('room.join / room.leave: validation, authorization, acks, handlers', async (t) => {
  const hub = new Hub({ authorizeJoin: (_s, room) => room !== 'secret' })
  const joined: string[] = []
  hub.on('room.join', (_s, msg) => { joined.push(msg.payload.room as string) })
  const { transport, session } = open(hub)
  await hub.receive(session, '{"type":"room.join","id":"j1","payload":{"room":"r"}}', false)
  t.match(transport.frames().at(-1), { kind: 'ack', type: 'room.join', id: 'j1', room: 'r', payload: { room: 'r', recovered: false, replayed: 0, latestId: null } })
  t.same([...session.rooms], ['r'])
  t.same(joined, ['r'])
  t.match(await hub.receive(session, '{"type":"room.join","payload":{"room":"secret"}}', false), { ok: false, code: 'VIX_ERR_FORBIDDEN' })
  t.notOk(session.rooms.has('secret'))
  t.match(await hub.receive(session, '{"type":"room.join","payload":{}}', false), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/room' })
  t.match(await hub.receive(session, '{"type":"room.join","payload":{"room":"r","x":1}}', false), { ok: false, path: '/payload/x' })
  await hub.receive(session, '{"type":"room.leave","payload":{"room":"r"}}', false)
  t.match(transport.frames().at(-1), { kind: 'ack', type: 'room.leave', room: 'r', payload: { room: 'r' } })
  t.equal(session.rooms.size, 0)
  t.match(await hub.receive(session, '{"type":"room.leave","payload":[]}', false), { ok: false, path: '/payload' })
})

t.test('relay: membership, room required, authorizePublish, sender included, ack after publish', async (t) => {
  const hub = new Hub({ relayTypes: ['chat'], authorizePublish: (_s, msg) => msg.payload.bad !== true })
  const a = open(hub)
  const b = open(hub)
  hub.join(a.session, 'r')
  hub.join(b.session, 'r')
  t.match(await hub.receive(a.session, '{"type":"chat","payload":{}}', false), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', path: '/room' })
  t.match(await hub.receive(a.session, '{"type":"chat","room":"other","payload":{}}', false), { ok: false, code: 'VIX_ERR_NOT_IN_ROOM' })
  t.match(await hub.receive(a.session, '{"type":"chat","room":"r","payload":{"bad":true}}', false), { ok: false, code: 'VIX_ERR_FORBIDDEN' })
  const result = await hub.receive(a.session, '{"type":"chat","room":"r","id":"m1","payload":{"t":1}}', false)
  t.same(result, { ok: true, id: 'm1' })
  const aFrames = a.transport.frames()
  t.match(aFrames.at(-2), { kind: 'event', type: 'chat', id: 'm1', room: 'r', payload: { t: 1 } })
  t.match(aFrames.at(-1), { kind: 'ack', type: 'chat', id: 'm1', room: 'r' })
  t.match(b.transport.frames().at(-1), { kind: 'event', id: 'm1' })
  const stamped = await hub.receive(a.session, '{"type":"chat","room":"r","payload":{}}', false)
  t.ok(stamped.ok && typeof stamped.id === 'string' && stamped.id.length > 0, 'server id returned when the client gave none')
})

t.test('observers see sessions, messages, errors and publishes; removal stops them', async (t) => {
  const hub = new Hub()
  const seen: string[] = []
  const observer: HubObserver = {
    sessionOpened: () => seen.push('open'),
    sessionClosed: (_s, code) => seen.push(`close:${code}`),
    messageInbound: () => seen.push('in'),
    messagesOutbound: (n) => seen.push(`out:${n}`),
    error: (reason) => seen.push(`error:${reason}`),
    published: (_m, seconds) => seen.push(seconds >= 0 ? 'published' : 'negative')
  }
  const remove = hub.addObserver(observer)
  const { session } = open(hub)
  await hub.publish({ type: 'x' })
  await hub.receive(session, '{"type":5}', false)
  hub.closeSession(session, 1000)
  remove()
  remove()
  open(hub)
  t.same(seen, ['open', 'out:1', 'published', 'in', 'error:invalid_message', 'out:1', 'close:1000'])
})

t.test('catalogue lists schema types and relay types, sorted', async (t) => {
  const hub = new Hub({ relayTypes: ['b.relay'] })
  const schema = Type.Object({ text: Type.String() })
  hub.on('a.typed', { schema, description: 'typed' }, () => {})
  hub.on('c.plain', () => {})
  t.same(hub.catalogue(), [
    { type: 'a.typed', schema, description: 'typed', relay: false },
    { type: 'b.relay', relay: true },
    { type: 'c.plain', schema: undefined, description: undefined, relay: false }
  ])
})

t.test('authenticate: identity, or a throw for null/false/undefined', async (t) => {
  t.equal(await new Hub().authenticate({}), undefined, 'open by default')
  const hub = new Hub({ authenticate: (req: any) => req.user ?? null })
  t.equal(await hub.authenticate({ user: 'ann' }), 'ann')
  const reasons: string[] = []
  hub.addObserver({ error: (reason) => reasons.push(reason) })
  await t.rejects(hub.authenticate({}), { code: 'VIX_ERR_UNAUTHORIZED', statusCode: 401 } as any)
  await t.rejects(new Hub({ authenticate: () => false }).authenticate({}), { code: 'VIX_ERR_UNAUTHORIZED' } as any)
  await t.rejects(new Hub({ authenticate: () => { throw new Error('token expired') } }).authenticate({}), { code: 'VIX_ERR_UNAUTHORIZED', message: /token expired/ } as any)
  t.same(reasons, ['unauthorized'], 'a rejection is counted once')
})
