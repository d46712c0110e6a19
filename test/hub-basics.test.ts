import t from 'tap'
import { Type } from '@sinclair/typebox'
import Fastify from 'fastify'
import { Hub, type HubOptions } from '../lib/hub.js'
import { httpStatusOf, ErrorCodes } from '../lib/errors.js'
import { loadConfigFromEnv } from '../lib/config.js'
import type { Transport } from '../lib/session.js'
import { hubPlugin } from '../plugins/hub.js'

function fake (hub: Hub, options: { buffered?: number } = {}): { session: ReturnType<Hub['openSession']>, frames: any[], closed: number[] } {
  const frames: any[] = []
  const closed: number[] = []
  const transport: Transport = {
    name: 'fake',
    send: (data) => { frames.push(typeof data === 'string' && data.startsWith('{') ? JSON.parse(data) : data) },
    bufferedAmount: () => options.buffered ?? 0,
    close: (code) => { closed.push(code) },
    terminate () {}
  }
  return { session: hub.openSession(transport), frames, closed }
}

const errorsOf = (frames: any[]): string[] => frames.filter((f) => f.kind === 'error').map((f) => f.payload.code)

function quietHub (options: HubOptions = {}): { hub: Hub, logged: unknown[] } {
  const logged: unknown[] = []
  const logger = { debug () {}, warn () {}, error: (obj: unknown) => { logged.push(obj) } }
  return { hub: new Hub({ logger, ...options }), logged }
}

t.test('router: typed handlers with schemas, raw frames, unknown types, catalogue', async (t) => {
  const { hub } = quietHub({ relayTypes: ['chat.message'] })
  const raw: Array<[unknown, boolean, boolean]> = []
  hub.onMessage((_session, data, info) => { raw.push([data, info.binary, info.typed]) })
  const seen: unknown[] = []
  hub.on('note.add', { schema: Type.Object({ text: Type.String() }), description: 'Add a note' }, (_session, message) => { seen.push(message.payload.text) })
  hub.on('note.add', { description: 'documented twice' })
  hub.on('ping', () => {})
  t.same(hub.catalogue().map((entry) => [entry.type, entry.description]), [['chat.message', undefined], ['note.add', 'documented twice'], ['ping', undefined]])

  const client = fake(hub)
  await hub.receive(client.session, JSON.stringify({ id: 'n1', type: 'note.add', payload: { text: 'hi' } }), false)
  await hub.receive(client.session, JSON.stringify({ type: 'note.add', payload: { text: 42 } }), false)
  await hub.receive(client.session, JSON.stringify({ type: 'nobody.handles' }), false)
  await hub.receive(client.session, JSON.stringify({ type: 'bad type!' }), false)
  await hub.receive(client.session, 'not json', false)
  await hub.receive(client.session, '[1,2]', false)
  await hub.receive(client.session, Buffer.from([1, 2, 3]), true)
  t.same(seen, ['hi'])
  t.same(client.frames.filter((f) => f.kind === 'ack').map((f) => f.id), ['n1'])
  t.same(errorsOf(client.frames), ['VIX_ERR_INVALID_MESSAGE', 'VIX_ERR_UNKNOWN_TYPE', 'VIX_ERR_INVALID_MESSAGE'])
  t.equal(client.frames.find((f) => f.kind === 'error').payload.path, '/payload/text')
  t.same(raw.map(([, binary, typed]) => [binary, typed]), [[false, true], [false, true], [false, true], [false, false], [false, false], [true, false]])

  const lenient = quietHub({ rejectUnknownTypes: false }).hub
  const other = fake(lenient)
  t.same(await lenient.receive(other.session, JSON.stringify({ type: 'whatever' }), false), { ok: true })
})

t.test('room.leave, relay failures and authorizePublish', async (t) => {
  const { hub } = quietHub({ relayTypes: ['chat.message'], authorizePublish: (_session, message) => message.room !== 'readonly' })
  const client = fake(hub)
  await hub.receive(client.session, JSON.stringify({ type: 'room.join', payload: { room: 'readonly' } }), false)
  await hub.receive(client.session, JSON.stringify({ type: 'room.join', payload: { nope: 1 } }), false)
  await hub.receive(client.session, JSON.stringify({ type: 'chat.message', payload: {} }), false)
  await hub.receive(client.session, JSON.stringify({ type: 'chat.message', room: 'elsewhere' }), false)
  await hub.receive(client.session, JSON.stringify({ type: 'chat.message', room: 'readonly' }), false)
  await hub.receive(client.session, JSON.stringify({ id: 'l1', type: 'room.leave', payload: { room: 'readonly' } }), false)
  t.same(errorsOf(client.frames), ['VIX_ERR_INVALID_MESSAGE', 'VIX_ERR_INVALID_MESSAGE', 'VIX_ERR_NOT_IN_ROOM', 'VIX_ERR_FORBIDDEN'])
  t.match(client.frames.at(-1), { kind: 'ack', type: 'room.leave', id: 'l1', payload: { room: 'readonly' } })
  t.equal(client.session.rooms.size, 0)
  t.equal(hub.leave(client.session, 'readonly'), false)
})

t.test('sessions: hooks, observers, failing handlers, except, slow consumers, rooms', async (t) => {
  const { hub, logged } = quietHub({ maxBufferedAmount: 10 })
  const events: string[] = []
  hub.addObserver({
    sessionOpened: () => { events.push('opened') },
    sessionClosed: (_session, code) => { events.push(`closed ${code}`) },
    published: () => { events.push('published') },
    error: (reason) => { events.push(`error ${reason}`) }
  })
  const stopWatching = hub.addObserver({ sessionOpened: () => { events.push('second observer') } })
  stopWatching()
  stopWatching()
  hub.onOpen(() => { throw new Error('open hook failed') })
  hub.onOpen(async () => { throw new Error('async open hook failed') })
  hub.onClose((_session, code, reason) => { events.push(`hook closed ${code} ${reason}`) })
  hub.onError(() => { throw new Error('onError itself failed') })
  hub.on('explode', () => { throw 'not an Error' }) // eslint-disable-line no-throw-literal

  const a = fake(hub)
  const b = fake(hub)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(hub.getSession(a.session.id), a.session)
  hub.join(a.session, 'r')
  hub.join(b.session, 'r')
  t.equal(hub.join(a.session, 'r'), false)
  t.same([hub.rooms.size('r'), hub.rooms.count, hub.rooms.names(), hub.rooms.size('none')], [2, 1, ['r'], 0])
  await hub.publish({ room: 'r', type: 'x' }, { except: a.session })
  await hub.publish({ room: 'r', type: 'x' }, { except: b.session.id })
  await hub.publish({ type: 'everyone' })
  t.same([a.frames.length, b.frames.length], [2, 2])
  await hub.receive(a.session, JSON.stringify({ type: 'explode' }), false)
  t.same(errorsOf(a.frames), ['VIX_ERR_INTERNAL'])

  const slow = fake(hub, { buffered: 100 })
  hub.join(slow.session, 'r')
  await hub.publish({ room: 'r', type: 'x' })
  t.same(slow.closed, [1013], 'a slow consumer is closed 1013')
  t.equal(slow.session.sendSerialized('more'), false)
  slow.session.close()
  hub.closeSession(a.session, 1000, 'bye')
  hub.closeSession(a.session, 1000, 'bye')
  t.equal(hub.getSession(a.session.id), undefined)
  t.equal(hub.rooms.size('r'), 2)
  t.ok(events.includes('hook closed 1000 bye'))
  t.equal(events.filter((e) => e === 'closed 1000').length, 1, 'closing twice is a no-op')
  t.ok(events.includes('error slow_consumer') && events.includes('error internal'))
  t.notOk(events.includes('second observer'))
  t.ok(logged.length >= 3, 'failing hooks are logged, never thrown')
})

t.test('error codes map to HTTP statuses', async (t) => {
  t.equal(httpStatusOf(ErrorCodes.SESSION_NOT_FOUND), 404)
  t.equal(httpStatusOf(ErrorCodes.MESSAGE_NOT_FOUND), 404)
  t.equal(httpStatusOf(ErrorCodes.STORE_OPEN), 500)
})

t.test('loadConfigFromEnv reads booleans and integers and names a bad variable', async (t) => {
  const config = loadConfigFromEnv({ WEBSOCKET_ENABLE_DEFLATE: 'yes', WEBSOCKET_AUTO_PING_PONG: 'off', WEBSOCKET_IDLE_TIMEOUT: '5' })
  t.same([config.websocket.perMessageDeflate, config.websocket.autoPingPong, config.websocket.idleTimeout], [true, false, 5000])
  t.throws(() => loadConfigFromEnv({ WEBSOCKET_ENABLE_DEFLATE: 'maybe' }), { code: 'VIX_ERR_INVALID_ENV', message: /WEBSOCKET_ENABLE_DEFLATE/ })
  t.throws(() => loadConfigFromEnv({ LONGPOLL_WAIT: '-3' }), { code: 'VIX_ERR_INVALID_ENV', message: /LONGPOLL_WAIT/ })
})

t.test('hub plugin options are checked at register time', async (t) => {
  for (const [options, name] of [[{ relayTypes: [''] }, 'relayTypes'], [{ messageSchema: Type.Object({}, { $id: 'Other' }) }, 'messageSchema'], [{ shutdownTimeout: -1 }, 'shutdownTimeout']] as const) {
    const app = Fastify()
    app.register(hubPlugin, options as any)
    await t.rejects(async () => { await app.ready() }, { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(name) })
  }
})
