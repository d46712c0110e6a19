import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ErrorCodes } from '../lib/errors.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { connect, TestClientError, type TestTransport, type VixMessage } from '../lib/testing/index.js'
import { inProcessApp, onBothTransports, transports } from './helpers/transports.js'

// The wire protocol (docs/protocol.md), each test written once and run on both transports
// through vix-realtime/testing: a WebSocket through app.injectWS, a long-poll session through
// app.inject. No port. One app for the file; each test has rooms of its own.

const isEvent = (type: string) => (f: VixMessage): boolean => f.kind === 'event' && f.type === type
const isError = (f: VixMessage): boolean => f.kind === 'error'
const count = (f: VixMessage, key: 'members' | 'joins' | 'leaves'): number => (f.payload[key] as unknown[]).length

/** The refusal a promise rejected with (fails when it resolved). */
async function refusal (promise: Promise<unknown>): Promise<TestClientError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof TestClientError) return error
    throw error
  }
  throw new Error('it was accepted')
}

let app: FastifyInstance
/** What the note.add handler ran with, and the errors onError saw. */
const notes: string[] = []
const handlerErrors: string[] = []
/** An app per transport for the shutdown test (built here: building one takes longer than a test may). */
const stopping = {} as Record<TestTransport, FastifyInstance>

t.before(async () => {
  app = await inProcessApp({
    relayTypes: ['chat.message'],
    authorizeJoin: async (_session, room) => !room.startsWith('secret-'),
    authorizePublish: (_session, msg) => msg.payload.text !== 'forbidden',
    limits: { maxRoomsPerSession: 4, sessionRate: { rate: 1, burst: 30 } },
    presence: { rooms: (room: string) => room.startsWith('lobby-'), window: 5 },
    store: { store: new MemoryMessageStore() }
  }, (app) => {
    app.realtime.on('math.add', { schema: Type.Object({ a: Type.Number(), b: Type.Number() }), reply: Type.Object({ sum: Type.Number() }) }, (_session, msg) => ({ sum: msg.payload.a + msg.payload.b }))
    app.realtime.on('math.fail', { reply: Type.Object({}) }, () => { throw new Error('handler bug') })
    app.realtime.on('note.add', { schema: Type.Object({ text: Type.String({ maxLength: 5 }) }) }, (_session, msg) => { notes.push(msg.payload.text) })
    app.realtime.on('note.throw', () => { throw new Error('sync handler bug') })
    app.realtime.on('note.reject', async () => { throw new Error('async handler bug') })
    app.realtime.onError((_session, error) => { handlerErrors.push(error.message) })
  })
  // One session per transport before the tests: the first of each loads what every later one uses.
  for (const transport of transports) await (await connect(app, { transport })).close()
  for (const transport of transports) stopping[transport] = await inProcessApp()
})
t.teardown(async () => {
  await app.close()
  for (const own of Object.values(stopping)) await own.close()
})

onBothTransports(t, 'room.join is acked with the room and where its stream starts', async (t, on) => {
  const client = await on.connect(app)
  const room = on.room('general')
  const ack = await client.join(room)
  t.match(ack, { kind: 'ack', type: 'room.join', room, payload: { room, recovered: false, replayed: 0, latestId: null, pos: null } })
  t.equal(app.realtime.rooms.size(room), 1, 'the session is a member')
})

onBothTransports(t, 'a relay reaches every member once, the sender included, and its id is acked with its position', async (t, on) => {
  const room = on.room('general')
  const [alice, bob] = [await on.connect(app), await on.connect(app)]
  await alice.join(room)
  await bob.join(room)
  const ack = await alice.publish(room, 'chat.message', { text: 'hi' }, 'm-1')
  t.match(ack, { kind: 'ack', type: 'chat.message', id: 'm-1', room, payload: { pos: /^1\./ } })
  t.same(Object.keys(ack).sort(), ['id', 'kind', 'payload', 'room', 'ts', 'type'], 'nothing else in the ack')
  for (const client of [alice, bob]) {
    t.match(await client.next(isEvent('chat.message')), { id: 'm-1', room, payload: { text: 'hi' }, pos: ack.payload.pos })
    await client.expectNothing(10, isEvent('chat.message'))
  }
})

onBothTransports(t, 'a relay without an id is delivered with one the server stamped', async (t, on) => {
  const room = on.room('general')
  const client = await on.connect(app)
  await client.join(room)
  await client.send({ room, type: 'chat.message', payload: { text: 'no id' } })
  const event = await client.next(isEvent('chat.message'))
  t.match(event.id, /^[0-9a-f-]{36}$/)
  // POST /ws/send stamps the id before the hub sees the message (its 202 answers with it), so
  // over long polling that id is acked; a WebSocket frame without an id never is.
  if (on.transport === 'polling') t.match(await client.next((f) => f.kind === 'ack'), { id: event.id })
  else await client.expectNothing(10, (f) => f.kind === 'ack')
})

onBothTransports(t, 'messages of a room arrive in the order they were published', async (t, on) => {
  const room = on.room('order')
  const [sender, reader] = [await on.connect(app), await on.connect(app)]
  await sender.join(room)
  await reader.join(room)
  for (let i = 0; i < 10; i++) await sender.send({ room, type: 'chat.message', payload: { text: String(i) } })
  const texts: unknown[] = []
  for (let i = 0; i < 10; i++) texts.push((await reader.next(isEvent('chat.message'))).payload.text)
  t.same(texts, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
})

onBothTransports(t, 'a room not joined: publishing to it is refused VIX_ERR_NOT_IN_ROOM with the message id, and its members get nothing', async (t, on) => {
  const room = on.room('elsewhere')
  const [client, member] = [await on.connect(app), await on.connect(app)]
  await member.join(room)
  const error = await refusal(client.publish(room, 'chat.message', { text: 'sneaky' }, 'x-1'))
  t.equal(error.code, ErrorCodes.NOT_IN_ROOM)
  t.equal(error.frame.id, 'x-1')
  await member.expectNothing(20, isEvent('chat.message'))
})

onBothTransports(t, 'room.leave is acked and the session gets nothing more of the room', async (t, on) => {
  const room = on.room('general')
  const [stays, leaves] = [await on.connect(app), await on.connect(app)]
  await stays.join(room)
  await leaves.join(room)
  t.match(await leaves.leave(room), { kind: 'ack', type: 'room.leave', room, payload: { room } })
  await stays.publish(room, 'chat.message', { text: 'after' })
  await leaves.expectNothing(20, isEvent('chat.message'))
  t.equal(app.realtime.rooms.size(room), 1)
})

onBothTransports(t, 'an unknown type is refused VIX_ERR_UNKNOWN_TYPE and the session stays', async (t, on) => {
  const client = await on.connect(app)
  await client.send({ id: 'u-1', type: 'no.such.type' })
  t.match(await client.next(isError), { id: 'u-1', payload: { code: ErrorCodes.UNKNOWN_TYPE } })
  await client.join(on.room('general'))
  t.notOk(client.isClosed)
})

onBothTransports(t, 'an invalid field is refused VIX_ERR_INVALID_MESSAGE naming its path', async (t, on) => {
  const client = await on.connect(app)
  await client.send({ type: 'room.join', payload: { room: '' } })
  t.match(await client.next(isError), { payload: { code: ErrorCodes.INVALID_MESSAGE, path: '/payload/room' } })
})

onBothTransports(t, 'a client naming its own sender (from) is refused at /from and nothing is delivered', async (t, on) => {
  const room = on.room('general')
  const client = await on.connect(app)
  await client.join(room)
  await client.send({ room, type: 'chat.message', payload: { text: 'hi' }, from: { user: 'admin' } })
  t.match(await client.next(isError), { payload: { code: ErrorCodes.INVALID_MESSAGE, path: '/from' } })
  await client.expectNothing(10, isEvent('chat.message'))
})

onBothTransports(t, 'a payload breaking a handler\'s schema is refused with the path; the handler never runs', async (t, on) => {
  const client = await on.connect(app)
  const text = `${on.transport.slice(0, 1)}-ok`
  await client.send({ id: 'n-1', type: 'note.add', payload: { text: 'far too long' } })
  t.match(await client.next(isError), { id: 'n-1', payload: { code: ErrorCodes.INVALID_MESSAGE, path: '/payload/text' } })
  await client.send({ id: 'n-2', type: 'note.add', payload: { text } })
  t.match(await client.next((f) => f.id === 'n-2'), { kind: 'ack', type: 'note.add' }, 'a handled type with an id is acked')
  t.same(notes.filter((note) => note.startsWith(text.slice(0, 2))), [text], 'the handler ran for the valid one only')
})

onBothTransports(t, 'a handler that throws or rejects gives VIX_ERR_INTERNAL, onError sees it, and the session lives on', async (t, on) => {
  const client = await on.connect(app)
  handlerErrors.length = 0
  await client.send({ id: 'b-1', type: 'note.throw' })
  await client.send({ id: 'b-2', type: 'note.reject' })
  t.match(await client.next(isError), { id: 'b-1', payload: { code: ErrorCodes.INTERNAL } })
  t.match(await client.next(isError), { id: 'b-2', payload: { code: ErrorCodes.INTERNAL } })
  t.same(handlerErrors, ['sync handler bug', 'async handler bug'])
  t.match(await client.join(on.room('after')), { kind: 'ack' })
})

onBothTransports(t, 'authorizeJoin refusing gives VIX_ERR_FORBIDDEN and no membership', async (t, on) => {
  const client = await on.connect(app)
  const room = on.room('secret')
  t.equal((await refusal(client.join(room))).code, ErrorCodes.FORBIDDEN)
  t.equal(app.realtime.rooms.size(room), 0)
  t.equal((await refusal(client.publish(room, 'chat.message', { text: 'hi' }))).code, ErrorCodes.NOT_IN_ROOM)
})

onBothTransports(t, 'authorizePublish refusing gives VIX_ERR_FORBIDDEN and nothing is delivered', async (t, on) => {
  const room = on.room('general')
  const client = await on.connect(app)
  await client.join(room)
  t.equal((await refusal(client.publish(room, 'chat.message', { text: 'forbidden' }))).code, ErrorCodes.FORBIDDEN)
  await client.expectNothing(10, isEvent('chat.message'))
})

onBothTransports(t, 'room.join with since replays what was missed, in order, before the ack', async (t, on) => {
  const room = on.room('replay')
  const writer = await on.connect(app)
  await writer.join(room)
  const first = await writer.publish(room, 'chat.message', { text: 'one' })
  await writer.publish(room, 'chat.message', { text: 'two' })
  await writer.publish(room, 'chat.message', { text: 'three' })
  const late = await on.connect(app)
  const ack = await late.join(room, first.payload.pos)
  t.match(ack.payload, { recovered: true, replayed: 2 })
  const replayed = late.frames.filter(isEvent('chat.message'))
  t.same(replayed.map((f) => f.payload.text), ['two', 'three'])
  t.ok(late.frames.indexOf(replayed[1]) < late.frames.findIndex((f) => f.id === ack.id), 'replayed before the ack')
  t.equal(ack.payload.pos, replayed[1].pos, 'the live stream continues after the last replayed one')
})

onBothTransports(t, 'room.join with a since the room never had replays nothing: recovered false, from the head', async (t, on) => {
  const room = on.room('replay')
  const writer = await on.connect(app)
  await writer.join(room)
  const last = await writer.publish(room, 'chat.message', { text: 'one' })
  const late = await on.connect(app)
  const ack = await late.join(room, 'no-such-message')
  t.match(ack.payload, { recovered: false, replayed: 0, pos: last.payload.pos })
  await late.expectNothing(10, isEvent('chat.message'))
})

onBothTransports(t, 'a second message with an id its sender stored is acked duplicate and not delivered again', async (t, on) => {
  const room = on.room('dedup')
  const [sender, reader] = [await on.connect(app), await on.connect(app)]
  await sender.join(room)
  await reader.join(room)
  const original = await sender.publish(room, 'chat.message', { text: 'once' }, 'd-1')
  const again = await sender.publish(room, 'chat.message', { text: 'once' }, 'd-1')
  t.match(again.payload, { duplicate: true, pos: original.payload.pos })
  await reader.next(isEvent('chat.message'))
  await reader.expectNothing(10, isEvent('chat.message'))
})

onBothTransports(t, 'a request is answered with its handler\'s reply in the ack', async (t, on) => {
  const client = await on.connect(app)
  t.same(await client.request('math.add', { a: 2, b: 3 }), { sum: 5 })
  t.same(await client.request('math.add', { a: 2, b: 3 }, 'same-id'), { sum: 5 })
  t.same(await client.request('math.add', { a: 40, b: 2 }, 'same-id'), { sum: 5 }, 'a repeated id is answered from the reply cache')
})

onBothTransports(t, 'a failing request is answered with an error carrying its id, and the session lives on', async (t, on) => {
  const client = await on.connect(app)
  const error = await refusal(client.request('math.fail', {}, 'f-1'))
  t.match(error.frame, { id: 'f-1', payload: { code: ErrorCodes.INTERNAL } })
  t.same(await client.request('math.add', { a: 1, b: 1 }), { sum: 2 })
})

onBothTransports(t, 'presence: a member gets the state after its join ack, then the diffs of others joining and leaving', async (t, on) => {
  const room = on.room('lobby')
  const [first, second] = [await on.connect(app), await on.connect(app)]
  await first.join(room)
  const state = await first.next((f) => f.type === 'presence.state')
  t.equal(count(state, 'members'), 1)
  const self = (state.payload.members as Array<{ key: string }>)[0].key
  // A diff may repeat the joining member itself (applying a diff is idempotent): look for the other one.
  const other = (f: VixMessage, key: 'joins' | 'leaves'): boolean => f.type === 'presence.diff' && (f.payload[key] as Array<{ key: string }>).some((m) => m.key !== self)
  await second.join(room)
  t.match(await first.next((f) => other(f, 'joins')), { kind: 'system', room })
  await second.leave(room)
  t.match(await first.next((f) => other(f, 'leaves')), { kind: 'system', room })
})

onBothTransports(t, 'presence is only sent for presence rooms', async (t, on) => {
  const client = await on.connect(app)
  await client.join(on.room('quiet'))
  await client.expectNothing(20, (f) => f.type.startsWith('presence.'))
})

onBothTransports(t, 'maxRoomsPerSession: the join past it is refused VIX_ERR_LIMIT_EXCEEDED and not made', async (t, on) => {
  const client = await on.connect(app)
  for (let i = 0; i < 4; i++) await client.join(on.room(`r${i}`))
  const room = on.room('r4')
  t.equal((await refusal(client.join(room))).code, ErrorCodes.LIMIT_EXCEEDED)
  t.equal(app.realtime.rooms.size(room), 0)
})

onBothTransports(t, 'sessionRate: a frame past the burst is refused VIX_ERR_RATE_LIMITED with its id and not processed', async (t, on) => {
  const client = await on.connect(app)
  for (let i = 0; i < 30; i++) await client.send({ type: 'note.add', payload: { text: 'x' } })
  const late = `${on.transport.slice(0, 1)}late`
  await client.send({ id: 'late', type: 'note.add', payload: { text: late } })
  t.match(await client.next((f) => f.id === 'late'), { kind: 'error', payload: { code: ErrorCodes.RATE_LIMITED } })
  t.notOk(notes.includes(late), 'its handler never ran')
})

onBothTransports(t, 'server code\'s publish reaches the room\'s members and no one else', async (t, on) => {
  const room = on.room('news')
  const [member, outsider] = [await on.connect(app), await on.connect(app)]
  await member.join(room)
  await app.realtime.publish({ room, type: 'news.item', payload: { n: 1 } })
  t.match(await member.next(isEvent('news.item')), { room, payload: { n: 1 } })
  await outsider.expectNothing(10, isEvent('news.item'))
})

onBothTransports(t, 'a raw text frame from server code arrives as a raw frame', async (t, on) => {
  const room = on.room('raw')
  const client = await on.connect(app)
  await client.join(room)
  for (const session of app.realtime.rooms.members(room)) session.sendSerialized('plain text')
  t.match(await client.next((f) => f.type === 'raw'), { kind: 'system', payload: { text: 'plain text' } })
})

onBothTransports(t, 'close() ends the session: it leaves all its rooms, empty rooms are deleted, and the server forgets it', async (t, on) => {
  const [a, b] = [on.room('a'), on.room('b')]
  const client = await on.connect(app)
  await client.join(a)
  await client.join(b)
  await client.leave(a)
  t.notOk(app.realtime.rooms.has(a), 'left and empty: deleted')
  t.ok(app.realtime.rooms.has(b))
  const sessions = app.realtime.sessions.size
  t.match(await client.close(), { code: 1000 })
  t.equal(app.realtime.sessions.size, sessions - 1)
  t.notOk(app.realtime.rooms.has(b))
  t.ok(client.isClosed)
})

onBothTransports(t, 'shutdown (its first phase): the client gets server.going_away and its connection ends 1001', async (t, on) => {
  const own = stopping[on.transport]
  const client = await on.connect(own)
  own.realtime.lifecycle.requestStop()
  t.match(await client.next((f) => f.type === 'server.going_away'), { kind: 'system', payload: { retryAfterMs: 1000 } })
  t.match(await client.closed, { code: 1001 })
})
