import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Parser } from '@asyncapi/parser'
import { Type } from '@sinclair/typebox'
import { hubPlugin, openapiPlugin, vixRealtime } from '../plugins/index.js'
import { build, startExampleApp } from './helpers/app.js'
import { FakeClock } from './helpers/fake-clock.js'
import { connect } from './helpers/ws-client.js'

const parser = new Parser()

/** The AsyncAPI document the app serves, checked by @asyncapi/parser: no diagnostic of error severity. */
async function asyncApiOf (t: Test, app: FastifyInstance, headers: Record<string, string> = {}): Promise<any> {
  const response = await app.inject({ url: '/docs/asyncapi.json', headers })
  t.equal(response.statusCode, 200, 'GET /docs/asyncapi.json')
  const document = response.json()
  const { diagnostics } = await parser.parse(structuredClone(document))
  // Spectral severities: 0 error, 1 warning, 2 information, 3 hint.
  t.same(diagnostics.filter((diagnostic) => diagnostic.severity === 0).map((diagnostic) => `${diagnostic.code}: ${diagnostic.message} at ${diagnostic.path.join('.')}`), [], '@asyncapi/parser finds no error')
  return document
}

/** The message keys an operation carries, and those of its reply. */
function operationMessages (operation: any): { messages: string[], reply: string[] } {
  const key = (ref: { $ref: string }): string => ref.$ref.slice(ref.$ref.lastIndexOf('/') + 1)
  return { messages: operation.messages.map(key), reply: operation.reply?.messages.map(key) ?? [] }
}

/** Whether a frame has what a documented message fixes: its `const` fields, its required ones, the required fields of its payload component. */
function fits (document: any, key: string, frame: any): boolean {
  const [envelope, own] = document.components.messages[key].payload.allOf
  const base = document.components.schemas[envelope.$ref.slice(envelope.$ref.lastIndexOf('/') + 1)]
  const payloadRef: string | undefined = own.properties.payload?.$ref
  const payload = payloadRef === undefined ? { required: [] } : document.components.schemas[payloadRef.slice(payloadRef.lastIndexOf('/') + 1)]
  return Object.entries<any>(own.properties).every(([name, schema]) => schema.const === undefined || frame[name] === schema.const) &&
    [...base.required, ...own.required].every((name: string) => Object.hasOwn(frame, name)) &&
    payload.required.every((name: string) => Object.hasOwn(frame.payload, name))
}

t.test('the AsyncAPI document is valid 3.0 and lists every message both ways', async (t) => {
  const ChatPayload = Type.Object({ text: Type.String({ minLength: 1 }) }, { additionalProperties: false })
  const app = await build(t, { relayTypes: ['chat.message', 'cursor:move'] }, (app) => {
    app.realtime.on('chat.message', { schema: ChatPayload, description: 'A chat line', maxSize: 2048, rate: { rate: 5, burst: 10 } })
  })
  const document = await asyncApiOf(t, app)
  t.equal(document.asyncapi, '3.0.0')
  t.equal(document.info.title, 'Realtime API')
  t.equal(document.channels.realtime.address, '/ws', 'the channel is the WebSocket endpoint')
  t.same(document.servers.websocket, { host: 'localhost:80', protocol: 'ws', description: document.servers.websocket.description })
  t.match(document.servers.longPolling.description, /`GET \/ws\/poll` receives.*`POST \/ws\/send` sends/, 'the long-poll routes are referenced')
  t.match(document.servers.sse, { protocol: 'http', description: /`GET \/ws\/sse` streams.*`POST \/ws\/send` sends/ }, 'the SSE server and its routes')
  t.equal(document.servers.longPolling.externalDocs.url, 'http://localhost:80/docs/json', '… and the OpenAPI document that describes them')
  t.equal(document.info.externalDocs.url, 'http://localhost:80/docs/json')

  const { operations, components } = document
  t.same(operationMessages(operations['receive.chat.message']), { messages: ['chat.message'], reply: ['ack', 'error'] }, 'the server receives chat.message, answers an ack or an error')
  t.same(operationMessages(operations['send.chat.message']), { messages: ['chat.message.event'], reply: [] }, 'and sends it to the room')
  t.equal(operations['receive.chat.message'].action, 'receive')
  t.equal(operations['send.chat.message'].action, 'send')
  t.same(components.messages['chat.message'].payload.allOf[1].properties, { type: { const: 'chat.message' }, payload: { $ref: '#/components/schemas/VixPayload.chat.message' } }, 'the typed handler payload schema')
  t.match(components.messages['chat.message'].description, /A chat line Limits: at most 2048 bytes .*5\/s per session, burst 10/)
  t.same(components.schemas['VixPayload.chat.message'].properties.text, { type: 'string', minLength: 1 })
  t.ok(operations['receive.cursor_move'], 'a type with a character names cannot hold gets a safe key')

  t.same(operationMessages(operations['receive.room.join']), { messages: ['room.join'], reply: ['room.join.ack', 'error'] }, 'room.join with its ack')
  t.same(components.messages['room.join.ack'].payload.allOf[1].properties.payload, { $ref: '#/components/schemas/VixRoomJoinAckPayload' })
  t.same(operationMessages(operations['receive.room.leave']), { messages: ['room.leave'], reply: ['room.leave.ack', 'error'] })
  t.same(operationMessages(operations['send.error']), { messages: ['error'], reply: [] })
  t.same(components.messages.error.payload.allOf[1].properties.payload, { $ref: '#/components/schemas/VixErrorFramePayload' })
  t.same(operationMessages(operations['send.server.going_away']), { messages: ['server.going_away'], reply: [] })
  t.same(components.messages['server.going_away'].payload.allOf[1].properties, { kind: { const: 'system' }, type: { const: 'server.going_away' }, payload: { $ref: '#/components/schemas/VixGoingAwayPayload' } })
  t.same(components.schemas.VixGoingAwayPayload.required, ['retryAfterMs'])
  t.notOk(components.messages['presence.state'], 'no presence frames without presence')
  t.same(components.schemas.VixServerMessage.properties.kind, { type: 'string', enum: ['event', 'ack', 'error', 'system'] }, 'kind is an enum')
  for (const key of Object.keys(components.messages)) t.ok(document.channels.realtime.messages[key], `${key} is a message of the channel`)

  // What a client really receives matches the documented messages.
  const client = await connect(app)
  client.send({ id: 'j-1', type: 'room.join', payload: { room: 'general' } })
  const ack = await client.waitFor((frame) => frame.kind === 'ack' && frame.id === 'j-1')
  t.ok(fits(document, 'room.join.ack', ack), 'the room.join ack matches room.join.ack')
  client.send({ id: 'bad', type: 'chat.message', room: 'general', payload: { text: 1 } })
  const error = await client.waitFor((frame) => frame.kind === 'error' && frame.id === 'bad')
  t.ok(fits(document, 'error', error), 'an error frame matches error')
  client.send({ id: 'c-1', type: 'chat.message', room: 'general', payload: { text: 'hi' } })
  const event = await client.waitFor((frame) => frame.kind === 'event' && frame.type === 'chat.message')
  t.ok(fits(document, 'chat.message.event', event), 'the relayed event matches chat.message.event')
  t.notOk(fits(document, 'chat.message.event', { ...event, kind: 'ack' }), 'and the check can fail')
  t.notOk(fits(document, 'room.join.ack', { ...ack, payload: { room: 'general' } }), 'a payload without its required fields fails')
})

t.test('a handler registered after the docs is in the document; presence frames with presence', async (t) => {
  const app = await build(t, { presence: { rooms: 'all' } })
  t.notOk((await asyncApiOf(t, app)).operations['receive.late.type'])
  app.realtime.on('late.type', { schema: Type.Object({ n: Type.Integer() }) })
  const document = await asyncApiOf(t, app)
  t.same(operationMessages(document.operations['receive.late.type']), { messages: ['late.type'], reply: ['ack', 'error'] }, 'read at request time')
  t.notOk(document.operations['send.late.type'], 'a typed type that is not relayed is not sent by the server')
  t.same(document.components.schemas['VixPayload.late.type'].properties.n, { type: 'integer' })
  t.same(operationMessages(document.operations['send.presence.state']), { messages: ['presence.state'], reply: [] })
  t.same(document.components.messages['presence.diff'].payload.allOf[1].properties.payload.properties.leaves.items.required, ['key'])
})

t.test('behind a TLS proxy the servers are wss and https; docs without any realtime part', async (t) => {
  const app = Fastify({ trustProxy: true })
  t.teardown(() => app.close())
  await app.register(vixRealtime, { longPolling: false })
  const document = await asyncApiOf(t, app, { 'x-forwarded-proto': 'https', host: 'rt.example' })
  t.same([document.servers.websocket.protocol, document.servers.websocket.host], ['wss', 'rt.example'])
  t.notOk(document.servers.longPolling, 'no long-poll server when long-polling is off')
  t.equal(document.info.externalDocs.url, 'https://rt.example/docs/json')

  const bare = Fastify()
  t.teardown(() => bare.close())
  await bare.register(openapiPlugin, { routePrefix: '/api' })
  const response = await bare.inject('/api/asyncapi.json')
  const { diagnostics } = await parser.parse(response.json())
  t.same(diagnostics.filter((diagnostic) => diagnostic.severity === 0), [], 'valid without a hub')
  t.equal(response.json().channels.realtime.address, null, 'no WebSocket endpoint: address unknown')
  t.same(Object.keys(response.json().operations), ['send.error'])
})

t.test('serve: false serves no AsyncAPI document, and a bad value is refused', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(hubPlugin)
  await app.register(openapiPlugin, { serve: false })
  t.equal((await app.inject('/docs/asyncapi.json')).statusCode, 404)
  t.equal((await app.inject('/docs')).statusCode, 404, 'nor Swagger UI')
  t.ok(app.hasDecorator('swagger'), 'the document is still built (app.swagger())')
  const bad = Fastify()
  t.teardown(() => bad.close())
  await t.rejects(async () => { await bad.register(openapiPlugin, { serve: 'yes' } as any) }, { code: 'VIX_ERR_INVALID_OPTION', message: /serve/ })
})

t.test('the example app\'s AsyncAPI document: chat.message sent and received with its payload schema', async (t) => {
  const app = await startExampleApp(t)
  const document = await asyncApiOf(t, app)
  t.same(operationMessages(document.operations['receive.chat.message']), { messages: ['chat.message'], reply: ['ack', 'error'] })
  t.same(operationMessages(document.operations['send.chat.message']), { messages: ['chat.message.event'], reply: [] })
  t.same(document.components.messages['chat.message.event'].payload.allOf[1].properties.payload, { $ref: '#/components/schemas/VixPayload.chat.message' })
})

t.test('a request type: its operation replies with its reply message (the ack carrying payload.reply) or an error', async (t) => {
  const Add = Type.Object({ a: Type.Number(), b: Type.Number() })
  const Sum = Type.Object({ sum: Type.Number() })
  const app = await build(t, {}, (app) => {
    app.realtime.on('math.add', { schema: Add, reply: Sum, description: 'Add two numbers' }, (session, msg) => ({ sum: msg.payload.a + msg.payload.b }))
  })
  const document = await asyncApiOf(t, app)
  t.same(operationMessages(document.operations['receive.math.add']), { messages: ['math.add'], reply: ['math.add.ack', 'error'] })
  const reply = document.components.messages['math.add.ack']
  t.equal(reply.name, 'math.add reply')
  t.same(reply.payload.allOf[1].properties, { kind: { const: 'ack' }, type: { const: 'math.add' }, payload: { type: 'object', properties: { reply: { $ref: '#/components/schemas/VixReply.math.add' } }, required: ['reply'] } })
  t.same(document.components.schemas['VixReply.math.add'].properties.sum, { type: 'number' })
  // What the server really sends fits the documented reply.
  const ws = await connect(app)
  ws.send({ id: 'q1', type: 'math.add', payload: { a: 1, b: 2 } })
  const ack = await ws.waitFor((frame) => frame.id === 'q1')
  t.ok(fits(document, 'math.add.ack', ack), 'the ack fits the reply message')
  t.same(ack.payload.reply, { sum: 3 })
})

/** The documented server message a frame fits (the first, in document order), or undefined: a frame of a type the catalogue lacks fits none. */
function documentedAs (document: any, frame: any): string | undefined {
  return Object.keys(document.components.messages).find((key) => document.components.messages[key]['x-vix-direction'] === 'server' && fits(document, key, frame))
}

/** Every frame type the server's code writes or handles itself: `systemFrame('…')`, `ackFrame('…')` (the client type it acks), `errorFrame`, the dispatcher's own types. */
function frameTypesInSource (): { server: Set<string>, client: Set<string> } {
  const found = { server: new Set<string>(), client: new Set<string>() }
  const files = readdirSync('lib', { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts') && !/^(client|testing)\//.test(file))
  for (const file of files) {
    // Code only: a doc comment's example (`hub.on('ping', …)`) is no frame of the server's.
    const source = readFileSync(join('lib', file), 'utf8').split('\n').filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)).join('\n')
    for (const [, type] of source.matchAll(/systemFrame\('([^']+)'/g)) found.server.add(type)
    for (const [, type] of source.matchAll(/ackFrame\('([^']+)'/g)) found.client.add(type)
    if (/errorFrame\(/.test(source)) found.server.add('error')
    if (file === join('hub', 'dispatch.ts')) for (const [, type] of source.matchAll(/message\.type === '([^']+)'/g)) found.client.add(type)
  }
  return found
}

t.test('every frame type the server sends or handles itself is in the catalogue and the AsyncAPI document', async (t) => {
  const app = await build(t, { presence: { rooms: 'all' } })
  const document = await asyncApiOf(t, app)
  const catalogue = (await app.inject('/docs/json')).json().paths['/ws'].get['x-vix-messages'].map((entry: any) => `${entry.type} ${entry.direction}`)
  const { server, client } = frameTypesInSource()
  for (const known of ['error', 'room.interrupted', 'room.left', 'server.going_away', 'session.expiring', 'session.closed', 'session.opened', 'presence.state', 'presence.diff']) t.ok(server.has(known), `the source scan finds ${known}`)
  for (const known of ['room.join', 'room.leave', 'auth.refresh']) t.ok(client.has(known), `the source scan finds ${known}`)
  const direction = (key: string): string | undefined => document.components.messages[key]?.['x-vix-direction']
  for (const type of server) {
    t.equal(direction(type), 'server', `${type}: a server message of the AsyncAPI document`)
    t.ok(document.operations[`send.${type}`], `${type}: the server sends it`)
    t.ok(catalogue.includes(`${type} server`), `${type}: in x-vix-messages`)
  }
  for (const type of client) {
    t.equal(direction(type), 'client', `${type}: a client message of the AsyncAPI document`)
    t.ok(catalogue.includes(`${type} client`), `${type}: in x-vix-messages`)
  }
  t.same(operationMessages(document.operations['receive.auth.refresh']), { messages: ['auth.refresh'], reply: ['auth.refresh.ack', 'error'] }, 'auth.refresh with its ack')
  t.same(document.components.schemas.VixAuthRefreshPayload.required, ['token'])
})

t.test('what an expiring, refreshed, removed and disconnected session receives fits the documented frames', async (t) => {
  const fake = new FakeClock()
  const tokenOf = (request: any): string | undefined => request.query.token ?? request.headers.authorization?.replace(/^Bearer /, '')
  const app = await build(t, {
    clock: { now: () => fake.now, setTimeout: fake.setTimeout, clearTimeout: fake.clearTimeout },
    // Tokens `user:expiresAt:room,room`: who, when it expires (fake clock) and the rooms it may join.
    authenticate: (request) => {
      const [user, expiresAt, rooms = ''] = (tokenOf(request) ?? '').split(':')
      return user === '' || expiresAt === undefined ? null : { identity: { user, rooms: rooms.split(',') }, expiresAt: Number(expiresAt) }
    },
    identityKey: (identity) => (identity as { user: string }).user,
    authorizeJoin: (session, room) => (session.identity as { rooms: string[] }).rooms.includes(room)
  })
  const document = await asyncApiOf(t, app, { authorization: 'Bearer docs:9999999999999:' })
  const ada = await connect(app, '/ws?token=ada:60000:general,vip')
  t.teardown(() => { ada.close() })
  await ada.join('general')
  await ada.join('vip')
  fake.tick(30_000)
  const expiring = await ada.waitFor((frame) => frame.type === 'session.expiring')
  ada.send({ id: 'r1', type: 'auth.refresh', payload: { token: 'ada:200000:general' } })
  const refreshed = await ada.waitFor((frame) => frame.kind === 'ack' && frame.id === 'r1')
  const forbidden = await ada.waitFor((frame) => frame.type === 'room.left' && frame.room === 'vip')
  await app.realtime.leave({ identity: { user: 'ada' } }, 'general')
  const removed = await ada.waitFor((frame) => frame.type === 'room.left' && frame.room === 'general')
  await app.realtime.disconnect({ identity: { user: 'ada' } }, { code: 4003, reason: 'banned', reconnect: false })
  const closed = await ada.waitFor((frame) => frame.type === 'session.closed')

  t.equal(documentedAs(document, expiring), 'session.expiring')
  t.ok(fits(document, 'auth.refresh.ack', refreshed), 'the refresh ack fits its own message')
  t.notOk(fits(document, 'auth.refresh.ack', { ...refreshed, payload: {} }), '… whose expiresAt is required')
  t.equal(documentedAs(document, forbidden), 'room.left')
  t.equal(documentedAs(document, removed), 'room.left')
  t.equal(documentedAs(document, closed), 'session.closed')
  for (const frame of ada.frames) t.ok(documentedAs(document, frame), `${(frame as any).kind} ${(frame as any).type} is documented`)
  t.equal(documentedAs(document, { ...expiring, type: 'session.unknown' }), undefined, 'a system frame of a type the catalogue lacks fits nothing')
  t.notOk(fits(document, 'session.closed', { ...closed, payload: { code: 4003 } }), 'nor one without its required fields')
})
