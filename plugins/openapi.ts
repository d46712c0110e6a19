import fp from 'fastify-plugin'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest, type RouteOptions } from 'fastify'
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { buildAsyncApiDocument } from '../lib/asyncapi/document.js'
import { documentCatalogue } from '../lib/openapi/catalogue.js'
import { adoptNamedComponents } from '../lib/openapi/coexist.js'
import { mergeDocuments, type OpenApiDocument } from '../lib/openapi/document.js'
import { literalUnionsAsEnums } from '../lib/openapi/enums.js'
import { documentErrorExamples } from '../lib/openapi/error-examples.js'
import { resolveOpenApiOptions, type OpenApiPluginOptions, type openapiDefaults } from '../lib/openapi/options.js'
import { hubOfApp, routesSinceHub } from './hub.js'

export type { OpenApiPluginOptions }

/** The document's description, with a link to the AsyncAPI document of the messages when the docs are served. */
function withAsyncApiLink (config: typeof openapiDefaults): string | undefined {
  const { description } = config.info as { description?: string }
  if (!config.serve) return description
  const link = `The messages, both ways, are described in the AsyncAPI 3.0 document [${config.routePrefix}/asyncapi.json](${config.routePrefix}/asyncapi.json).`
  return description === undefined || description === '' ? link : `${description}\n\n${link}`
}

/** Presence is on: the catalogue and the AsyncAPI document list its frames. */
function presenceOn (fastify: FastifyInstance): boolean {
  return fastify.hasDecorator('realtime') && hubOfApp(fastify).presenceTracker !== undefined
}

function swaggerOptions (config: typeof openapiDefaults, openapi = '3.1.0'): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      // 3.1 schemas are JSON Schema: the TypeBox shapes go into the document as they are.
      openapi,
      info: { ...config.info, description: withAsyncApiLink(config) },
      tags: [{ name: 'realtime', description: 'The realtime layer: WebSocket, long-polling, history and metrics' }]
    },
    // Components are named after the shared schemas' `$id`s, so `VixJsonMessage#` is `#/components/schemas/VixJsonMessage`.
    refResolver: {
      // Called for the shared schemas only, which all have an `$id` (addSchema requires one).
      buildLocalReference: (json) => String(json.$id)
    }
  }
}

/** The routes @fastify/swagger documents: every method but the HEAD twins Fastify adds. */
function documentedMethods (route: RouteOptions): string[] {
  return [route.method].flat().filter((method) => method !== 'HEAD')
}

/**
 * Document `routes` with @fastify/swagger itself, in a private instance that
 * only declares them: the same conversion as the live document, for routes
 * declared before its `onRoute` hook existed. Nothing is compiled or served.
 */
async function documentRoutes (routes: RouteOptions[], schemas: Record<string, unknown>, config: typeof openapiDefaults, openapi?: string): Promise<OpenApiDocument> {
  const shadow = Fastify({ exposeHeadRoutes: false })
  shadow.setValidatorCompiler(() => () => true)
  shadow.setSerializerCompiler(() => (data) => JSON.stringify(data))
  await shadow.register(swagger, swaggerOptions(config, openapi))
  for (const schema of Object.values(schemas)) shadow.addSchema(schema)
  for (const route of routes) {
    shadow.route({ method: documentedMethods(route), url: route.url, constraints: route.constraints, schema: route.schema, config: route.config, handler: async () => null })
  }
  await shadow.ready()
  const document = shadow.swagger() as unknown as OpenApiDocument
  await shadow.close()
  return document
}

/** What the docs add to a document @fastify/swagger built: the catalogue, its table, error examples, enums. Idempotent. */
function completeDocument (fastify: FastifyInstance, document: OpenApiDocument): OpenApiDocument {
  // The hub may be registered after this plugin: look it up when the document is built.
  if (fastify.hasDecorator('realtime')) documentCatalogue(document, fastify.realtime.catalogue(), { presence: presenceOn(fastify) })
  return documentErrorExamples(document)
}

/** `GET <routePrefix>/asyncapi.json`: built on each request, so message types added late show. */
function serveAsyncApi (fastify: FastifyInstance, config: typeof openapiDefaults, openapiDocument: () => OpenApiDocument, ownDocument: boolean): void {
  fastify.get(`${config.routePrefix}/asyncapi.json`, { schema: { hide: true } }, async (request: FastifyRequest) => {
    const origin = `${request.protocol}://${request.host}`
    return buildAsyncApiDocument(openapiDocument(), {
      info: config.info,
      host: request.host,
      secure: request.protocol === 'https',
      openapiUrl: ownDocument ? `${origin}${config.routePrefix}/json` : undefined,
      presence: presenceOn(fastify)
    })
  })
}

/**
 * The application registered @fastify/swagger itself: keep its document and
 * complete it — the shared schemas under their `$id` names (its
 * `refResolver` may call them `def-N`), the catalogue, the error examples —
 * each time `app.swagger()` is called.
 */
function completeApplicationSwagger (fastify: FastifyInstance, config: typeof openapiDefaults): () => OpenApiDocument {
  const applicationSwagger = fastify.swagger.bind(fastify) as () => OpenApiDocument
  let named: Record<string, unknown> = {}
  fastify.addHook('onReady', async () => {
    // The shared schemas as this plugin names them, rendered for the application's OpenAPI version.
    named = (await documentRoutes([], fastify.getSchemas(), config, applicationSwagger().openapi)).components?.schemas ?? {}
  })
  const completed = (): OpenApiDocument => completeDocument(fastify, adoptNamedComponents(applicationSwagger(), named))
  // YAML is a superset of JSON: the completed document, indented, is the YAML answer.
  const swaggerFunction = (options?: { yaml?: boolean }): OpenApiDocument | string =>
    options?.yaml === true ? `${JSON.stringify(completed(), null, 2)}\n` : completed()
  fastify.swagger = swaggerFunction as typeof fastify.swagger
  return completed
}

const openapiPluginImpl: FastifyPluginAsync<OpenApiPluginOptions> = async (fastify, options) => {
  const config = resolveOpenApiOptions(options)
  if (fastify.hasDecorator('swagger')) {
    const completed = completeApplicationSwagger(fastify, config)
    if (config.serve) serveAsyncApi(fastify, config, completed, false)
    return
  }
  // Routes declared since the hub and before this point never reach @fastify/swagger's onRoute hook.
  const missed = fastify.hasDecorator('realtime')
    ? routesSinceHub(fastify).filter((route) => documentedMethods(route).length > 0)
    : []
  let missedDocument: OpenApiDocument | undefined

  await fastify.register(swagger, {
    ...swaggerOptions(config),
    transformObject: (built) => {
      // Always the openapi variant: this plugin only builds OpenAPI 3 documents.
      const document = (built as { openapiObject: OpenApiDocument }).openapiObject
      if (missedDocument !== undefined) mergeDocuments(document, missedDocument)
      return completeDocument(fastify, literalUnionsAsEnums(document))
    }
  })
  if (missed.length > 0) {
    fastify.addHook('onReady', async () => {
      missedDocument = await documentRoutes(missed, fastify.getSchemas(), config)
    })
  }
  if (!config.serve) return
  await fastify.register(swaggerUi, {
    routePrefix: config.routePrefix,
    // The x-vix-* extensions stay in the JSON for tools; the page shows them as the operation's tables, not as raw JSON.
    uiConfig: { docExpansion: 'list', deepLinking: true, showExtensions: false },
    // @fastify/swagger builds the document once; the catalogue is read again on each request.
    transformSpecification: (document) => completeDocument(fastify, document as OpenApiDocument)
  })
  serveAsyncApi(fastify, config, () => completeDocument(fastify, fastify.swagger() as unknown as OpenApiDocument), true)
}

/**
 * OpenAPI 3.1 docs of the realtime layer at `/docs` (Swagger UI), `/docs/json`
 * and `/docs/yaml`, and the AsyncAPI 3.0 document of its messages at
 * `/docs/asyncapi.json`: every route, the WebSocket endpoint with its frames and
 * close codes, and the message catalogue, from the schemas that validate them.
 * Works whether it is registered before or after the other parts. When the
 * application registered @fastify/swagger first, its document is completed
 * instead (shared schemas by `$id` name, catalogue) and no Swagger UI is added.
 *
 * @example
 * await app.register(websocketPlugin)
 * await app.register(openapiPlugin, { routePrefix: '/docs' })
 */
export const openapiPlugin = fp(openapiPluginImpl, { fastify: '5.x', name: 'vix-realtime-openapi' })
export default openapiPlugin
