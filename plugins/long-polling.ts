import fp from 'fastify-plugin'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify'
import { LongPollBridge } from '../lib/long-polling/bridge.js'
import { LongPollManager, type HeldPoll } from '../lib/long-polling/manager.js'
import { resolveLongPollingOptions, type LongPollingOptions, type ResolvedLongPollingOptions } from '../lib/long-polling/options.js'
import { acceptedOf, LongPollRequests } from '../lib/long-polling/requests.js'
import { longPollShutdown } from '../lib/long-polling/shutdown.js'
import { endRouteSchema, longPollingSchemas, pollRouteSchema, sendRouteSchema, type EndQueryValue, type PollQueryValue, type SendQueryValue } from '../schemas/long-polling.js'
import { hubOfApp, partMeta, refuseHubOptions } from './hub.js'
import { codedErrorHandler } from './http.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The long-poll sessions of this server (size, buffered frames, sweep). */
    realtimeLongPolling: LongPollManager
  }
}

export type LongPollingPluginOptions = LongPollingOptions

const JSON_TYPE = 'application/json; charset=utf-8'

/** Query strings are checked by TypeBox (coerced, VIX_ERR answers); bodies by the hub, exactly as WebSocket frames. */
const validatorCompiler: FastifySchemaCompiler<any> = (route) => {
  if (route.httpPart === 'body') return () => true
  return TypeBoxValidatorCompiler(route)
}

const longPollingPluginImpl: FastifyPluginAsync<LongPollingPluginOptions> = async (fastify, options) => {
  refuseHubOptions('longPollingPlugin', options)
  const config = resolveLongPollingOptions(options)
  const hub = hubOfApp(fastify)
  const manager = new LongPollManager(hub.longPollParts(), { sessionTtl: config.sessionTtl, maxBuffer: config.maxBuffer })
  const bridge = new LongPollBridge(hub.longPollBridgeParts(), { resolveRecipients: config.resolveRecipients, serverPublish: config.serverPublish })
  fastify.decorate('realtimeLongPolling', manager)
  for (const schema of longPollingSchemas) {
    if (fastify.getSchema(schema.$id as string) === undefined) fastify.addSchema(schema)
  }
  hub.lifecycle.add(longPollShutdown(manager, bridge, hub.options.goingAwayRetryAfter))
  const requests = new LongPollRequests({
    admit: async (request, policy) => await hub.admit(request, policy),
    authenticate: async (request) => await hub.authenticate(request),
    // Read when a request comes: the SSE plugin may be registered after this one.
    streamSession: (id, identity) => fastify.hasDecorator('realtimeSse') ? fastify.realtimeSse.get(id, identity) : undefined
  }, manager, bridge, config)
  await fastify.register(longPollingRoutes(requests, config, () => hub.lifecycle.stopping))
}

/**
 * The routes, in their own context: the raw-text JSON parser, the validator
 * and the error handler must not leak into the application's routes.
 */
function longPollingRoutes (requests: LongPollRequests, config: ResolvedLongPollingOptions, stopping: () => boolean): FastifyPluginAsync {
  return async (scope: FastifyInstance) => {
    scope.setValidatorCompiler(validatorCompiler)
    scope.setErrorHandler(codedErrorHandler({ bodyLimit: config.maxMessageSize }, 'long-polling request'))
    // The body goes to the hub as the exact text a WebSocket frame would carry.
    scope.removeContentTypeParser('application/json')
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })

    scope.get(`${config.prefix}/poll`, { schema: pollRouteSchema }, pollRoute(requests, stopping))
    scope.delete(`${config.prefix}/poll`, { schema: endRouteSchema }, endRoute(requests))
    scope.post(`${config.prefix}/send`, { bodyLimit: config.maxMessageSize, schema: sendRouteSchema }, sendRoute(requests))
  }
}

/** `GET /poll`: without a session id, create a session; with one, poll it. */
function pollRoute (requests: LongPollRequests, stopping: () => boolean) {
  return async function poll (request: FastifyRequest<{ Querystring: PollQueryValue }>, reply: FastifyReply): Promise<FastifyReply> {
    const query = request.query
    if (query.session_id === undefined) return sendJson(reply, await requests.create(request, request.ip, query.client_key))
    const outcome = await requests.poll(request, query.session_id, query)
    if (typeof outcome === 'string') return sendJson(reply, outcome)
    return await answerHeldPoll(request, reply, outcome, stopping)
  }
}

/** Answers a held poll once its frames arrive; a client that hangs up first frees the session at once, nothing taken from its queue. */
async function answerHeldPoll (request: FastifyRequest, reply: FastifyReply, held: HeldPoll, stopping: () => boolean): Promise<FastifyReply> {
  const onClose = (): void => { held.cancel() }
  reply.raw.once('close', onClose)
  const body = await held.done
  reply.raw.off('close', onClose)
  if (body === null) {
    // The connection is gone: nothing to answer, and nothing was taken from the queue.
    reply.hijack()
    reply.raw.destroy()
    return reply
  }
  // Released by shutdown: the server's close has already closed the idle
  // connections, so one kept alive after this answer would hold it for keepAliveTimeout.
  if (stopping() && request.raw.httpVersionMajor < 2) reply.header('connection', 'close')
  return sendJson(reply, body)
}

/** `DELETE /poll`: the client is leaving. */
function endRoute (requests: LongPollRequests) {
  return async function end (request: FastifyRequest<{ Querystring: EndQueryValue }>, reply: FastifyReply): Promise<FastifyReply> {
    await requests.end(request, request.query.session_id)
    return reply.code(204).send()
  }
}

/** `POST /send`: a session's message, or without a session id a server-side publish. */
function sendRoute (requests: LongPollRequests) {
  return async function send (request: FastifyRequest<{ Querystring: SendQueryValue }>, reply: FastifyReply): Promise<FastifyReply> {
    const text = request.body as string
    const id = request.query.session_id
    const result = id === undefined ? await requests.publish(request, text, request.ip) : await requests.send(request, id, text)
    // A server-side publish refused for its key names the scheme it expects.
    if (id === undefined && !result.ok && result.code === 'VIX_ERR_UNAUTHORIZED') reply.header('www-authenticate', 'Bearer')
    const accepted = acceptedOf(result)
    return reply.code(202).send(accepted)
  }
}

function sendJson (reply: FastifyReply, body: string): FastifyReply {
  return reply.header('content-type', JSON_TYPE).send(body)
}

/**
 * The long-polling transport: the WebSocket protocol over plain HTTP
 * (`GET /ws/poll`, `POST /ws/send`), for clients whose WebSocket is blocked.
 *
 * @example
 * await app.register(longPollingPlugin, { sessionTtl: 60_000, maxBuffer: 1024, wait: 25_000 })
 */
export const longPollingPlugin = fp(longPollingPluginImpl, partMeta('vix-realtime-long-polling'))
export default longPollingPlugin
