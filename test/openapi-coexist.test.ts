import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import SwaggerParser from '@apidevtools/swagger-parser'
import { Type } from '@sinclair/typebox'
import { adoptNamedComponents } from '../lib/openapi/coexist.js'
import { toOpenApi30 } from '../lib/openapi/oas30.js'
import { vixRealtime } from '../plugins/index.js'
import { sharedSchemas } from '../schemas/message.js'
import { longPollingSchemas } from '../schemas/long-polling.js'
import { GoingAwayPayload } from '../schemas/openapi.js'
import { AuthRefreshAckPayload, AuthRefreshPayload, RoomLeftPayload, SessionClosedPayload, SessionExpiringPayload, SessionOpenedPayload } from '../schemas/session.js'

const sessionPayloads = [AuthRefreshPayload, AuthRefreshAckPayload, SessionExpiringPayload, SessionClosedPayload, RoomLeftPayload, SessionOpenedPayload]
const vixNames = [...sharedSchemas, ...longPollingSchemas, GoingAwayPayload, ...sessionPayloads].map((schema) => schema.$id as string).sort()

/** An app that registered its own @fastify/swagger (and Swagger UI) first, with a route of its own using a vix schema, then vixRealtime. */
async function appWithOwnSwagger (t: Test, openapi: string, docs: false | undefined): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, { openapi: { openapi, info: { title: 'My app', version: '2.0.0' } } })
  await app.register(swaggerUi, { routePrefix: '/documentation' })
  app.addSchema({ $id: 'AppThing', type: 'object', properties: { name: { type: 'string' } } })
  await app.register(vixRealtime, { relayTypes: ['chat.message'], docs })
  app.get('/things', { schema: { response: { 200: { $ref: 'AppThing#' }, 404: { $ref: 'VixErrorResponse#', description: 'No such thing (VIX_ERR_MESSAGE_NOT_FOUND)' } } } }, async () => ({ name: 'x' }))
  app.realtime.on('typed.one', { schema: Type.Object({ n: Type.Integer() }) })
  await app.ready()
  return app
}

for (const [openapi, docs] of [['3.1.0', undefined], ['3.0.3', undefined], ['3.1.0', false], ['3.0.3', false]] as const) {
  t.test(`an app's own @fastify/swagger (OpenAPI ${openapi}) first, then vixRealtime with docs ${String(docs)}`, async (t) => {
    const app = await appWithOwnSwagger(t, openapi, docs)
    const document: any = app.swagger()
    t.equal(document.info.title, 'My app', 'the app\'s document')
    t.equal(document.openapi, openapi)
    const names = Object.keys(document.components.schemas)
    t.same(names.filter((name) => name.startsWith('Vix') && !name.startsWith('VixPayload.')).sort(), vixNames, 'the Vix components by their $id names')
    t.notOk(names.some((name) => /^def-\d+$/.test(name) && document.components.schemas[name].title !== 'AppThing'), 'no def-N left for a vix schema')
    t.ok(JSON.stringify(document).includes('"#/components/schemas/VixErrorResponse"'), 'references follow the names')
    t.equal(document.paths['/things'].get.responses['404'].content['application/json'].schema.$ref, '#/components/schemas/VixErrorResponse', 'the app\'s own route refers to the name too')
    const ws = document.paths['/ws'].get
    t.ok(ws['x-vix-messages'].some((m: { type: string }) => m.type === 'chat.message'), 'the catalogue')
    t.ok(ws['x-vix-messages'].some((m: { type: string }) => m.type === 'typed.one'), 'with a handler added after register')
    t.match(ws.description, '| `chat.message` | client → server |', 'the catalogue table')
    t.ok(document.components.schemas['VixPayload.typed.one'], 'the typed payload component')
    t.same(Object.keys(ws.responses['401'].content['application/json'].examples), ['VIX_ERR_UNAUTHORIZED'], 'error examples')
    t.same(Object.keys(document.paths['/things'].get.responses['404'].content['application/json'].examples), ['VIX_ERR_MESSAGE_NOT_FOUND'])
    await t.resolves(SwaggerParser.validate(structuredClone(document)), 'swagger-parser validates the merged document')
    t.same(app.swagger(), document, 'the same document on a second call')

    const json = await app.inject('/documentation/json')
    t.same(json.json().components.schemas.VixServerMessage, document.components.schemas.VixServerMessage, 'the app\'s Swagger UI serves the completed document')
    const yaml = await app.inject('/documentation/yaml')
    t.equal(yaml.statusCode, 200)
    t.same(JSON.parse(yaml.body).paths['/ws'].get['x-vix-messages'], ws['x-vix-messages'], 'its YAML (JSON is YAML) too')
    t.equal((await app.inject('/docs')).statusCode, 404, 'no second Swagger UI')
    t.equal((await app.inject('/docs/asyncapi.json')).statusCode, docs === false ? 404 : 200, 'AsyncAPI unless docs: false')
    if (docs !== false) t.notOk((await app.inject('/docs/asyncapi.json')).json().info.externalDocs, 'no link to a /docs/json that is not served')
  })
}

t.test('adoptNamedComponents keeps names that are right, renames by shape, adds what is missing', async (t) => {
  const document: any = {
    openapi: '3.1.0',
    paths: { '/a': { get: { responses: { 200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/def-0/properties/x' } } } } } } } },
    components: { schemas: { 'def-0': { type: 'object', title: 'VixA', properties: { x: { $ref: '#/components/schemas/def-1' } } }, 'def-1': { type: 'string' }, VixB: { type: 'number' } } }
  }
  const named = { VixA: { type: 'object', properties: { x: { $ref: '#/components/schemas/VixC' } } }, VixB: { type: 'number' }, VixD: { type: 'boolean' }, Other: { type: 'string' } }
  adoptNamedComponents(document, named)
  t.same(Object.keys(document.components.schemas).sort(), ['VixA', 'VixB', 'VixD', 'def-1'], 'def-0 is VixA, VixD added, Other (not a Vix name) ignored')
  t.equal(document.paths['/a'].get.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/VixA/properties/x', 'a reference into a renamed component')
  adoptNamedComponents(document, named)
  t.same(Object.keys(document.components.schemas).sort(), ['VixA', 'VixB', 'VixD', 'def-1'], 'idempotent')
  const bare: any = { openapi: '3.1.0' }
  adoptNamedComponents(bare, {})
  t.same(bare.components.schemas, {})
})

t.test('toOpenApi30: what 3.0 lacks (null type, const, examples) rewritten; the rest kept as it is', async (t) => {
  t.same(toOpenApi30({ anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }], description: 'd' }), { type: 'integer', minimum: 0, description: 'd', nullable: true })
  t.same(toOpenApi30({ type: 'object', properties: { s: { type: 'string', examples: ['a', 'b'] }, k: { anyOf: [{ const: 'x', type: 'string' }, { const: 'y', type: 'string' }] } } }),
    { type: 'object', properties: { s: { type: 'string', example: 'a' }, k: { anyOf: [{ enum: ['x'], type: 'string' }, { enum: ['y'], type: 'string' }] } } })
  t.same(toOpenApi30({ type: 'string', examples: [] }), { type: 'string' }, 'no example from an empty list')
  t.same(toOpenApi30({ anyOf: [{ $ref: '#/x' }, { type: 'null' }] }), { anyOf: [{ $ref: '#/x' }, { type: 'null' }] }, 'a union without a type to make nullable is left (nothing safe to merge into)')
  t.same(toOpenApi30({ anyOf: [{ type: 'string' }, { type: 'number' }] }), { anyOf: [{ type: 'string' }, { type: 'number' }] }, 'a union without null is left')
  t.same(toOpenApi30([1, null, 'a']), [1, null, 'a'])
})
