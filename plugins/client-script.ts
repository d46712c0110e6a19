import fp from 'fastify-plugin'
// Brings in the FastifySchema fields the docs read (summary, description, tags).
import type {} from '@fastify/swagger'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { ClientScriptFile, chunkRoute, matchesEtag, resolveClientScriptOptions, type ClientScript, type ClientScriptOptions } from '../lib/client-script.js'
import { codedError, ErrorCodes, InvalidOptionError } from '../lib/errors.js'
import { checkOptionKeys, type OptionShape } from '../lib/options.js'
import { ErrorResponse } from '../schemas/message.js'
import { codedErrorHandler } from './http.js'

export type { ClientScriptOptions }

/** The keys of `ClientScriptOptions`: any other fails boot. */
export const clientScriptOptionShape = { path: true, maxAge: true, file: true } as const satisfies OptionShape & Record<keyof ClientScriptOptions, true>

/** A file of the bundle, cacheable, or 304 when `If-None-Match` names its ETag. */
async function sendScript (request: FastifyRequest, reply: FastifyReply, found: ClientScript, cacheControl: string): Promise<FastifyReply> {
  reply.header('etag', found.etag).header('cache-control', cacheControl)
  if (matchesEtag(request.headers['if-none-match'], found.etag)) return await reply.code(304).send()
  return await reply.type('text/javascript; charset=utf-8').send(found.body)
}

const clientScriptPluginImpl: FastifyPluginAsync<ClientScriptOptions> = async (fastify, options) => {
  checkOptionKeys(options, clientScriptOptionShape)
  const config = resolveClientScriptOptions(options)
  const script = new ClientScriptFile(config)
  const howToBuild = `vix-realtime: the browser client ${config.file} is missing, so ${config.path} answers 503: run \`npm run build\` (or \`npm run build:client\`) in the package`
  const atBoot = await script.load().catch((error: Error) => {
    throw new InvalidOptionError('clientScript.file', `cannot read ${config.file}: ${error.message}`)
  })
  if (atBoot === undefined) fastify.log.warn(howToBuild)
  // Registered alone (no hub), the error answer's shared schema is ours to add.
  if (fastify.getSchema('VixErrorResponse') === undefined) fastify.addSchema(ErrorResponse)

  fastify.route({
    method: 'GET',
    url: config.path,
    schema: {
      summary: 'The browser client as one ES module',
      description: 'vix-realtime\'s client (`VixClient`, as `vix-realtime/client` exports it) bundled into one dependency-free ES module, ' +
        'for pages without a bundler: `import { VixClient } from \'/ws/client.js\'` in a `<script type="module">`. ' +
        'It loads the SSE and long-polling transports and the tokens, when it needs them, from `vix-client-<name>-<hash>.js` beside it (cached for a year: the name changes with the content). ' +
        `Cacheable (\`Cache-Control: public, max-age=${config.maxAge}\`) with an ETag holding the package version and a hash of the content; ` +
        '`If-None-Match` with that ETag answers 304.',
      tags: ['realtime'],
      response: {
        200: {
          description: 'The client module',
          content: { 'text/javascript': { schema: Type.String({ description: 'An ES module exporting VixClient, VixClientError, ClientErrorCodes...' }) } }
        },
        304: { description: 'Not modified: the ETag in `If-None-Match` is current' },
        503: {
          description: 'The bundle was never built in this checkout (VIX_ERR_CLIENT_SCRIPT_MISSING): run `npm run build`',
          content: { 'application/json': { schema: { $ref: 'VixErrorResponse#' } } }
        }
      }
    },
    errorHandler: codedErrorHandler({ bodyLimit: 0 }, 'client script request'),
    handler: async (request, reply) => {
      const found = await script.load()
      if (found === undefined) {
        request.log.warn(howToBuild)
        throw codedError(ErrorCodes.CLIENT_SCRIPT_MISSING, `The browser client is not built (${config.file} missing): run npm run build`)
      }
      return await sendScript(request, reply, found, `public, max-age=${config.maxAge}`)
    }
  })

  // The chunks the module loads with import() when it needs them (SSE, long polling), beside it:
  // files of the bundle rather than operations, so not in the OpenAPI document.
  fastify.route({
    method: 'GET',
    url: chunkRoute(config.path),
    schema: { hide: true },
    errorHandler: codedErrorHandler({ bodyLimit: 0 }, 'client script request'),
    handler: async (request, reply) => {
      const found = await script.chunk((request.params as { '*': string })['*'])
      // Any other name is no file of this build: the app's own 404.
      if (found === undefined) return reply.callNotFound()
      // The name holds a hash of the content: a new build is a new URL.
      return await sendScript(request, reply, found, 'public, max-age=31536000, immutable')
    }
  })
}

/**
 * `GET /ws/client.js`: the browser client as one ES module, for a plain
 * `<script type="module">` page. The umbrella registers it unless
 * `clientScript: false`. Needs no hub.
 *
 * @example
 * await app.register(clientScriptPlugin, { path: '/ws/client.js', maxAge: 3600 })
 */
export const clientScriptPlugin = fp(clientScriptPluginImpl, { fastify: '5.x', name: 'vix-realtime-client-script' })
export default clientScriptPlugin
