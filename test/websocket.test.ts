import t from 'tap'
import Fastify from 'fastify'
import WebSocket from 'ws'
import { Type } from '@sinclair/typebox'
import { websocketPlugin } from '../plugins/websocket.js'
import vixRealtime, { hubPlugin, type HubPluginOptions } from '../plugins/index.js'
import { baseUrl, build } from './helpers/app.js'
import { connect, TestClient } from './helpers/ws-client.js'
import { delay } from './helpers/wait.js'
import { hubOf } from '../lib/hub/realtime.js'

t.test('a plain GET /ws gets 426 with a coded JSON error', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/ws' })
  t.equal(res.statusCode, 426)
  t.match(res.json(), { statusCode: 426, code: 'VIX_ERR_UPGRADE_REQUIRED' })
})

t.test('two sockets in one room each see published messages once, in order; an outsider sees nothing', async (t) => {
  const app = await build(t)
  const a = await connect(app)
  const b = await connect(app)
  const outsider = await connect(app)
  await a.join('general')
  await b.join('general')
  for (let i = 0; i < 20; i++) await app.realtime.publish({ room: 'general', type: 'tick', payload: { i } })
  for (const client of [a, b]) {
    const ticks = await client.waitForCount((f) => f.type === 'tick', 20)
    t.same(ticks.map((f) => f.payload.i), Array.from({ length: 20 }, (_, i) => i))
    t.equal(new Set(ticks.map((f) => f.id)).size, 20)
  }
  await delay(50)
  t.same(outsider.frames, [])
})

t.test('broadcast to all, to a room, to a room except one session', async (t) => {
  const app = await build(t)
  const a = await connect(app)
  const b = await connect(app)
  await a.join('r')
  await b.join('r')
  await app.realtime.publish({ type: 'everyone' })
  const sessionA = [...app.realtime.sessions.values()].find((s) => s.rooms.has('r'))!
  await app.realtime.publish({ room: 'r', type: 'not-you' }, { except: sessionA })
  await b.waitFor((f) => f.type === 'not-you')
  await a.waitFor((f) => f.type === 'everyone')
  await delay(30)
  const notYou = [a, b].map((c) => c.frames.filter((f: any) => f.type === 'not-you').length)
  t.same(notYou.sort(), [0, 1])
})

t.test('relay: a client publishes to its room, the sender receives it too, an id is acked', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const a = await connect(app)
  const b = await connect(app)
  await a.join('general')
  await b.join('general')
  a.send({ id: 'c-1', room: 'general', type: 'chat.message', payload: { text: 'hi' } })
  const ack = await a.waitFor((f) => f.kind === 'ack' && f.id === 'c-1')
  t.same(Object.keys(ack).sort(), ['id', 'kind', 'payload', 'room', 'ts', 'type'])
  t.match(ack, { kind: 'ack', type: 'chat.message', id: 'c-1', room: 'general' })
  t.match(await a.waitFor((f) => f.kind === 'event'), { id: 'c-1', payload: { text: 'hi' } })
  t.match(await b.waitFor((f) => f.kind === 'event'), { id: 'c-1', type: 'chat.message', room: 'general' })
})

t.test('publishing to a room not joined gets VIX_ERR_NOT_IN_ROOM', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const a = await connect(app)
  const member = await connect(app)
  await member.join('general')
  a.send({ id: 'x1', room: 'general', type: 'chat.message', payload: { text: 'sneaky' } })
  const error = await a.waitFor((f) => f.kind === 'error')
  t.match(error, { type: 'error', id: 'x1', payload: { code: 'VIX_ERR_NOT_IN_ROOM' } })
  await delay(30)
  t.same(member.frames.filter((f: any) => f.kind === 'event'), [])
})

t.test('bad input gets error frames and the connection stays', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const raw: string[] = []
  app.realtime.onMessage((_s, data, info) => { if (!info.typed) raw.push(String(data)) })
  const c = await connect(app)
  c.send('not json at all')
  c.send('{"no":"type"}')
  c.send({ type: 5 })
  c.send({ type: 'x'.repeat(129) })
  c.send({ type: 'bad chars!' })
  c.send({ type: 'chat.message', payload: 'text' })
  c.send({ type: 'chat.message', room: 'r', unknown: 1 })
  const errors = await c.waitForCount((f) => f.kind === 'error', 5)
  t.same(errors.map((e) => e.payload.path), ['/type', '/type', '/type', '/payload', '/unknown'])
  for (const e of errors) t.equal(e.payload.code, 'VIX_ERR_INVALID_MESSAGE')
  t.same(raw, ['not json at all', '{"no":"type"}'])
  c.send({ type: 'no.such.type', id: 'u1' })
  t.match(await c.waitFor((f) => f.payload?.code === 'VIX_ERR_UNKNOWN_TYPE'), { id: 'u1' })
  t.match(await c.join('still-alive'), { kind: 'ack' })
})

t.test('a __proto__ payload never pollutes Object.prototype', async (t) => {
  const app = await build(t)
  let received: any
  app.realtime.on('probe', (_s, msg) => { received = msg.payload })
  const c = await connect(app)
  c.send('{"type":"probe","id":"p","payload":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"keep":1}}')
  await c.waitFor((f) => f.kind === 'ack' && f.id === 'p')
  t.equal(({} as any).polluted, undefined)
  t.equal(received.keep, 1)
  t.equal(received.polluted, undefined)
})

t.test('binary frames go to raw handlers as Buffers', async (t) => {
  const app = await build(t)
  const got: Array<[boolean, Buffer]> = []
  app.realtime.onMessage((session, data, info) => {
    got.push([info.binary, data as Buffer])
    session.sendSerialized('got it')
  })
  const c = await connect(app)
  c.send(Buffer.from([0, 1, 2, 255]))
  await c.waitFor((f) => f === 'got it')
  t.equal(got[0][0], true)
  t.ok(Buffer.isBuffer(got[0][1]))
  t.same([...got[0][1]], [0, 1, 2, 255])
})

t.test('a handler that throws or rejects gives VIX_ERR_INTERNAL; connection and server live on', async (t) => {
  const app = await build(t)
  const errors: Error[] = []
  app.realtime.on('sync.boom', () => { throw new Error('sync') })
  app.realtime.on('async.boom', async () => { throw new Error('async') })
  app.realtime.onError((_s, error) => { errors.push(error) })
  const c = await connect(app)
  c.send({ type: 'sync.boom', id: 's' })
  c.send({ type: 'async.boom', id: 'a' })
  const frames = await c.waitForCount((f) => f.payload?.code === 'VIX_ERR_INTERNAL', 2)
  t.same(frames.map((f) => f.id), ['s', 'a'])
  t.same(errors.map((e) => e.message), ['sync', 'async'])
  t.match(await c.join('ok'), { kind: 'ack' })
  const other = await connect(app)
  t.match(await other.join('ok'), { kind: 'ack' })
})

t.test('a typed handler with a payload schema rejects an invalid payload with the path', async (t) => {
  const app = await build(t)
  const seen: string[] = []
  app.realtime.on('greet', { schema: Type.Object({ name: Type.String({ minLength: 1 }) }) }, (_s, msg) => { seen.push(msg.payload.name) })
  const c = await connect(app)
  c.send({ type: 'greet', id: 'g1', payload: { name: 3 } })
  t.match(await c.waitFor((f) => f.kind === 'error'), { id: 'g1', payload: { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/name' } })
  c.send({ type: 'greet', id: 'g2', payload: { name: 'ann' } })
  await c.waitFor((f) => f.kind === 'ack' && f.id === 'g2')
  t.same(seen, ['ann'])
})

t.test('a forbidden join gets VIX_ERR_FORBIDDEN and no membership', async (t) => {
  const app = await build(t, { authorizeJoin: async (_s, room) => !room.startsWith('admin') })
  const c = await connect(app)
  c.send({ type: 'room.join', id: 'j', payload: { room: 'admin-room' } })
  t.match(await c.waitFor((f) => f.kind === 'error'), { id: 'j', payload: { code: 'VIX_ERR_FORBIDDEN' } })
  await app.realtime.publish({ room: 'admin-room', type: 'secret' })
  await delay(30)
  t.same(c.frames.filter((f: any) => f.type === 'secret'), [])
})

t.test('authorizePublish denies a relay with VIX_ERR_FORBIDDEN', async (t) => {
  const app = await build(t, {
    relayTypes: ['chat.message'],
    authenticate: (request: any) => request.headers['x-user'] ?? null,
    authorizePublish: (session) => session?.identity !== 'muted'
  })
  const c = await connect(app, '/ws', { headers: { 'x-user': 'muted' } })
  await c.join('r')
  c.send({ type: 'chat.message', room: 'r', payload: { text: 'x' } })
  t.match(await c.waitFor((f) => f.kind === 'error'), { payload: { code: 'VIX_ERR_FORBIDDEN' } })
  t.same(c.frames.filter((f: any) => f.kind === 'event'), [])
  const speaker = await connect(app, '/ws', { headers: { 'x-user': 'ann' } })
  await speaker.join('r')
  speaker.send({ type: 'chat.message', room: 'r', payload: { text: 'y' } })
  t.match(await c.waitFor((f) => f.kind === 'event'), { payload: { text: 'y' } })
})

t.test('room.leave acks; a closed session leaves all its rooms and empty rooms are deleted', async (t) => {
  const app = await build(t)
  const c = await connect(app)
  await c.join('a')
  await c.join('b')
  c.send({ type: 'room.leave', payload: { room: 'a' } })
  t.match(await c.waitFor((f) => f.kind === 'ack' && f.type === 'room.leave'), { room: 'a', payload: { room: 'a' } })
  t.same(app.realtime.rooms.names(), ['b'])
  c.close()
  await c.closed
  await delay(20)
  t.equal(app.realtime.rooms.count, 0)
  t.equal(app.realtime.sessions.size, 0)
})

t.test('server-side join and leave through the decorator', async (t) => {
  const app = await build(t)
  let opened: any
  app.realtime.onOpen((session) => { opened = session })
  const c = await connect(app)
  await delay(20)
  app.realtime.join(opened, 'pushed')
  await app.realtime.publish({ room: 'pushed', type: 'hello' })
  await c.waitFor((f) => f.type === 'hello')
  app.realtime.leave(opened, 'pushed')
  t.equal(app.realtime.rooms.count, 0)
})

t.test('onOpen / onClose see the session and the close code', async (t) => {
  const app = await build(t)
  const events: string[] = []
  app.realtime.onOpen(() => { events.push('open') })
  app.realtime.onClose((_s, code) => { events.push(`close:${code}`) })
  const c = await connect(app)
  c.close(4001)
  await c.closed
  await delay(30)
  t.same(events, ['open', 'close:4001'])
})

t.test('the umbrella can leave the WebSocket transport out; the plugin registers with just the hub', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(vixRealtime, { websocket: false })
  await app.ready()
  t.ok(app.realtime)
  t.equal((await app.inject('/ws')).statusCode, 404)

  const alone = Fastify()
  t.teardown(() => alone.close())
  await alone.register(hubPlugin, { relayTypes: ['x'] })
  await alone.register(websocketPlugin, { path: '/live' })
  await alone.listen({ host: '127.0.0.1', port: 0 })
  const c = new TestClient(new WebSocket(`${baseUrl(alone, 'ws')}/live`))
  await new Promise((resolve) => c.ws.once('open', resolve))
  t.match(await c.join('r'), { kind: 'ack' })
  t.same([...hubOf(alone.realtime).relayTypes], ['x'], 'the hub options came from hubPlugin')
  c.send({ id: 'x-1', room: 'r', type: 'x', payload: {} })
  t.match(await c.waitFor((f) => f.kind === 'event'), { id: 'x-1', type: 'x' })
})

t.test('the part needs the hub: without it boot fails with Fastify\'s plugin-dependency error', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(websocketPlugin, { path: '/live' }).ready() }, { code: 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE', message: /vix-realtime-websocket/ })
})

t.test('a hub option given to the part fails boot with VIX_ERR_INVALID_OPTION naming it', async (t) => {
  const hubOptions: Array<[string, unknown]> = [
    ['relayTypes', ['x']],
    ['authenticate', () => ({})],
    ['identityKey', () => 'k'],
    ['goingAwayRetryAfter', 2500],
    ['maxBufferedAmount', 1024],
    ['rejectUnknownTypes', false]
  ]
  for (const [option, value] of hubOptions) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(hubPlugin).register(websocketPlugin, { path: '/live', [option]: value } as any).ready() },
      { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`"${option}".*hub option.*websocketPlugin`) }, option)
  }
})

t.test('hubPlugin twice: the same options are harmless, different ones fail boot', async (t) => {
  const twice = Fastify()
  t.teardown(() => twice.close())
  const authenticate = (): unknown => ({ user: 'ann' })
  await twice.register(hubPlugin, { relayTypes: ['chat.message'], authenticate })
  await twice.register(hubPlugin, { relayTypes: ['chat.message'], authenticate })
  await twice.register(hubPlugin)
  await twice.register(websocketPlugin)
  await twice.listen({ host: '127.0.0.1', port: 0 })
  t.same([...hubOf(twice.realtime).relayTypes], ['chat.message'])
  const c = await connect(twice)
  await c.join('general')
  c.send({ id: 'm-1', room: 'general', type: 'chat.message', payload: { text: 'hi' } })
  t.match(await c.waitFor((f) => f.kind === 'event'), { id: 'm-1' }, 'one hub, working')

  const conflicts: Array<[string, HubPluginOptions, HubPluginOptions]> = [
    ['relayTypes', { relayTypes: ['chat.message'] }, { relayTypes: ['chat.other'] }],
    ['relayTypes', { relayTypes: ['chat.message'] }, { relayTypes: ['chat.message', 'chat.other'] }],
    ['goingAwayRetryAfter', { goingAwayRetryAfter: 1000 }, { goingAwayRetryAfter: 2500 }]
  ]
  for (const [option, first, second] of conflicts) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(hubPlugin, first).register(hubPlugin, second).ready() },
      { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`"${option}".*hub options are taken once`) }, `${option}: ${JSON.stringify(second)}`)
  }

  // The umbrella after a hub takes the hub as it is, and refuses other hub options too.
  const umbrella = Fastify()
  t.teardown(() => umbrella.close())
  await t.rejects(async () => { await umbrella.register(hubPlugin, { relayTypes: ['a'] }).register(vixRealtime, { relayTypes: ['b'] }).ready() },
    { code: 'VIX_ERR_INVALID_OPTION', message: /"relayTypes"/ })
})

t.test('bad options fail boot with a coded error naming the option', async (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ websocket: { maxMessageSize: 0 } }, 'maxMessageSize'],
    [{ websocket: { path: 'ws' } }, 'path'],
    [{ websocket: { perMessageDeflate: 'yes' } }, 'perMessageDeflate'],
    [{ websocket: { pingInterval: 1.5 } }, 'pingInterval'],
    [{ websocket: { allowedOrigins: 'http://x' } }, 'allowedOrigins'],
    [{ relayTypes: [''] }, 'relayTypes'],
    [{ relayTypes: ['server.going_away'] }, 'relayTypes'],
    [{ relayTypes: ['presence.ping'] }, 'relayTypes'],
    [{ goingAwayRetryAfter: -1 }, 'goingAwayRetryAfter'],
    [{ identityKey: 'id' }, 'identityKey'],
    [{ maxQueuedFrames: 0 }, 'maxQueuedFrames'],
    [{ authenticate: 'nope' }, 'authenticate'],
    [{ maxBufferedAmount: -1 }, 'maxBufferedAmount'],
    [{ messageSchema: Type.Object({ type: Type.String() }) }, 'messageSchema']
  ]
  for (const [options, name] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(vixRealtime, options as any).ready() }, { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`"${name}"`) }, name)
    await app.close()
  }
})
