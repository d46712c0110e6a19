import t from 'tap'
import { Hub } from '../lib/hub/hub.js'
import type { HubOptions } from '../lib/hub/options.js'
import type { ErrorReason } from '../lib/hub/types.js'
import { FakePersistence, FakeTransport, deferred, heldRelaySession, openFake, recordingLogger } from './helpers/fake-transport.js'

/**
 * The session seam of the hub: opening and closing sessions, room
 * membership (server-side, by frame, and the `Rooms` events), identities,
 * and each session's inbox: order, the `maxQueuedFrames` bound, HTTP sends
 * through `receiveRequest`, and slow consumers.
 */

const frame = (value: unknown): string => JSON.stringify(value)

function setup (options: HubOptions = {}): { hub: Hub, reasons: ErrorReason[] } {
  const hub = new Hub({ logger: recordingLogger(), ...options })
  const reasons: ErrorReason[] = []
  hub.addObserver({ error: (reason) => { reasons.push(reason) } })
  return { hub, reasons }
}

t.test('openSession registers a session with its identity and id; closeSession forgets it, leaving every room, once', async (t) => {
  const { hub } = setup()
  const events: string[] = []
  hub.addObserver({ sessionOpened: (session) => { events.push(`opened ${session.id}`) }, sessionClosed: (session, code) => { events.push(`closed ${session.id} ${code}`) } })
  hub.onClose((session, code, reason) => { events.push(`hook ${session.id} ${code} ${reason}`) })
  const { session, transport } = openFake(hub, { user: 'ada' }, 'fixed')
  const other = openFake(hub)
  t.equal(hub.getSession('fixed'), session)
  t.same(session.identity, { user: 'ada' })
  t.equal(session.transport, transport)
  t.match(other.session.id, /^[A-Za-z0-9_-]{22}$/, 'a generated id is 128 random bits, URL-safe')
  hub.join(session, 'a')
  hub.join(session, 'b')
  hub.join(other.session, 'b')
  hub.closeSession(session, 4001, 'kicked')
  hub.closeSession(session, 1000, 'again')
  t.equal(hub.getSession('fixed'), undefined)
  t.same([...session.rooms], [])
  t.same(hub.rooms.names(), ['b'])
  t.equal(hub.rooms.size('b'), 1)
  t.equal(session.closed, true)
  t.equal(session.closeCode, 4001, 'the first close code stays')
  t.same(events, ['opened fixed', `opened ${other.session.id}`, 'closed fixed 4001', 'hook fixed 4001 kicked'], 'closing twice is harmless')
  t.equal(transport.closedWith, undefined, 'the transport is already closed: the hub does not close it again')
  hub.receive(session, frame({ type: 'room.join', payload: { room: 'c' } }))
  t.same([...session.rooms], [], 'frames of a closed session are ignored')
  t.same(await hub.receiveRequest(session, frame({ type: 'room.join', payload: { room: 'c' } })), { ok: false, code: 'VIX_ERR_SESSION_NOT_FOUND', message: 'Session not found or expired' })
})

t.test('server-side join and leave: no authorization and no ack; true only when membership changed', async (t) => {
  const { hub } = setup({ authorizeJoin: () => false })
  const { session, transport } = openFake(hub)
  t.equal(hub.join(session, 'r'), true)
  t.equal(hub.join(session, 'r'), false)
  t.same([...session.rooms], ['r'])
  t.ok(hub.rooms.has('r'))
  t.equal(hub.leave(session, 'r'), true)
  t.equal(hub.leave(session, 'r'), false)
  t.equal(hub.rooms.has('r'), false, 'an empty room is deleted')
  t.equal(hub.rooms.count, 0)
  t.equal(hub.rooms.size('r'), 0)
  t.same(transport.sent, [])
})

t.test('a delivery gate of a room decides on that room\'s live deliveries only', async (t) => {
  const { hub } = setup()
  const { session, transport } = openFake(hub)
  hub.join(session, 'gated')
  hub.join(session, 'open')
  const admitted: unknown[] = []
  session.gates.set('gated', { admit: (envelope) => { admitted.push(envelope.message.type); return envelope.message.type === 'let.through' } })
  await hub.publish({ room: 'gated', type: 'held.back' })
  await hub.publish({ room: 'gated', type: 'let.through' })
  await hub.publish({ room: 'open', type: 'other.room' })
  await hub.publish({ type: 'broadcast' })
  t.same(admitted, ['held.back', 'let.through'])
  t.same(transport.frames().map((f) => f.type), ['let.through', 'other.room', 'broadcast'])
})

t.test('Rooms events: created before the first joined, left then deleted after the last member; nothing for a no-op', async (t) => {
  const { hub } = setup()
  const events: string[] = []
  hub.rooms.on('created', (room) => { events.push(`created ${room}`) })
  hub.rooms.on('joined', (room, session) => { events.push(`joined ${room} ${session.id}`) })
  hub.rooms.on('left', (room, session) => { events.push(`left ${room} ${session.id}`) })
  hub.rooms.on('deleted', (room) => { events.push(`deleted ${room}`) })
  const a = openFake(hub, undefined, 'a').session
  const b = openFake(hub, undefined, 'b').session
  hub.join(a, 'r')
  hub.join(b, 'r')
  hub.join(a, 'r')
  hub.leave(b, 'elsewhere')
  hub.leave(a, 'r')
  hub.join(a, 's')
  hub.closeSession(b, 1000)
  hub.closeSession(a, 1000)
  t.same(events, [
    'created r', 'joined r a', 'joined r b',
    'left r a',
    'created s', 'joined s a',
    'left r b', 'deleted r',
    'left s a', 'deleted s'
  ])
})

t.test('identityKey: the identity\'s JSON by default, none when anonymous; a custom one from the option', async (t) => {
  const { hub } = setup()
  t.equal(openFake(hub, { user: 'ada' }).session.identityKey, '{"user":"ada"}')
  t.equal(openFake(hub, 'ada').session.identityKey, '"ada"')
  t.equal(openFake(hub).session.identityKey, undefined)
  const cyclic: Record<string, unknown> = { user: 'ada' }
  cyclic.self = cyclic
  t.equal(hub.identityKey(cyclic), '[object Object]', 'an identity without JSON falls back to its string form')
  t.equal(hub.identityKey(Symbol.for('ada')), 'Symbol(ada)')
  const custom = setup({ identityKey: (identity) => (identity as { user: string }).user }).hub
  t.equal(openFake(custom, { user: 'ada', device: 1 }).session.identityKey, 'ada')
  t.equal(custom.identityKey({ user: 'bob' }), 'bob')
})

t.test('room.join and room.leave frames: acked with the room, authorizeJoin sync or async, payload checked', async (t) => {
  const { hub, reasons } = setup({ authorizeJoin: (_session, room) => room === 'later' ? Promise.resolve(true) : room !== 'secret' })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'j1', type: 'room.join', payload: { room: 'r' } }))
  hub.receive(session, frame({ id: 'j2', type: 'room.join', payload: { room: 'secret' } }))
  hub.receive(session, frame({ id: 'j3', type: 'room.join', payload: {} }))
  hub.receive(session, frame({ id: 'j4', type: 'room.join', payload: { room: 'r', extra: 1 } }))
  hub.receive(session, frame({ id: 'j5', type: 'room.join', payload: { room: 'later' } }))
  hub.receive(session, frame({ id: 'l1', type: 'room.leave', payload: { room: 'r' } }))
  hub.receive(session, frame({ id: 'l2', type: 'room.leave', payload: { room: 7 } }))
  hub.receive(session, frame({ type: 'room.join', payload: { room: 'quiet' } }))
  hub.receive(session, frame({ type: 'room.leave', payload: { room: 'quiet' } }))
  const frames = await transport.waitForFrames(9)
  t.match(frames, [
    { kind: 'ack', type: 'room.join', id: 'j1', room: 'r', payload: { room: 'r', recovered: false, replayed: 0, latestId: null } },
    { kind: 'error', id: 'j2', payload: { code: 'VIX_ERR_FORBIDDEN', message: 'Forbidden: may not join room "secret"' } },
    { kind: 'error', id: 'j3', payload: { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/room' } },
    { kind: 'error', id: 'j4', payload: { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/extra' } },
    { kind: 'ack', type: 'room.join', id: 'j5', room: 'later' },
    { kind: 'ack', type: 'room.leave', id: 'l1', room: 'r', payload: { room: 'r' } },
    { kind: 'error', id: 'l2', payload: { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/room' } },
    { kind: 'ack', type: 'room.join', room: 'quiet' },
    { kind: 'ack', type: 'room.leave', room: 'quiet' }
  ])
  t.same(frames.slice(7).map((f) => f.id), [undefined, undefined], 'acked without an id when the frame had none')
  t.same([...session.rooms], ['later'])
  t.same(reasons, ['forbidden', 'invalid_message', 'invalid_message', 'invalid_message'])
})

t.test('room.join with a persistence: the session joins through it and the ack carries its recovery', async (t) => {
  const { hub } = setup()
  const persistence = new FakePersistence(hub)
  persistence.recovery = { recovered: true, replayed: 2, latestId: 'm9', pos: '9.e1e1' }
  hub.attachPersistence(persistence)
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'j1', type: 'room.join', payload: { room: 'r', since: 'm7' } }))
  t.match(await transport.waitForFrames(1), [{ kind: 'ack', id: 'j1', payload: { room: 'r', recovered: true, replayed: 2, latestId: 'm9' } }])
  t.same(persistence.joins, [{ room: 'r', since: 'm7' }])
  t.ok(session.rooms.has('r'))
})

t.test('the frames of one session are processed in arrival order, even when a handler is async', async (t) => {
  const { hub } = setup()
  const order: number[] = []
  const first = deferred()
  hub.on('work', async (_session, message) => {
    if (message.payload.n === 0) await first.promise
    order.push(message.payload.n as number)
  })
  const { session, transport } = openFake(hub)
  for (const n of [0, 1, 2, 3]) hub.receive(session, frame({ id: `w${n}`, type: 'work', payload: { n } }))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(order, [], 'later frames wait for the pending one')
  first.resolve()
  const acks = await transport.waitForFrames(4)
  t.same(order, [0, 1, 2, 3])
  t.same(acks.map((f) => f.id), ['w0', 'w1', 'w2', 'w3'])
})

t.test('relays of one session overlap in the pipeline; a non-relay frame after them waits for them', async (t) => {
  const { hub } = setup({ relayTypes: ['chat'] })
  const { session, transport, persistence } = heldRelaySession(hub)
  hub.receive(session, frame({ id: 'c1', type: 'chat', room: 'r' }))
  hub.receive(session, frame({ id: 'c2', type: 'chat', room: 'r' }))
  hub.receive(session, frame({ id: 'l1', type: 'room.leave', payload: { room: 'r' } }))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(persistence.persisted.map((m) => m.id), ['c1', 'c2'], 'the second relay did not wait for the first commit')
  t.ok(session.rooms.has('r'), 'the leave waits for the relays before it')
  t.same(transport.sent, [])
  persistence.release()
  const frames = (await transport.waitForFrames(5)).map((f) => `${f.kind} ${f.id}`)
  t.same(frames.filter((f) => f.startsWith('event')), ['event c1', 'event c2'])
  t.same(frames.filter((f) => f.startsWith('ack')), ['ack c1', 'ack c2', 'ack l1'])
  t.ok(frames.indexOf('event c1') < frames.indexOf('ack c1') && frames.indexOf('event c2') < frames.indexOf('ack c2'), 'each relay is acked after its delivery')
  t.equal(session.rooms.size, 0)
})

t.test('maxQueuedFrames: a session queueing past the bound is closed 1008 and its queue dropped; another session goes on', async (t) => {
  const { hub, reasons } = setup({ maxQueuedFrames: 3 })
  const seen: string[] = []
  const slow = deferred()
  hub.on('slow', async () => { await slow.promise })
  hub.on('ping', (session, message) => { seen.push(`${session.id} ${message.id as string}`) })
  const flooder = openFake(hub, undefined, 'flooder')
  const calm = openFake(hub, undefined, 'calm')
  hub.receive(flooder.session, frame({ id: 's', type: 'slow' }))
  for (const id of ['p1', 'p2', 'p3']) hub.receive(flooder.session, frame({ id, type: 'ping' }))
  t.same(flooder.transport.closedWith, { code: 1008, reason: 'inbound queue full' })
  t.same(reasons, ['rate_limited'])
  hub.receive(calm.session, frame({ id: 'c1', type: 'ping' }))
  slow.resolve()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen, ['calm c1'], 'the queued frames of the closed session were dropped')
  t.same(flooder.transport.sent, [], 'a closed session is sent nothing more')
  t.match(calm.transport.frames(), [{ kind: 'ack', id: 'c1' }])
})

t.test('maxQueuedFrames counts relays still in the pipeline', async (t) => {
  const { hub } = setup({ relayTypes: ['chat'], maxQueuedFrames: 2 })
  const { session, transport, persistence } = heldRelaySession(hub)
  hub.receive(session, frame({ id: 'c1', type: 'chat', room: 'r' }))
  hub.receive(session, frame({ id: 'c2', type: 'chat', room: 'r' }))
  t.equal(transport.closedWith, undefined, 'two in flight is the bound, not past it')
  persistence.release()
  await transport.waitForFrames(4)
  await new Promise((resolve) => setImmediate(resolve))
  hub.receive(session, frame({ id: 'c3', type: 'chat', room: 'r' }))
  hub.receive(session, frame({ id: 'c4', type: 'chat', room: 'r' }))
  hub.receive(session, frame({ id: 'c5', type: 'chat', room: 'r' }))
  t.same(transport.closedWith, { code: 1008, reason: 'inbound queue full' })
  persistence.release()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(persistence.persisted.map((m) => m.id), ['c1', 'c2', 'c3', 'c4'])
})

t.test('receiveRequest answers with the result instead of frames, in order with the session\'s frames', async (t) => {
  const { hub } = setup({ relayTypes: ['chat'] })
  const order: string[] = []
  const gate = deferred()
  hub.on('slow', async () => { await gate.promise; order.push('slow') })
  hub.on('ping', () => { order.push('ping') })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ type: 'slow' }))
  const pinged = hub.receiveRequest(session, frame({ id: 'p1', type: 'ping' }))
  gate.resolve()
  t.same(await pinged, { ok: true, id: 'p1' })
  t.same(order, ['slow', 'ping'])
  hub.join(session, 'r')
  const persistence = new FakePersistence(hub)
  hub.attachPersistence(persistence)
  const relayed = await hub.receiveRequest(session, frame({ type: 'chat', room: 'r' }))
  t.same(relayed, { ok: true, id: transport.frames('event')[0].id }, 'a relay is answered once committed and delivered')
  t.same(persistence.persisted.map((m) => m.id), [relayed.id])
  const before = transport.sent.length
  t.same(await hub.receiveRequest(session, frame({ id: 'x', type: 'nobody.handles' })), { ok: false, code: 'VIX_ERR_UNKNOWN_TYPE', message: 'Unknown message type "nobody.handles"', path: undefined, id: 'x' })
  t.match(await hub.receiveRequest(session, frame({ type: 'chat', room: 'elsewhere' })), { ok: false, code: 'VIX_ERR_NOT_IN_ROOM' })
  t.equal(transport.sent.length, before, 'failures are answered, not sent as error frames')
})

t.test('receiveRequest refuses raw text as VIX_ERR_INVALID_MESSAGE, saying why; raw handlers never see it', async (t) => {
  const { hub } = setup()
  const raw: string[] = []
  hub.onMessage((_session, data) => { raw.push(String(data)) })
  const { session } = openFake(hub)
  t.same(await hub.receiveRequest(session, 'hello'), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', message: '/: the body is not valid JSON', path: '/', id: undefined })
  t.match(await hub.receiveRequest(session, '[1]'), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', path: '/' })
  t.match(await hub.receiveRequest(session, '{"text":"no type"}'), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', path: '/type' })
  t.match(await hub.receiveRequest(session, '{"type":"bad type"}'), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', path: '/type' })
  t.same(raw, [])
})

t.test('receiveRequest past maxQueuedFrames answers VIX_ERR_RATE_LIMITED and keeps the session open', async (t) => {
  const { hub, reasons } = setup({ maxQueuedFrames: 1 })
  const gate = deferred()
  hub.on('slow', async () => { await gate.promise })
  const { session, transport } = openFake(hub, undefined, 'poller')
  const first = hub.receiveRequest(session, frame({ type: 'slow' }))
  t.match(await hub.receiveRequest(session, frame({ type: 'slow' })), { ok: false, code: 'VIX_ERR_RATE_LIMITED', message: /more than 1 frames queued/ })
  t.same(reasons, ['rate_limited'])
  t.equal(session.closed, false)
  t.equal(transport.closedWith, undefined)
  gate.resolve()
  t.same(await first, { ok: true })
  t.same(await hub.receiveRequest(session, frame({ type: 'slow' })), { ok: true }, 'room again once the queue drained')
})

t.test('a slow consumer is closed 1013 and skipped; the others still receive', async (t) => {
  const { hub, reasons } = setup({ maxBufferedAmount: 100 })
  const slow = openFake(hub)
  const fast = openFake(hub)
  slow.transport.buffered = 101
  const message = await hub.publish({ type: 'news' })
  t.same(slow.transport.closedWith, { code: 1013, reason: 'slow consumer' })
  t.same(slow.transport.sent, [])
  t.same(fast.transport.frames(), [message])
  t.same(reasons, ['slow_consumer'])
  slow.transport.buffered = 0
  await hub.publish({ type: 'news' })
  t.same(slow.transport.sent, [], 'a closed session gets nothing more')
  t.equal(reasons.length, 1)
  const exact = new FakeTransport()
  exact.buffered = 100
  hub.openSession(exact)
  await hub.publish({ type: 'news' })
  t.equal(exact.sent.length, 1, 'exactly maxBufferedAmount bytes queued is not too many')
})

t.test('authenticate and admit: the identity, or the coded refusal', async (t) => {
  t.equal(await setup().hub.authenticate({}), undefined, 'no authenticate: everyone is anonymous')
  const { hub, reasons } = setup({ authenticate: (request) => (request as { user?: string }).user ?? null, goingAwayRetryAfter: 2500 })
  t.match(await hub.admit({ user: 'ada' }, { transport: 'websocket' }), { identity: 'ada', identityKey: '"ada"', slot: { identityKey: '"ada"' } })
  await t.rejects(hub.authenticate({}), { code: 'VIX_ERR_UNAUTHORIZED', statusCode: 401 })
  t.same(reasons, ['unauthorized'])
  hub.lifecycle.requestStop()
  await t.rejects(hub.admit({ user: 'ada' }, { transport: 'long-polling' }), { code: 'VIX_ERR_SHUTTING_DOWN', statusCode: 503, retryAfter: 3 })
})
