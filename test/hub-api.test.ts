import t from 'tap'
import { Type } from '@sinclair/typebox'
import { ErrorCodes } from '../lib/errors.js'
import { Hub, type ErrorReason } from '../lib/hub.js'
import type { Transport } from '../lib/session.js'

/** A transport that records what the hub sends, with a settable backlog. */
function recorder (): Transport & { sent: any[], backlog: number, closedWith?: number } {
  const transport = {
    name: 'test',
    sent: [] as any[],
    backlog: 0,
    closedWith: undefined as number | undefined,
    send (data: string | Buffer) { transport.sent.push(typeof data === 'string' && data.startsWith('{') ? JSON.parse(data) : data) },
    bufferedAmount: () => transport.backlog,
    close (code: number) { transport.closedWith = code },
    terminate () {}
  }
  return transport
}

t.test('raw handlers see non-typed text, binary frames and (flagged) typed messages', async (t) => {
  const hub = new Hub({ rejectUnknownTypes: false })
  const seen: Array<[string, boolean, boolean]> = []
  hub.onMessage((_session, data, info) => { seen.push([Buffer.isBuffer(data) ? 'buffer' : String(data), info.binary, info.typed]) })
  const session = hub.openSession(recorder())
  t.same(await hub.receive(session, 'hello', false), { ok: true })
  t.same(await hub.receive(session, Buffer.from([1]), true), { ok: true })
  t.same(await hub.receive(session, '{"type":"whatever"}', false), { ok: true })
  t.same(seen, [['hello', false, false], ['buffer', true, false], ['{"type":"whatever"}', false, true]])
})

t.test('open, close and error hooks; a failing hook is reported, never thrown', async (t) => {
  const hub = new Hub()
  const errors: Error[] = []
  const events: string[] = []
  hub.onOpen(() => { events.push('open') })
  hub.onOpen(() => { throw new Error('sync open failure') })
  hub.onOpen(async () => { throw new Error('async open failure') })
  hub.onClose((_session, code) => { events.push(`close ${code}`) })
  hub.onError((_session, error) => { errors.push(error) })
  hub.onError(() => { throw new Error('the error hook itself fails') })
  const session = hub.openSession(recorder())
  await new Promise((resolve) => setImmediate(resolve))
  hub.closeSession(session, 1000)
  hub.closeSession(session, 1000)
  t.same(events, ['open', 'close 1000'], 'closing twice is harmless')
  t.same(errors.map((e) => e.message), ['sync open failure', 'async open failure'])
})

t.test('a raw handler that throws answers VIX_ERR_INTERNAL', async (t) => {
  const hub = new Hub()
  const reasons: ErrorReason[] = []
  hub.addObserver({ error: (reason) => { reasons.push(reason) } })
  hub.onMessage(() => { throw new Error('raw bug') })
  const transport = recorder()
  const session = hub.openSession(transport)
  const result = await hub.receive(session, '{"id":"m1","type":"x"}', false)
  t.same(result, { ok: false, code: ErrorCodes.INTERNAL, message: 'Internal error while handling the message', id: 'm1' })
  t.equal(transport.sent[0].payload.code, ErrorCodes.INTERNAL)
  t.same(reasons, ['internal'])
})

t.test('typed handlers with a schema; the catalogue lists them and relay types', async (t) => {
  const hub = new Hub({ relayTypes: ['chat.message'] })
  hub.on('profile.update', { schema: Type.Object({ name: Type.String() }), description: 'Change your name' }, (session, msg) => {
    session.data.name = msg.payload.name
  })
  hub.on('ping', (session) => { session.data.pinged = true })
  const transport = recorder()
  const session = hub.openSession(transport)
  t.same(await hub.receive(session, '{"id":"p1","type":"profile.update","payload":{"name":"Ann"}}', false), { ok: true, id: 'p1' })
  t.equal(session.data.name, 'Ann')
  const bad = await hub.receive(session, '{"type":"profile.update","payload":{"name":3}}', false, false)
  t.match(bad, { ok: false, code: ErrorCodes.INVALID_MESSAGE, path: '/payload/name' })
  const whole = await hub.receive(session, '{"type":"profile.update"}', false, false)
  t.match(whole, { ok: false, path: '/payload/name' })
  t.same(hub.catalogue().map((entry) => [entry.type, entry.description]), [
    ['chat.message', undefined], ['ping', undefined], ['profile.update', 'Change your name']
  ])
})

t.test('room.leave acks and leaves; server-side join and leave', async (t) => {
  const hub = new Hub()
  const transport = recorder()
  const session = hub.openSession(transport)
  t.equal(hub.join(session, 'a'), true)
  t.equal(hub.join(session, 'a'), false)
  t.same(hub.rooms.names(), ['a'])
  t.equal(hub.rooms.count, 1)
  t.same(await hub.receive(session, '{"id":"l1","type":"room.leave","payload":{"room":"a"}}', false), { ok: true, id: 'l1' })
  t.match(transport.sent.at(-1), { kind: 'ack', type: 'room.leave', id: 'l1', payload: { room: 'a' } })
  t.equal(hub.rooms.count, 0, 'an empty room is deleted')
  t.equal(hub.leave(session, 'a'), false)
  hub.join(session, 'b')
  t.equal(hub.leave(session, 'b'), true)
  const badLeave = await hub.receive(session, '{"type":"room.leave","payload":{}}', false, false)
  t.match(badLeave, { ok: false, code: ErrorCodes.INVALID_MESSAGE, path: '/payload/room' })
})

t.test('a session that cannot keep up is closed 1013', async (t) => {
  const hub = new Hub({ maxBufferedAmount: 10 })
  const reasons: ErrorReason[] = []
  hub.addObserver({ error: (reason) => { reasons.push(reason) } })
  const transport = recorder()
  const session = hub.openSession(transport)
  hub.join(session, 'r')
  transport.backlog = 11
  await hub.publish({ room: 'r', type: 'news' })
  t.equal(transport.closedWith, 1013)
  t.same(reasons, ['slow_consumer'])
  t.equal(session.sendSerialized('{}'), false, 'a closed session sends nothing')
})
