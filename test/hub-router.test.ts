import t from 'tap'
import { Type } from '@sinclair/typebox'
import { ForbiddenError } from '../lib/errors.js'
import { Hub } from '../lib/hub/hub.js'
import type { HubOptions } from '../lib/hub/options.js'
import type { ErrorReason, InboundMessage } from '../lib/hub/types.js'
import { sessionLogId } from '../lib/redact.js'
import { deferred, openFake, recordingLogger } from './helpers/fake-transport.js'

/**
 * The router seam of the hub: which handler a frame reaches, what the
 * client is answered, and the session hooks. Every frame goes in through
 * `hub.receive` (the WebSocket path) and every answer is read off the fake
 * transport. Frames whose handling is synchronous are answered inside
 * `receive`, so the tests that await nothing also check that.
 */

const frame = (value: unknown): string => JSON.stringify(value)

function setup (options: HubOptions = {}): { hub: Hub, logger: ReturnType<typeof recordingLogger> } {
  const logger = recordingLogger()
  return { hub: new Hub({ logger, ...options }), logger }
}

t.test('a typed handler with a schema gets valid payloads; an invalid one is answered with an error frame naming the path', async (t) => {
  const { hub } = setup()
  const seen: InboundMessage[] = []
  hub.on('note.add', { schema: Type.Object({ text: Type.String() }) }, (_session, message) => { seen.push(message) })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'n1', type: 'note.add', payload: { text: 'hi' } }))
  hub.receive(session, frame({ id: 'n2', type: 'note.add', payload: { text: 42 } }))
  hub.receive(session, frame({ id: 'n3', type: 'note.add' }))
  t.same(seen, [{ id: 'n1', type: 'note.add', payload: { text: 'hi' } }], 'only the valid payload reached the handler')
  t.match(transport.frames(), [
    { kind: 'ack', type: 'note.add', id: 'n1', payload: {} },
    { kind: 'error', type: 'error', id: 'n2', payload: { code: 'VIX_ERR_INVALID_MESSAGE', message: '/payload/text: Expected string', path: '/payload/text' } },
    { kind: 'error', type: 'error', id: 'n3', payload: { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/text' } }
  ], 'answered synchronously inside receive; an absent payload is validated as {}')
  t.equal(transport.sent.length, 3)
})

t.test('a payload that breaks its schema as a whole, or is not an object, is reported at /payload', async (t) => {
  const { hub } = setup()
  hub.on('point', { schema: Type.Object({ x: Type.Optional(Type.Number()) }, { minProperties: 1 }) }, () => {})
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ type: 'point', payload: {} }))
  hub.receive(session, frame({ type: 'point', payload: [1] }))
  t.same(transport.frames().map((f) => [f.payload.code, f.payload.path]), [
    ['VIX_ERR_INVALID_MESSAGE', '/payload'],
    ['VIX_ERR_INVALID_MESSAGE', '/payload']
  ])
})

t.test('a typed handler without a schema takes any payload, defaulted to {}; only a frame with an id is acked', async (t) => {
  const { hub } = setup()
  const seen: InboundMessage[] = []
  hub.on('ping', (_session, message) => { seen.push(message) })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ type: 'ping' }))
  t.same(transport.sent, [], 'no id, no ack')
  hub.receive(session, Buffer.from(frame({ id: 'p1', room: 'r', type: 'ping', payload: { any: [1, { deep: true }] } })))
  t.same(seen, [{ type: 'ping', payload: {} }, { id: 'p1', room: 'r', type: 'ping', payload: { any: [1, { deep: true }] } }], 'a text frame handed over as a Buffer is decoded as text')
  t.match(transport.frames(), [{ kind: 'ack', type: 'ping', id: 'p1', room: 'r' }])
  t.equal(transport.sent.length, 1)
})

t.test('handlers of one type run in registration order, each awaited, and the ack waits for the last (async handlers)', async (t) => {
  const { hub } = setup()
  const order: string[] = []
  const gate = deferred()
  hub.on('work', async () => { order.push('first started'); await gate.promise; order.push('first done') })
  hub.on('work', () => { order.push('second') })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'w1', type: 'work' }))
  t.same(order, ['first started'])
  t.same(transport.sent, [], 'not acked while a handler is pending')
  gate.resolve()
  const [ack] = await transport.waitForFrames(1)
  t.match(ack, { kind: 'ack', type: 'work', id: 'w1' })
  t.same(order, ['first started', 'first done', 'second'])
})

t.test('raw handlers see non-typed text and binary frames, and typed frames flagged typed', async (t) => {
  const { hub } = setup()
  const raw: Array<[string, { binary: boolean, typed: boolean }]> = []
  hub.onMessage((_session, data, info) => { raw.push([Buffer.isBuffer(data) ? `buffer:${data.length}` : data, info]) })
  let typed = 0
  hub.on('hello', () => { typed++ })
  const { session, transport } = openFake(hub)
  hub.receive(session, 'plain text')
  hub.receive(session, '[1, 2]')
  hub.receive(session, frame({ no: 'type' }))
  hub.receive(session, Buffer.from([1, 2, 3]), { binary: true })
  hub.receive(session, frame({ type: 'hello' }))
  t.same(raw, [
    ['plain text', { binary: false, typed: false }],
    ['[1, 2]', { binary: false, typed: false }],
    ['{"no":"type"}', { binary: false, typed: false }],
    ['buffer:3', { binary: true, typed: false }],
    ['{"type":"hello"}', { binary: false, typed: true }]
  ])
  t.equal(typed, 1, 'a typed frame reaches its typed handler after the raw ones')
  t.same(transport.sent, [], 'raw frames are not answered')
})

t.test('a raw handler that throws answers VIX_ERR_INTERNAL with the message id; the typed handler does not run', async (t) => {
  const { hub, logger } = setup()
  let typed = 0
  hub.onMessage(() => { throw new Error('raw bug') })
  hub.on('hello', () => { typed++ })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'h1', type: 'hello' }))
  hub.receive(session, 'some text')
  t.equal(typed, 0)
  t.match(transport.frames(), [
    { kind: 'error', id: 'h1', payload: { code: 'VIX_ERR_INTERNAL' } },
    { kind: 'error', payload: { code: 'VIX_ERR_INTERNAL' } }
  ])
  t.equal(transport.frames()[1].id, undefined, 'a raw frame has no id to echo')
  t.equal(logger.errors.length, 2)
})

t.test('unknown types: VIX_ERR_UNKNOWN_TYPE by default, ignored with rejectUnknownTypes false; a type registered without a handler is known', async (t) => {
  const strict = setup().hub
  strict.on('documented', { description: 'no handler yet' })
  t.equal(strict.options.rejectUnknownTypes, true)
  const a = openFake(strict)
  strict.receive(a.session, frame({ id: 'u1', type: 'nobody.handles' }))
  strict.receive(a.session, frame({ id: 'd1', type: 'documented' }))
  t.match(a.transport.frames(), [
    { kind: 'error', id: 'u1', payload: { code: 'VIX_ERR_UNKNOWN_TYPE', message: 'Unknown message type "nobody.handles"' } },
    { kind: 'ack', id: 'd1', type: 'documented' }
  ])
  t.equal(a.transport.sent.length, 2)

  const lenient = setup({ rejectUnknownTypes: false, relayTypes: ['chat'] }).hub
  t.equal(lenient.options.rejectUnknownTypes, false)
  const b = openFake(lenient)
  lenient.join(b.session, 'r')
  lenient.receive(b.session, frame({ id: 'u2', type: 'nobody.handles' }))
  t.same(b.transport.sent, [], 'neither answered nor acked')
  lenient.receive(b.session, frame({ type: 'nobody.handles', room: 'r' }))
  t.same(b.transport.sent, [], 'an unknown type is not relayed to the room either')
})

t.test('an envelope that breaks the message schema is answered VIX_ERR_INVALID_MESSAGE with its path', async (t) => {
  const { hub } = setup()
  hub.on('x', () => { t.fail('no handler runs for an invalid envelope') })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'e1', type: 'bad type!' }))
  hub.receive(session, frame({ id: 'e2', type: 'x', room: '' }))
  hub.receive(session, frame({ type: 'x', extra: 1 }))
  hub.receive(session, frame({ id: 'i'.repeat(129), type: 5 }))
  t.same(transport.frames().map((f) => [f.id, f.payload.code, f.payload.path]), [
    ['e1', 'VIX_ERR_INVALID_MESSAGE', '/type'],
    ['e2', 'VIX_ERR_INVALID_MESSAGE', '/room'],
    [undefined, 'VIX_ERR_INVALID_MESSAGE', '/extra'],
    [undefined, 'VIX_ERR_INVALID_MESSAGE', '/id']
  ], 'an id that is itself invalid is not echoed')
})

t.test('types the server sends itself are refused at registration, as handlers and as relay types', async (t) => {
  const { hub } = setup()
  for (const type of ['server.notice', 'server.going_away', 'presence.join', 'error']) {
    t.throws(() => hub.on(type, () => {}), { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`"${type}" is a type the server itself sends`) }, `on('${type}')`)
  }
  t.same(hub.catalogue(), [], 'nothing was registered')
  for (const type of ['error', 'server.going_away', 'presence.join', 'room.join', 'room.leave']) {
    t.throws(() => new Hub({ relayTypes: ['chat', type] }), { code: 'VIX_ERR_INVALID_OPTION', message: /relayTypes/ }, `relayTypes: ['${type}']`)
  }
})

t.test('handlers on room.join and room.leave run after the built-in join and leave, before the ack', async (t) => {
  const { hub } = setup()
  const seen: unknown[] = []
  hub.on('room.join', (session, message) => { seen.push(['join', [...session.rooms], message.payload.room]) })
  hub.on('room.leave', (session) => { seen.push(['leave', [...session.rooms]]) })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'j1', type: 'room.join', payload: { room: 'r' } }))
  hub.receive(session, frame({ id: 'l1', type: 'room.leave', payload: { room: 'r' } }))
  t.same(seen, [['join', ['r'], 'r'], ['leave', []]])
  t.match(transport.frames(), [{ kind: 'ack', type: 'room.join', id: 'j1' }, { kind: 'ack', type: 'room.leave', id: 'l1' }])
  t.equal(transport.sent.length, 2)
})

t.test('the catalogue lists relay types and registered types, sorted, with the very schema that validates', async (t) => {
  const { hub } = setup({ relayTypes: ['chat.message', 'b.relay'] })
  const chat = Type.Object({ text: Type.String() })
  const typed = Type.Object({ n: Type.Integer() })
  hub.on('chat.message', { schema: chat, description: 'A chat line' })
  hub.on('a.typed', { schema: typed, description: 'typed' }, () => {})
  hub.on('a.typed', { description: 'typed, described again' })
  hub.on('c.plain', () => {})
  const catalogue = hub.catalogue()
  t.same(catalogue.map((entry) => [entry.type, entry.relay, entry.description]), [
    ['a.typed', false, 'typed, described again'],
    ['b.relay', true, undefined],
    ['c.plain', false, undefined],
    ['chat.message', true, 'A chat line']
  ])
  t.equal(catalogue[0].schema, typed)
  t.equal(catalogue[1].schema, undefined)
  t.equal(catalogue[3].schema, chat)
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ type: 'a.typed', payload: { n: 1.5 } }))
  t.match(transport.frames(), [{ kind: 'error', payload: { path: '/payload/n' } }], 'a later on() without a schema keeps the first one')
})

t.test('open, close and error hooks; a throwing or rejecting hook is logged and handed to onError, never thrown', async (t) => {
  const { hub, logger } = setup()
  const events: string[] = []
  const errors: Array<[string | null, string]> = []
  hub.onOpen((session) => { events.push(`open ${session.id}`) })
  hub.onOpen(() => { throw new Error('sync open bug') })
  hub.onClose(async (_session, code, reason) => { events.push(`close ${code} ${reason}`); throw new Error('async close bug') })
  hub.onError((session, error) => { errors.push([session?.id ?? null, error.message]) })
  hub.onError(() => { throw new Error('the error hook broke') })
  hub.onError((_session, error) => { events.push(`second onError: ${error.message}`) })
  const { session } = openFake(hub, undefined, 's1')
  hub.closeSession(session, 4000, 'bye')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(events, ['open s1', 'second onError: sync open bug', 'close 4000 bye', 'second onError: async close bug'], 'a failing onError handler does not stop the next one')
  t.same(errors, [['s1', 'sync open bug'], ['s1', 'async close bug']])
  hub.emitError(null, new Error('socket broke'))
  t.same(errors.at(-1), [null, 'socket broke'], 'an error outside any session reaches onError with null')
  t.same(logger.errors.map(([message]) => message), [
    'vix-realtime: message handler failed', 'vix-realtime: onError handler failed',
    'vix-realtime: message handler failed', 'vix-realtime: onError handler failed',
    'vix-realtime: onError handler failed'
  ])
})

t.test('a failing typed handler answers VIX_ERR_INTERNAL with the message id; its cause goes to the log and onError, not to the client', async (t) => {
  const { hub, logger } = setup()
  const errors: string[] = []
  hub.onError((_session, error) => { errors.push(error.message) })
  hub.on('sync.bug', () => { throw new Error('secret detail 1') })
  hub.on('async.bug', async () => { throw new Error('secret detail 2') })
  hub.on('value.bug', () => { throw 'not an Error' }) // eslint-disable-line no-throw-literal
  hub.on('ping', () => {})
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'b1', type: 'sync.bug' }))
  hub.receive(session, frame({ id: 'b2', type: 'async.bug' }))
  hub.receive(session, frame({ type: 'value.bug' }))
  hub.receive(session, frame({ id: 'p1', type: 'ping' }))
  const frames = await transport.waitForFrames(4)
  const internal = { code: 'VIX_ERR_INTERNAL', message: 'Internal error while handling the message' }
  t.match(frames, [
    { kind: 'error', id: 'b1', payload: internal },
    { kind: 'error', id: 'b2', payload: internal },
    { kind: 'error', payload: internal },
    { kind: 'ack', id: 'p1' }
  ], 'the session goes on after a failure')
  t.notMatch(transport.sent.join(''), /secret detail/)
  t.same(errors, ['secret detail 1', 'secret detail 2', 'not an Error'])
  t.match(logger.errors, [
    ['vix-realtime: message handler failed', { sessionId: sessionLogId(session), err: { message: 'secret detail 1' } }],
    ['vix-realtime: message handler failed', { err: { message: 'secret detail 2' } }],
    ['vix-realtime: message handler failed', { err: { message: 'not an Error' } }]
  ])
})

t.test('a handler that throws a coded error answers with that code and message, logged as nothing internal', async (t) => {
  const { hub, logger } = setup()
  const reasons: ErrorReason[] = []
  hub.addObserver({ error: (reason) => { reasons.push(reason) } })
  hub.on('admin.only', async () => { throw new ForbiddenError('admins only') })
  const { session, transport } = openFake(hub)
  hub.receive(session, frame({ id: 'a1', type: 'admin.only' }))
  t.match(await transport.waitForFrames(1), [{ kind: 'error', id: 'a1', payload: { code: 'VIX_ERR_FORBIDDEN', message: 'Forbidden: admins only' } }])
  t.same(reasons, ['forbidden'])
  t.same(logger.errors, [])
})
