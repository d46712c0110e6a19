import fp from 'fastify-plugin'
import Fastify, { type FastifyPluginAsync, type RouteOptions } from 'fastify'
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { documentCatalogue } from '../lib/openapi/catalogue.js'
import { mergeDocuments, type OpenApiDocument } from '../lib/openapi/document.js'
import { resolveOpenApiOptions, type OpenApiPluginOptions, type openapiDefaults } from '../lib/openapi/options.js'
import { routesSinceHub } from './hub.js'

export type { OpenApiPluginOptions }

function swaggerOptions (config: typeof openapiDefaults): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      // 3.1 schemas are JSON Schema: the TypeBox shapes go into the document as they are.
      openapi: '3.1.0',
      info: config.info,
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
async function documentRoutes (routes: RouteOptions[], schemas: Record<string, unknown>, config: typeof openapiDefaults): Promise<OpenApiDocument> {
  const shadow = Fastify({ exposeHeadRoutes: false })
  shadow.setValidatorCompiler(() => () => true)
  shadow.setSerializerCompiler(() => (data) => JSON.stringify(data))
  await shadow.register(swagger, swaggerOptions(config))
  for (const schema of Object.values(schemas)) shadow.addSchema(schema)
  for (const route of routes) {
    shadow.route({ method: documentedMethods(route), url: route.url, constraints: route.constraints, schema: route.schema, config: route.config, handler: async () => null })
  }
  await shadow.ready()
  const document = shadow.swagger() as unknown as OpenApiDocument
  await shadow.close()
  return document
}

const openapiPluginImpl: FastifyPluginAsync<OpenApiPluginOptions> = async (fastify, options) => {
  const config = resolveOpenApiOptions(options)
  // Routes declared since the hub and before this point never reach @fastify/swagger's onRoute hook.
  const missed = fastify.hasDecorator('realtime')
    ? routesSinceHub(fastify.realtime).filter((route) => documentedMethods(route).length > 0)
    : []
  let missedDocument: OpenApiDocument | undefined

  // The hub may be registered after this plugin: look it up when the document is built.
  const withCatalogue = (document: OpenApiDocument): OpenApiDocument =>
    fastify.hasDecorator('realtime') ? documentCatalogue(document, fastify.realtime.catalogue()) : document

  await fastify.register(swagger, {
    ...swaggerOptions(config),
    transformObject: (built) => {
      // Always the openapi variant: this plugin only builds OpenAPI 3 documents.
      const document = (built as { openapiObject: OpenApiDocument }).openapiObject
      if (missedDocument !== undefined) mergeDocuments(document, missedDocument)
      return withCatalogue(document)
    }
  })
  if (missed.length > 0) {
    fastify.addHook('onReady', async () => {
      missedDocument = await documentRoutes(missed, fastify.getSchemas(), config)
    })
  }
  await fastify.register(swaggerUi, {
    routePrefix: config.routePrefix,
    uiConfig: { docExpansion: 'list', deepLinking: true, showExtensions: true },
    // @fastify/swagger builds the document once; the catalogue is read again on each request.
    transformSpecification: (document) => withCatalogue(document as OpenApiDocument)
  })
}

/**
 * OpenAPI 3.1 docs of the realtime layer at `/docs` (Swagger UI), `/docs/json`
 * and `/docs/yaml`: every route, the WebSocket endpoint with its frames and
 * close codes, and the message catalogue, from the schemas that validate them.
 * Works whether it is registered before or after the other parts.
 *
 * @example
 * await app.register(websocketPlugin)
 * await app.register(openapiPlugin, { routePrefix: '/docs' })
 */
export const openapiPlugin = fp(openapiPluginImpl, { fastify: '5.x', name: 'vix-realtime-openapi' })
export default openapiPlugin
