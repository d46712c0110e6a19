import fp from 'fastify-plugin'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify'
import type { Hub } from '../lib/hub/hub.js'
import { sseParts } from '../lib/hub/sse-parts.js'
import { LongPollBridge } from '../lib/long-polling/bridge.js'
import { acceptedOf } from '../lib/long-polling/requests.js'
import { SessionNotFoundError } from '../lib/errors.js'
import { resolveSseOptions, type ResolvedSseOptions, type SseOptions } from '../lib/sse/options.js'
import { sseShutdown } from '../lib/sse/shutdown.js'
import { SseStreams } from '../lib/sse/streams.js'
import { websocketDefaults } from '../lib/websocket/options.js'
import { longPollingSchemas, sendRouteSchema, type SendQueryValue } from '../schemas/long-polling.js'
import { sseRouteSchema, type SseQueryValue } from '../schemas/sse.js'
import { hubOfApp, partMeta, refuseHubOptions } from './hub.js'
import { codedErrorHandler } from './http.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The SSE streams of this server (size; a stream by session id). */
    realtimeSse: SseStreams
  }
}

export type SsePluginOptions = SseOptions

/** Query strings and headers are checked by TypeBox; a body by the hub, exactly as a WebSocket frame. */
const validatorCompiler: FastifySchemaCompiler<any> = (route) => route.httpPart === 'body' ? () => true : TypeBoxValidatorCompiler(route)

const ssePluginImpl: FastifyPluginAsync<SsePluginOptions> = async (fastify, options) => {
  refuseHubOptions('ssePlugin', options)
  const config = resolveSseOptions(options)
  const hub = hubOfApp(fastify)
  const streams = new SseStreams(sseParts(hub), { heartbeat: config.heartbeat, retry: config.retry })
  fastify.decorate('realtimeSse', streams)
  hub.lifecycle.add(sseShutdown(streams, hub.options.goingAwayRetryAfter))
  // With long polling, its `POST /send` takes SSE sessions too; without it, this one does.
  const send = fastify.hasDecorator('realtimeLongPolling') ? undefined : new LongPollBridge(hub.longPollBridgeParts())
  if (send !== undefined) {
    for (const schema of longPollingSchemas) if (fastify.getSchema(schema.$id as string) === undefined) fastify.addSchema(schema)
  }
  await fastify.register(sseRoutes(hub, streams, config, send))
}

/** The routes, in their own context (validator, error handler and body parser stay here). */
function sseRoutes (hub: Hub, streams: SseStreams, config: ResolvedSseOptions, bridge: LongPollBridge | undefined): FastifyPluginAsync {
  return async (scope: FastifyInstance) => {
    scope.setValidatorCompiler(validatorCompiler)
    scope.setErrorHandler(codedErrorHandler({ bodyLimit: websocketDefaults.maxMessageSize }, 'sse request'))
    scope.get(`${config.prefix}/sse`, { schema: sseRouteSchema }, streamRoute(hub, streams))
    if (bridge === undefined) return
    scope.removeContentTypeParser('application/json')
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })
    scope.post(`${config.prefix}/send`, { bodyLimit: websocketDefaults.maxMessageSize, schema: sendRouteSchema }, async (request: FastifyRequest<{ Querystring: SendQueryValue }>, reply: FastifyReply) => {
      const identity = await hub.authenticate(request)
      const stream = streams.get(request.query.session_id ?? '', identity)
      if (stream === undefined) throw new SessionNotFoundError()
      return await reply.code(202).send(acceptedOf(await bridge.send(stream, request.body as string)))
    })
  }
}

/** `?rooms=a,b` as room names (empty entries skipped). */
function roomsOf (value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').filter((room) => room !== '')
}

/** `GET /sse`: admit, then stream until the client or the server ends it. */
function streamRoute (hub: Hub, streams: SseStreams) {
  return async function stream (request: FastifyRequest<{ Querystring: SseQueryValue }>, reply: FastifyReply): Promise<void> {
    const query = request.query
    const admitted = await hub.admit(request, { transport: 'sse', ip: request.ip, senderKey: query.client_key })
    const header = request.headers['last-event-id']
    reply.hijack()
    const raw = reply.raw
    const headers: Record<string, string> = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' }
    // HTTP/1.1: the stream is the whole body, ended by closing the connection, so no chunk
    // framing is wrapped around every write (a connection that carried a stream is not reused anyway).
    if (request.raw.httpVersionMajor < 2) (raw as { useChunkedEncodingByDefault: boolean }).useChunkedEncodingByDefault = false
    raw.writeHead(200, headers)
    raw.flushHeaders()
    await streams.open(raw, {
      identity: admitted.identity,
      slot: admitted.slot,
      senderKey: admitted.senderKey,
      expiresAt: admitted.expiresAt,
      rooms: roomsOf(query.rooms),
      lastEventId: typeof header === 'string' ? header : query.lastEventId
    })
  }
}

/**
 * The Server-Sent Events transport: `GET /ws/sse` streams every frame a
 * WebSocket session would get, `POST /ws/send` carries what the client sends.
 *
 * @example
 * await app.register(ssePlugin, { heartbeat: 15_000 })
 */
export const ssePlugin = fp(ssePluginImpl, partMeta('vix-realtime-sse'))
export default ssePlugin
