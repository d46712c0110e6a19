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

// What the protocol does on any transport (relay and its ack, refusals with their codes, failing
// handlers, leave and close) is tested once for WebSocket and long polling in test/protocol.test.ts.

t.test('a plain GET /ws gets 426 with a coded JSON error', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/ws' })
  t.equal(res.statusCode, 426)
  t.match(res.json(), { statusCode: 426, code: 'VIX_ERR_UPGRADE_REQUIRED' })
})

t.test('plain app.injectWS (no socket under the request) opens a session and joins', async (t) => {
  const app = await build(t)
  const ws = await app.injectWS('/ws')
  const frames: Array<{ kind?: string, type: string, id?: string }> = []
  ws.on('message', (data) => { frames.push(JSON.parse(data.toString())) })
  ws.send(JSON.stringify({ type: 'room.join', id: 'j1', payload: { room: 'general' } }))
  const deadline = Date.now() + 2000
  while (!frames.some((f) => f.kind === 'ack' && f.id === 'j1') && Date.now() < deadline) await delay(10)
  t.ok(frames.some((f) => f.kind === 'ack' && f.id === 'j1'), 'the join is acked')
  t.equal(app.realtime.sessions.size, 1)
  const closed = new Promise((resolve) => ws.once('close', resolve))
  ws.terminate()
  await closed
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
