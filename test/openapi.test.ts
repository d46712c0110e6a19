import t from 'tap'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import SwaggerParser from '@apidevtools/swagger-parser'
import { Type } from '@sinclair/typebox'
import { compileValidator } from '../lib/codec.js'
import { CloseCodes } from '../lib/errors.js'
import { Hub } from '../lib/hub/hub.js'
import { hubOf, Realtime } from '../lib/hub/realtime.js'
import { catalogueHeading, catalogueTable, documentCatalogue, payloadComponentPrefix, replyComponentPrefix } from '../lib/openapi/catalogue.js'
import { literalUnionsAsEnums } from '../lib/openapi/enums.js'
import { documentErrorExamples, errorBodyExample, errorNamesOf } from '../lib/openapi/error-examples.js'
import { errorTable, httpStatusOf, type ErrorName } from '../schemas/protocol.js'
import { mergeDocuments } from '../lib/openapi/document.js'
import { routesSinceHub } from '../plugins/hub.js'
import { hubPlugin, openapiPlugin, vixRealtime, websocketPlugin } from '../plugins/index.js'
import { ErrorResponse, JsonMessage, MessageKind, sharedSchemas } from '../schemas/message.js'
import { baseUrl, build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { assertFullyDocumented, documentedOperations } from './helpers/openapi.js'

/** Every operation the default umbrella documents: the test below fails while the document and this list differ. */
const expectedOperations = [
  'GET /ws',
  'GET /ws/poll',
  'DELETE /ws/poll',
  'POST /ws/send',
  'GET /ws/sse',
  'GET /metrics',
  'GET /ws/health',
  'GET /ws/ready',
  'GET /ws/client.js'
]

async function documentOf (app: FastifyInstance, prefix = '/docs'): Promise<any> {
  const response = await app.inject(`${prefix}/json`)
  if (response.statusCode !== 200) throw new Error(`${prefix}/json answered ${response.statusCode}`)
  return response.json()
}

/**
 * A JSON copy of a schema as @fastify/swagger puts it in the document: no `$id`,
 * no TypeBox symbols, and a catch-all `patternProperties` (TypeBox's `Record`)
 * written as the `additionalProperties` it is equivalent to.
 */
function asComponent (schema: object): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(schema), (_key, value) => {
    if (value !== null && typeof value === 'object' && value.patternProperties?.['^(.*)$'] !== undefined) {
      const { patternProperties, ...rest } = value
      return { ...rest, additionalProperties: patternProperties['^(.*)$'] }
    }
    return value
  })
  delete copy.$id
  return copy
}

/** Try to upgrade; resolve with the HTTP answer when the server refuses. */
async function refusedUpgrade (app: FastifyInstance, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const ws = new WebSocket(`${baseUrl(app, 'ws')}/ws`, { headers })
  return await new Promise((resolve, reject) => {
    ws.once('open', () => { ws.close(); reject(new Error('upgrade was accepted')) })
    ws.once('error', reject)
    ws.once('unexpected-response', (_request, response) => {
      let text = ''
      response.on('data', (chunk: Buffer) => { text += chunk.toString() })
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }) })
    })
  })
}

t.test('the document is valid OpenAPI 3.1 and every operation is fully documented', async (t) => {
  const app = await build(t)
  const document = await documentOf(app)
  t.equal(document.openapi, '3.1.0')
  await t.resolves(SwaggerParser.validate(structuredClone(document)), 'swagger-parser validates /docs/json')
  t.same([...documentedOperations(document).keys()].sort(), [...expectedOperations].sort(), 'the documented operations are the expected ones')
  assertFullyDocumented(t, document)
  const yaml = await app.inject('/docs/yaml')
  t.equal(yaml.statusCode, 200)
  t.match(yaml.body, /^openapi: 3\.1\.0/m)
})

t.test('the shared schemas are components named after their $id, equal to the objects that validate', async (t) => {
  const app = await build(t)
  const { components } = await documentOf(app)
  for (const schema of sharedSchemas) {
    const id = schema.$id as string
    t.ok(components.schemas[id], `component ${id}`)
  }
  t.same(components.schemas.VixJsonMessage, asComponent(hubOf(app.realtime).messageSchema), 'VixJsonMessage is the hub envelope')
  t.equal(hubOf(app.realtime).messageSchema, JsonMessage, 'by default the envelope is JsonMessage')
})

t.test('GET /ws is documented as the upgrade endpoint', async (t) => {
  const app = await build(t)
  const document = await documentOf(app)
  const operation = document.paths['/ws'].get
  t.match(operation.summary, /WebSocket/)
  t.same(Object.keys(operation.responses).sort(), ['101', '401', '403', '426', '429', '503'])
  t.match(operation.responses['101'].description, /^Switching Protocols/)
  t.notOk(operation.responses['101'].content, 'the upgrade answer has no body')
  t.ok(operation.responses['101'].headers['sec-websocket-accept'])
  for (const status of ['401', '403', '426', '429', '503']) {
    t.equal(operation.responses[status].content['application/json'].schema.$ref, '#/components/schemas/VixErrorResponse', `${status} uses the shared error schema`)
  }
  const extension = operation['x-vix-websocket']
  t.same(extension.clientFrame, { $ref: '#/components/schemas/VixJsonMessage' }, 'client → server frames')
  t.same(extension.serverFrame, { $ref: '#/components/schemas/VixServerMessage' }, 'server → client frames')
  t.same(extension.closeCodes.map((entry: { code: number }) => entry.code), Object.values(CloseCodes), 'every close code')
  for (const entry of extension.closeCodes) t.match(operation.description, `| ${entry.code as number} |`, `close code ${entry.code as number} in the description`)
  t.match(operation.description, /VixJsonMessage/)
  t.match(operation.description, /VixServerMessage/)
})

t.test('the documented error answers of GET /ws are what the server sends', async (t) => {
  const isErrorResponse = compileValidator(ErrorResponse)
  const app = await build(t, {
    authenticate: (request: any) => request.headers['x-user'] ?? null,
    websocket: { allowedOrigins: ['http://allowed.test'] }
  })

  const plain = await app.inject('/ws')
  t.equal(plain.statusCode, 426)
  t.ok(isErrorResponse.check(plain.json()), '426 body matches VixErrorResponse')
  t.equal(plain.json().code, 'VIX_ERR_UPGRADE_REQUIRED')

  const forbidden = await refusedUpgrade(app, { origin: 'http://other.test', 'x-user': 'ann' })
  t.equal(forbidden.status, 403)
  t.ok(isErrorResponse.check(forbidden.body), '403 body matches VixErrorResponse')
  t.equal(forbidden.body.code, 'VIX_ERR_FORBIDDEN')

  const unauthorized = await refusedUpgrade(app, { origin: 'http://allowed.test' })
  t.equal(unauthorized.status, 401)
  t.ok(isErrorResponse.check(unauthorized.body), '401 body matches VixErrorResponse')
  t.equal(unauthorized.body.code, 'VIX_ERR_UNAUTHORIZED')

  app.realtime.lifecycle.requestStop()
  const stopping = await refusedUpgrade(app, { origin: 'http://allowed.test', 'x-user': 'ann' })
  t.equal(stopping.status, 503)
  t.ok(isErrorResponse.check(stopping.body), '503 body matches VixErrorResponse')
  t.equal(stopping.body.code, 'VIX_ERR_SHUTTING_DOWN')
})

t.test('change one, see both: a modified envelope validates frames and shows in the document', async (t) => {
  const ShortTypeMessage = Type.Object({
    ...JsonMessage.properties,
    type: Type.String({ minLength: 1, maxLength: 10, pattern: '^[a-z.]+$', description: 'Short lowercase type' })
  }, { $id: JsonMessage.$id, additionalProperties: false })
  const app = await build(t, { messageSchema: ShortTypeMessage, relayTypes: ['chat.msg'] })

  const document = await documentOf(app)
  t.equal(document.components.schemas.VixJsonMessage.properties.type.maxLength, 10, 'the document shows the new limit')
  t.same(document.components.schemas.VixJsonMessage, asComponent(ShortTypeMessage))

  const client = await connect(app)
  client.send({ type: 'chat.message.too.long' })
  const error = await client.waitFor((f) => f.kind === 'error')
  t.equal(error.payload.code, 'VIX_ERR_INVALID_MESSAGE')
  t.equal(error.payload.path, '/type', 'the socket rejects what the document forbids')
  await client.join('general')
  client.send({ id: 'ok-1', room: 'general', type: 'chat.msg', payload: {} })
  await client.waitFor((f) => f.kind === 'ack' && f.id === 'ok-1')

  // The same frame is fine under the default envelope: the change came from the option.
  const plainApp = await build(t, { relayTypes: ['chat.message.too.long'] })
  t.equal((await documentOf(plainApp)).components.schemas.VixJsonMessage.properties.type.maxLength, 128)
  const plainClient = await connect(plainApp)
  await plainClient.join('general')
  plainClient.send({ id: 'ok-2', room: 'general', type: 'chat.message.too.long' })
  await plainClient.waitFor((f) => f.kind === 'ack' && f.id === 'ok-2')
})

t.test('a typed handler: its payload schema is in the catalogue and rejects bad payloads on a real socket', async (t) => {
  const ChatPayload = Type.Object({ text: Type.String({ minLength: 1, maxLength: 20 }) }, { additionalProperties: false })
  const received: string[] = []
  const app = await build(t, { relayTypes: ['cursor.ping'] }, (app) => {
    app.realtime.on('chat.message', { schema: ChatPayload, description: 'A chat line' }, (_session, message) => {
      received.push(message.payload.text)
    })
  })

  const document = await documentOf(app)
  const messages = document.paths['/ws'].get['x-vix-messages']
  const chat = messages.find((m: { type: string }) => m.type === 'chat.message')
  t.same(chat, { type: 'chat.message', direction: 'client', builtIn: false, relay: false, description: 'A chat line', payload: { $ref: `#/components/schemas/${payloadComponentPrefix}chat.message` } })
  t.same(document.components.schemas[`${payloadComponentPrefix}chat.message`], asComponent(ChatPayload), 'the component is the handler schema')
  t.same(messages.find((m: { type: string }) => m.type === 'cursor.ping'), { type: 'cursor.ping', direction: 'client', builtIn: false, relay: true })
  t.same(messages.filter((m: { builtIn: boolean }) => m.builtIn).map((m: { type: string }) => m.type), ['room.join', 'room.leave', 'auth.refresh', 'error', 'room.interrupted', 'room.left', 'server.going_away', 'session.expiring', 'session.closed', 'session.opened'])
  await t.resolves(SwaggerParser.validate(structuredClone(document)))

  const client = await connect(app)
  client.send({ id: 'bad', type: 'chat.message', payload: { text: 42 } })
  const error = await client.waitFor((f) => f.kind === 'error' && f.id === 'bad')
  t.equal(error.payload.code, 'VIX_ERR_INVALID_MESSAGE')
  t.equal(error.payload.path, '/payload/text')
  client.send({ id: 'extra', type: 'chat.message', payload: { text: 'hi', admin: true } })
  t.equal((await client.waitFor((f) => f.kind === 'error' && f.id === 'extra')).payload.code, 'VIX_ERR_INVALID_MESSAGE')
  client.send({ id: 'good', type: 'chat.message', payload: { text: 'hello' } })
  await client.waitFor((f) => f.kind === 'ack' && f.id === 'good')
  t.same(received, ['hello'], 'only the valid payload reached the handler')
})

t.test('a request type: x-vix-messages names its reply schema, a component, and the table shows the ack\'s payload.reply', async (t) => {
  const Add = Type.Object({ a: Type.Number(), b: Type.Number() })
  const Sum = Type.Object({ sum: Type.Number() })
  const app = await build(t, {}, (app) => {
    app.realtime.on('math.add', { schema: Add, reply: Sum }, (_session, msg) => ({ sum: msg.payload.a + msg.payload.b }))
  })
  const document = await documentOf(app)
  const operation = document.paths['/ws'].get
  const add = operation['x-vix-messages'].find((m: { type: string }) => m.type === 'math.add')
  t.same(add, { type: 'math.add', direction: 'client', builtIn: false, relay: false, payload: { $ref: `#/components/schemas/${payloadComponentPrefix}math.add` }, reply: { $ref: `#/components/schemas/${replyComponentPrefix}math.add` } })
  t.same(document.components.schemas[`${replyComponentPrefix}math.add`], asComponent(Sum))
  t.match(operation.description, /\| `math\.add` \| client → server \| `VixPayload\.math\.add` \| \{ reply: `VixReply\.math\.add` \} \| A request: sent with an `id`/)
  await t.resolves(SwaggerParser.validate(structuredClone(document)))
})

t.test('the catalogue is read when the document is served: handlers added later show', async (t) => {
  const app = await build(t)
  const before = await documentOf(app)
  t.notOk(before.paths['/ws'].get['x-vix-messages'].some((m: { type: string }) => m.type === 'late.type'))
  app.realtime.on('late.type', { schema: Type.Object({ n: Type.Integer() }) })
  const after = await documentOf(app)
  t.ok(after.paths['/ws'].get['x-vix-messages'].some((m: { type: string }) => m.type === 'late.type'), 'the new type is listed')
  t.same(after.components.schemas[`${payloadComponentPrefix}late.type`].properties.n, { type: 'integer' })
  t.match((await app.inject('/docs/yaml')).body, /late\.type/)
})

t.test('registration order does not matter', async (t) => {
  const withRoute = (app: FastifyInstance): void => {
    app.get('/between', {
      schema: { summary: 'A route declared between the parts', description: 'Declared before the docs plugin', tags: ['realtime'], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, 404: { description: 'Nothing here', $ref: 'VixErrorResponse#' } } }
    }, async () => ({ ok: true }))
  }
  const orders: Record<string, (app: FastifyInstance) => Promise<void>> = {
    'hub, websocket, route, then docs': async (app) => {
      await app.register(hubPlugin, { relayTypes: ['chat.message'] })
      await app.register(websocketPlugin)
      withRoute(app)
      await app.register(openapiPlugin)
    },
    'docs, hub, websocket, then route': async (app) => {
      await app.register(openapiPlugin)
      await app.register(hubPlugin, { relayTypes: ['chat.message'] })
      await app.register(websocketPlugin)
      withRoute(app)
    },
    'hub, websocket, then the umbrella': async (app) => {
      await app.register(hubPlugin, { relayTypes: ['chat.message'] })
      await app.register(websocketPlugin)
      withRoute(app)
      await app.register(vixRealtime, { websocket: false, metrics: false, longPolling: false, sse: false, clientScript: false })
    }
  }
  for (const [name, register] of Object.entries(orders)) {
    const app = Fastify()
    t.teardown(() => app.close())
    await register(app)
    const document = await documentOf(app)
    t.same([...documentedOperations(document).keys()].sort(), ['GET /between', 'GET /ws', ...(name.endsWith('umbrella') ? ['GET /ws/health', 'GET /ws/ready'] : [])], `${name}: every route`)
    t.same(Object.keys(document.paths['/ws'].get.responses).sort(), ['101', '401', '403', '426', '429', '503'], `${name}: /ws responses`)
    t.ok(document.paths['/ws'].get['x-vix-messages'].some((m: { type: string }) => m.type === 'chat.message'), `${name}: catalogue`)
    t.equal(document.components.schemas.VixJsonMessage.title, 'JsonMessage', `${name}: shared components`)
    assertFullyDocumented(t, document)
    await t.resolves(SwaggerParser.validate(structuredClone(document)), `${name}: valid`)
  }
})

t.test('docs alone, without any realtime part', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(openapiPlugin, { info: { title: 'Just docs' } })
  const document = await documentOf(app)
  t.equal(document.info.title, 'Just docs')
  t.equal(document.info.version, '1.0.0')
  t.same(document.paths, {})
  await t.resolves(SwaggerParser.validate(structuredClone(document)))
})

t.test('umbrella: docs on by default, movable, and off with false', async (t) => {
  const app = await build(t)
  const ui = await app.inject('/docs')
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  t.match(ui.body, /swagger-ui/i, '/docs serves the Swagger UI page')
  t.equal((await app.inject('/docs/static/swagger-initializer.js')).statusCode, 200)

  const moved = await build(t, { docs: { routePrefix: '/api-docs' } })
  t.equal((await moved.inject('/api-docs')).statusCode, 200)
  t.equal((await documentOf(moved, '/api-docs')).paths['/ws'].get.operationId, 'openWebSocket')
  t.equal((await moved.inject('/docs/json')).statusCode, 404)

  const off = await build(t, { docs: false })
  t.equal((await off.inject('/docs/json')).statusCode, 404)
  t.notOk(off.hasDecorator('swagger'), 'no swagger at all')
})

t.test('bad options fail at register time', async (t) => {
  for (const [options, option] of [[{ routePrefix: 'docs' }, 'routePrefix'], [{ info: 'x' }, 'info'], [{ info: null }, 'info']] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(openapiPlugin, options as any) }, { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(option) })
  }
})

t.test('documentCatalogue: component names, shared schemas, references, repeat runs', async (t) => {
  const Shared = Type.Object({ room: Type.String() }, { $id: 'VixRoomLeavePayload' })
  const Tree = Type.Recursive((This) => Type.Object({ name: Type.String(), children: Type.Array(This) }))
  const document: any = { openapi: '3.1.0', paths: { '/ws': { get: { 'x-vix-websocket': {} } }, '/other': { get: {} } } }
  document.components = { schemas: { VixRoomLeavePayload: {} } }
  const hub = new Hub({ relayTypes: ['a_b'] })
  hub.on('a:b', { schema: Type.Object({ x: Type.String() }) })
  hub.on('a_b', { schema: Type.Object({ y: Type.String() }) })
  hub.on('uses.shared', { schema: Shared })
  hub.on('uses.ref', { schema: Tree })
  hub.on('room.join', () => {})
  documentCatalogue(document, hub.catalogue())
  documentCatalogue(document, hub.catalogue())
  const messages = document.paths['/ws'].get['x-vix-messages']
  const byType = new Map<string, any>(messages.map((m: any) => [m.type, m]))
  t.equal(messages.filter((m: any) => m.type === 'room.join').length, 1, 'a handler on a built-in type does not list it twice')
  t.same(byType.get('uses.shared').payload, { $ref: '#/components/schemas/VixRoomLeavePayload' }, 'a shared schema is referenced, not copied')
  t.same(document.components.schemas[`${payloadComponentPrefix}uses.ref`].properties.children.items, { $ref: `#/components/schemas/${payloadComponentPrefix}uses.ref` }, 'a recursive schema refers to its own component')
  const names = [byType.get('a:b').payload.$ref, byType.get('a_b').payload.$ref].sort()
  t.same(names, [`#/components/schemas/${payloadComponentPrefix}a_b`, `#/components/schemas/${payloadComponentPrefix}a_b-2`], 'colliding names get a suffix')
  t.equal(byType.get('a_b').relay, true)
  t.equal(Object.keys(document.components.schemas).filter((name) => name.startsWith(payloadComponentPrefix)).length, 3, 'a second run does not duplicate components')
  t.notOk(document.paths['/other'].get['x-vix-messages'], 'only WebSocket operations list messages')

  const bare: any = { openapi: '3.1.0' }
  documentCatalogue(bare, hub.catalogue())
  t.ok(bare.components.schemas[`${payloadComponentPrefix}uses.ref`], 'components are created when absent')
})

t.test('mergeDocuments keeps what the document has and adds what it lacks', async (t) => {
  const document: any = { openapi: '3.1.0' }
  mergeDocuments(document, { openapi: '3.1.0', paths: { '/a': { get: { summary: 'a' } } }, components: { schemas: { A: { type: 'string' } } } })
  mergeDocuments(document, { openapi: '3.1.0', paths: { '/a': { get: { summary: 'other' }, post: { summary: 'post' } } }, components: { schemas: { A: { type: 'number' } } } })
  mergeDocuments(document, { openapi: '3.1.0' })
  t.same(document.paths, { '/a': { get: { summary: 'a' }, post: { summary: 'post' } } })
  t.same(document.components.schemas, { A: { type: 'string' } })
  t.same(routesSinceHub({ realtime: new Realtime(new Hub()) } as unknown as FastifyInstance), [], 'a hub made outside the plugin has no recorded routes')
})

t.test('the example app documents its chat.message payload', async (t) => {
  const { buildExampleApp, ChatMessagePayload } = await import('../example-app/app.js')
  const app = await buildExampleApp({ env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db') } })
  t.teardown(() => app.close())
  const document = await documentOf(app)
  const chat = document.paths['/ws'].get['x-vix-messages'].find((m: { type: string }) => m.type === 'chat.message')
  t.match(chat, { relay: true, description: 'A chat line, relayed to the room', payload: { $ref: `#/components/schemas/${payloadComponentPrefix}chat.message` } })
  t.same(document.components.schemas[`${payloadComponentPrefix}chat.message`], asComponent(ChatMessagePayload))
  await t.resolves(SwaggerParser.validate(structuredClone(document)))
})

t.test('with every part on, every route is present, fully documented and valid', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(vixRealtime, { store: { path: join(t.testdir(), 'messages.db') } })
  const document = await documentOf(app)
  t.same([...documentedOperations(document).keys()].sort(), [...expectedOperations, 'GET /ws/history'].sort())
  const history = document.paths['/ws/history'].get
  t.same(Object.keys(history.responses).sort(), ['200', '400', '401', '403', '404', '503'])
  t.ok(history.parameters.some((p: { name: string }) => p.name === 'room'), 'room is a documented parameter')
  assertFullyDocumented(t, document)
  await t.resolves(SwaggerParser.validate(structuredClone(document)))
})

t.test('every code of the error table has a documented example with its message filled in', async (t) => {
  for (const name of Object.keys(errorTable) as ErrorName[]) {
    const body = errorBodyExample(name)
    t.equal(body.code, errorTable[name].code, `${name}: its code`)
    t.notMatch(String(body.message), /%s/, `${name}: a sample for every %s of its template`)
  }
})

t.test('every error answer has examples: the bodies the server sends for the codes it names', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(vixRealtime, { store: { path: join(t.testdir(), 'messages.db') }, presence: { rooms: 'all' } })
  const document = await documentOf(app)
  let checked = 0
  for (const [name, operation] of documentedOperations(document)) {
    for (const [status, response] of Object.entries<any>(operation.responses)) {
      if (!/^[45]/.test(status)) continue
      const examples = Object.values<any>(response.content['application/json'].examples ?? {})
      t.ok(examples.length > 0, `${name} ${status} has examples`)
      for (const { value } of examples) {
        t.equal(value.statusCode, Number(status), `${name} ${status}: ${value.code as string} has the status`)
        t.equal(httpStatusOf(value.code), Number(status), `${name} ${status}: ${value.code as string} is a code of that status`)
        t.notMatch(value.message, /%s/, `${name} ${status}: ${value.code as string} has a filled-in message`)
        checked++
      }
    }
  }
  const ws = document.paths['/ws'].get.responses
  t.same(['401', '403', '426', '429', '503'].map((status) => Object.keys(ws[status].content['application/json'].examples)),
    [['VIX_ERR_UNAUTHORIZED'], ['VIX_ERR_FORBIDDEN'], ['VIX_ERR_UPGRADE_REQUIRED'], ['VIX_ERR_LIMIT_EXCEEDED'], ['VIX_ERR_SHUTTING_DOWN', 'VIX_ERR_SERVER_FULL']])
  t.same(ws['426'].content['application/json'].examples.VIX_ERR_UPGRADE_REQUIRED.value, (await app.inject('/ws')).json(), 'the 426 example is the real answer')
  t.same(Object.keys(document.paths['/metrics'].get.responses['500'].content['application/json'].examples), ['VIX_ERR_INTERNAL'], 'no code named: the first of its status')
  t.ok(checked > 30, `${checked} examples checked`)
  await t.resolves(SwaggerParser.validate(structuredClone(document)))

  const odd: any = { openapi: '3.1.0', paths: { '/x': { get: { responses: { 418: { description: 'VIX_ERR_INTERNAL', content: { 'application/json': { schema: { $ref: '#/components/schemas/VixErrorResponse' } } } } } } } } }
  documentErrorExamples(odd)
  t.notOk(odd.paths['/x'].get.responses['418'].content['application/json'].examples, 'a status no error has gets no example')
  t.same(errorNamesOf(400, 'VIX_ERR_UNAUTHORIZED or VIX_ERR_NOPE'), ['INVALID_MESSAGE'], 'codes of another status or unknown are ignored')
})

t.test('the /ws description has the message catalogue as a table; kind is an enum', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] }, (app) => {
    app.realtime.on('typed.one', { schema: Type.Object({ n: Type.Integer() }), description: 'A | pipe\nand a line', maxSize: 512, rate: { rate: 2, burst: 4 } })
  })
  const first = await documentOf(app)
  const description: string = first.paths['/ws'].get.description
  t.match(description, '| type | direction | payload | ack payload | notes |')
  t.match(description, '| `room.join` | client → server | `VixRoomJoinPayload` | `VixRoomJoinAckPayload` | Built in.')
  t.match(description, '| `chat.message` | client → server | any object |  | Relayed to the room (`relayTypes`). |')
  t.match(description, '| `typed.one` | client → server | `VixPayload.typed.one` |  | A \\| pipe and a line At most 512 bytes. 2/s per session, burst 4. |')
  t.match(description, '| `error` | server → client | `VixErrorFramePayload` |')
  app.realtime.on('late.type', {})
  const again: string = (await documentOf(app)).paths['/ws'].get.description
  t.equal(again.split(catalogueHeading).length, 2, 'one table, however often the document is served')
  t.match(again, '| `late.type` |')
  t.ok(first.paths['/ws'].get['x-vix-messages'], 'the extension stays for tools')
  t.same(first.components.schemas.VixServerMessage.properties.kind, { type: 'string', enum: ['event', 'ack', 'error', 'system'] })
  t.match(catalogueTable([]), /^\| type \|/)
})

t.test('literalUnionsAsEnums rewrites unions of one type of literals only', async (t) => {
  const schema: any = {
    properties: {
      kind: { description: 'k', anyOf: [{ type: 'string', const: 'a' }, { type: 'string', enum: ['b'] }] },
      mixed: { anyOf: [{ type: 'string', const: 'a' }, { type: 'integer', const: 1 }] },
      loose: { anyOf: [{ type: 'string', const: 'a', description: 'x' }] },
      many: { anyOf: [{ type: 'string', enum: ['a', 'b'] }] },
      both: { anyOf: [{ type: 'string', const: 'a', enum: ['a'] }] },
      empty: { anyOf: [] },
      list: [{ anyOf: [{ type: 'integer', const: 1 }, { type: 'integer', const: 2 }] }, null, 'x']
    }
  }
  literalUnionsAsEnums(schema)
  t.same(schema.properties.kind, { description: 'k', type: 'string', enum: ['a', 'b'] })
  t.same(schema.properties.list[0], { type: 'integer', enum: [1, 2] })
  for (const name of ['mixed', 'loose', 'many', 'both', 'empty']) t.ok(schema.properties[name].anyOf, `${name} is left alone`)
  t.same(MessageKind.anyOf.length, 4, 'the validating schema is untouched')
})
