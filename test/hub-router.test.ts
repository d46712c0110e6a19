import t from 'tap'
import { Type } from '@sinclair/typebox'
import { Hub, type HubObserver, type HubOptions } from '../lib/hub.js'
import type { Transport } from '../lib/session.js'

/** A transport that keeps what the hub sends, parsed. */
function fakeTransport (): Transport & { frames: any[], closedWith?: number } {
  const transport: Transport & { frames: any[], closedWith?: number } = {
    name: 'fake',
    frames: [],
    send (data) { transport.frames.push(JSON.parse(String(data))) },
    bufferedAmount: () => 0,
    close (code) { transport.closedWith = code },
    terminate () {}
  }
  return transport
}

function setup (options: HubOptions = {}): { hub: Hub, reasons: string[] } {
  const hub = new Hub(options)
  const reasons: string[] = []
  const observer: HubObserver = { error: (reason) => { reasons.push(reason) } }
  hub.addObserver(observer)
  return { hub, reasons }
}

t.test('a typed handler with a schema: valid payloads reach it, invalid ones get an error frame with the path', async (t) => {
  const { hub, reasons } = setup()
  const seen: unknown[] = []
  hub.on('chat.message', { schema: Type.Object({ text: Type.String({ minLength: 1 }) }), description: 'A chat line' }, (_session, message) => {
    seen.push(message.payload.text)
  })
  const transport = fakeTransport()
  const session = hub.openSession(transport)

  const bad = await hub.receive(session, JSON.stringify({ id: 'b1', type: 'chat.message', payload: { text: '' } }), false)
  t.same(bad, { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', message: bad.ok ? '' : bad.message, path: '/payload/text', id: 'b1' })
  const missing = await hub.receive(session, JSON.stringify({ id: 'b2', type: 'chat.message' }), false)
  t.equal(missing.ok ? '' : missing.path, '/payload/text', 'an absent payload is validated as {}')
  const ok = await hub.receive(session, JSON.stringify({ id: 'g1', type: 'chat.message', payload: { text: 'hi' } }), false)
  t.same(ok, { ok: true, id: 'g1' })
  t.same(seen, ['hi'])
  t.same(transport.frames.map((f) => [f.kind, f.id, f.payload.code ?? null]), [
    ['error', 'b1', 'VIX_ERR_INVALID_MESSAGE'],
    ['error', 'b2', 'VIX_ERR_INVALID_MESSAGE'],
    ['ack', 'g1', null]
  ])
  t.same(reasons, ['invalid_message', 'invalid_message'])
})

t.test('a schema on a type whose whole payload is wrong reports the payload itself', async (t) => {
  const { hub } = setup()
  hub.on('point', { schema: Type.Object({ x: Type.Number() }, { additionalProperties: false, minProperties: 1 }) })
  const session = hub.openSession(fakeTransport())
  const result = await hub.receive(session, JSON.stringify({ type: 'point', payload: {} }), false, false)
  t.equal(result.ok ? '' : result.path, '/payload')
})

t.test('on() with options only, then handlers: the schema and description stay, handlers add up', async (t) => {
  const { hub } = setup({ relayTypes: ['chat.message', 'presence'] })
  const Schema = Type.Object({ text: Type.String() })
  const calls: string[] = []
  hub.on('chat.message', { schema: Schema, description: 'A chat line' })
  hub.on('chat.message', () => { calls.push('first') })
  hub.on('chat.message', { description: 'A chat line, relayed' }, () => { calls.push('second') })
  hub.on('zeta', () => {})
  t.same(hub.catalogue().map((e) => ({ ...e, schema: e.schema === undefined ? undefined : 'schema' })), [
    { type: 'chat.message', relay: true, schema: 'schema', description: 'A chat line, relayed' },
    { type: 'presence', relay: true },
    { type: 'zeta', relay: false, schema: undefined, description: undefined }
  ])
  t.equal(hub.catalogue()[0].schema, Schema, 'the catalogue holds the very schema that validates')

  const transport = fakeTransport()
  const session = hub.openSession(transport)
  await hub.receive(session, JSON.stringify({ type: 'room.join', payload: { room: 'r' } }), false)
  const result = await hub.receive(session, JSON.stringify({ id: 'm1', room: 'r', type: 'chat.message', payload: { text: 'x' } }), false)
  t.equal(result.ok, true)
  t.same(calls, ['first', 'second'])
  t.ok(transport.frames.some((f) => f.kind === 'event' && f.id === 'm1'), 'relayed to the room, sender included')
})

t.test('router failures: unknown types, relays without a room or membership, denials, throwing handlers', async (t) => {
  const errors: string[] = []
  const { hub, reasons } = setup({
    relayTypes: ['say'],
    authorizeJoin: (_session, room) => room !== 'secret',
    authorizePublish: (_session, message) => message.room !== 'readonly'
  })
  hub.on('boom', () => { throw new Error('handler broke') })
  hub.on('boom.value', () => { throw 'not an error' }) // eslint-disable-line no-throw-literal
  hub.onError((_session, error) => { errors.push(error.message) })
  hub.onError(() => { throw new Error('the error hook broke too') })
  const transport = fakeTransport()
  const session = hub.openSession(transport)
  const send = async (frame: unknown): Promise<any> => await hub.receive(session, JSON.stringify(frame), false, false)

  t.match(await send({ type: 'nobody.handles' }), { ok: false, code: 'VIX_ERR_UNKNOWN_TYPE' })
  t.match(await send({ type: 'say', payload: {} }), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', path: '/room' })
  t.match(await send({ type: 'say', room: 'elsewhere' }), { ok: false, code: 'VIX_ERR_NOT_IN_ROOM' })
  t.match(await send({ type: 'room.join', payload: { room: 'secret' } }), { ok: false, code: 'VIX_ERR_FORBIDDEN' })
  t.match(await send({ type: 'room.join', payload: {} }), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/room' })
  t.match(await send({ type: 'room.join', payload: { room: 'readonly' } }), { ok: true })
  t.match(await send({ type: 'say', room: 'readonly' }), { ok: false, code: 'VIX_ERR_FORBIDDEN', message: /room "readonly"/ })
  t.match(await send({ id: 'x', type: 'boom' }), { ok: false, code: 'VIX_ERR_INTERNAL', id: 'x' })
  t.match(await send({ type: 'boom.value' }), { ok: false, code: 'VIX_ERR_INTERNAL' })
  t.match(await send({ type: 'room.leave', payload: { room: 'readonly' } }), { ok: true })
  t.match(await send({ type: 'room.leave', payload: { room: 7 } }), { ok: false, code: 'VIX_ERR_INVALID_MESSAGE' })
  t.same(errors, ['handler broke', 'not an error'])
  t.same(transport.frames.filter((f) => f.kind === 'error'), [], 'without replyErrors nothing is sent back')
  t.same(reasons, ['invalid_message', 'invalid_message', 'forbidden', 'forbidden', 'invalid_message', 'forbidden', 'internal', 'internal', 'invalid_message'])

  const lenient = new Hub({ rejectUnknownTypes: false })
  t.same(await lenient.receive(lenient.openSession(fakeTransport()), JSON.stringify({ type: 'whatever' }), false), { ok: true })
})

t.test('raw handlers see raw frames and, flagged, typed ones; a throwing raw handler stops the typed dispatch', async (t) => {
  const { hub } = setup()
  const raw: Array<[string, boolean, boolean]> = []
  let typedCalls = 0
  hub.onMessage((_session, data, info) => {
    raw.push([String(data), info.binary, info.typed])
    if (String(data).includes('explode')) throw new Error('raw broke')
  })
  hub.on('hello', () => { typedCalls++ })
  const session = hub.openSession(fakeTransport())
  t.same(await hub.receive(session, 'plain text', false), { ok: true })
  t.same(await hub.receive(session, Buffer.from([1, 2]), true), { ok: true })
  t.same(await hub.receive(session, JSON.stringify({ type: 'hello' }), false), { ok: true, id: undefined })
  t.match(await hub.receive(session, JSON.stringify({ id: 'e', type: 'hello', payload: { explode: true } }), false), { ok: false, code: 'VIX_ERR_INTERNAL', id: 'e' })
  t.equal(typedCalls, 1)
  t.same(raw.map(([, binary, typed]) => [binary, typed]), [[false, false], [true, false], [false, true], [false, true]])
})

t.test('session hooks: open and close handlers run, failures are contained, closing twice is harmless', async (t) => {
  const { hub } = setup()
  const events: string[] = []
  const errors: string[] = []
  hub.onOpen((session) => { events.push(`open ${session.id.length}`) })
  hub.onOpen(() => { throw new Error('open broke') })
  hub.onClose(async (_session, code) => { events.push(`close ${code}`); throw new Error('close broke') })
  hub.onError((session, error) => { errors.push(`${session === null ? 'none' : 'session'}: ${error.message}`) })
  const session = hub.openSession(fakeTransport(), { user: 'ann' }, 'fixed-id')
  t.equal(hub.getSession('fixed-id'), session)
  t.same(session.identity, { user: 'ann' })
  hub.join(session, 'r')
  t.equal(hub.rooms.size('r'), 1)
  hub.leave(session, 'r')
  hub.join(session, 'r')
  hub.closeSession(session, 1000)
  hub.closeSession(session, 1001)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(session.closeCode, 1000)
  t.equal(hub.rooms.size('r'), 0, 'a closed session leaves its rooms')
  t.same(events, ['open 8', 'close 1000'])
  t.same(errors, ['session: open broke', 'session: close broke'])
  hub.emitError(null, new Error('socket'))
  t.same(errors.at(-1), 'none: socket')
})

t.test('fan-out: a room-less message reaches everyone but the excepted session', async (t) => {
  const { hub } = setup()
  const a = fakeTransport()
  const b = fakeTransport()
  const sessionA = hub.openSession(a)
  hub.openSession(b)
  const counted: number[] = []
  const remove = hub.addObserver({ messagesOutbound: (count) => { counted.push(count) } })
  const message = await hub.publish({ type: 'news', payload: { n: 1 } }, { except: sessionA })
  t.equal(message.kind, 'event')
  t.equal(a.frames.length, 0)
  t.equal(b.frames[0].type, 'news')
  await hub.publish({ type: 'news' }, { except: sessionA.id })
  t.equal(hub.fanout({ kind: 'event', type: 'x', room: 'empty', ts: new Date().toISOString(), payload: {} }), 0, 'an empty room reaches nobody')
  remove()
  remove()
  await hub.publish({ type: 'news' })
  t.same(counted, [1, 1, 0])
})
