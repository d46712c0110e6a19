import fp from 'fastify-plugin'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify'
import { CloseCodes, SessionBusyError, SessionNotFoundError } from '../lib/errors.js'
import { goingAwayFrame } from '../lib/frames.js'
import { errorOfDispatch } from '../lib/http-errors.js'
import { LongPollBridge } from '../lib/long-polling/bridge.js'
import { LongPollManager } from '../lib/long-polling/manager.js'
import { resolveLongPollingOptions, type LongPollingOptions } from '../lib/long-polling/options.js'
import { EndQuery, longPollingSchemas, PollQuery, SendQuery, type EndQueryValue, type PollQueryValue, type SendQueryValue } from '../schemas/long-polling.js'
import { hubOfApp, partMeta, refuseHubOptions } from './hub.js'
import { codedErrorHandler, withRetryAfter } from './http.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The long-poll sessions of this server (size, buffered frames, sweep). */
    realtimeLongPolling: LongPollManager
  }
}

export type LongPollingPluginOptions = LongPollingOptions

const JSON_TYPE = 'application/json; charset=utf-8'

const errorResponses = {
  400: { $ref: 'VixErrorResponse#', description: 'Malformed querystring (`VIX_ERR_INVALID_REQUEST`, with `path`)' },
  401: { $ref: 'VixErrorResponse#', description: '`authenticate` rejected the request (`VIX_ERR_UNAUTHORIZED`)' },
  404: { $ref: 'VixErrorResponse#', description: 'Unknown or expired session, or one bound to another identity (`VIX_ERR_SESSION_NOT_FOUND`): create a new one and rejoin with `since`' },
  500: { $ref: 'VixErrorResponse#', description: 'Internal error (`VIX_ERR_INTERNAL`)' }
}

const sendErrorResponses = {
  ...errorResponses,
  401: { $ref: 'VixErrorResponse#', description: '`authenticate` rejected the request, or a server-side publish without the `serverPublish` key (`VIX_ERR_UNAUTHORIZED`, with `WWW-Authenticate: Bearer`)' },
  403: { $ref: 'VixErrorResponse#', description: 'Denied by `authorizeJoin` / `authorizePublish` / `serverPublish.authorize`, or a server-side publish while it is off (`VIX_ERR_FORBIDDEN`); not in the room (`VIX_ERR_NOT_IN_ROOM`)' },
  429: { $ref: 'VixErrorResponse#', description: 'Over the session rate (`limits.sessionRate`), the per-IP rate of server-side publishes (`limits.ipRate`) or a type\'s `rate`, or more than `maxQueuedFrames` frames of this session are waiting (`VIX_ERR_RATE_LIMITED`, with `Retry-After`); a join past `limits.maxRoomsPerSession` / `maxMembersPerRoom` (`VIX_ERR_LIMIT_EXCEEDED`)' },
  400: { $ref: 'VixErrorResponse#', description: 'Invalid message (`VIX_ERR_INVALID_MESSAGE`, with `path`: the same message and path as the WebSocket error frame), unknown type (`VIX_ERR_UNKNOWN_TYPE`) or querystring (`VIX_ERR_INVALID_REQUEST`)' },
  413: { $ref: 'VixErrorResponse#', description: 'Body larger than `maxMessageSize` (`VIX_ERR_PAYLOAD_TOO_LARGE`)' },
  503: { $ref: 'VixErrorResponse#', description: 'The message store (PostgreSQL) cannot be reached (`VIX_ERR_STORE_UNAVAILABLE`): nothing was stored, delivered or acked; retry' }
}

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

  hub.lifecycle.add({
    name: 'long-polling',
    order: 0,
    requestStop () {
      manager.requestStop(JSON.stringify(goingAwayFrame(hub.options.goingAwayRetryAfter)))
    },
    finalize () {
      manager.close()
      bridge.close()
    }
  })

  async function poll (request: FastifyRequest<{ Querystring: PollQueryValue }>, reply: FastifyReply): Promise<FastifyReply> {
    const query = request.query
    if (query.session_id === undefined) {
      let admitted
      try {
        admitted = await hub.admit(request, { transport: 'long-polling', ip: request.ip })
      } catch (error) {
        withRetryAfter(reply, error)
        throw error
      }
      const { poll } = manager.create(admitted.identity, admitted.slot)
      return reply.header('content-type', JSON_TYPE).send(manager.respondCreated(poll))
    }
    const identity = await hub.authenticate(request)
    const session = manager.get(query.session_id, identity)
    if (session === undefined) throw new SessionNotFoundError()
    const outcome = manager.poll(session, {
      ack: query.ack,
      wait: Math.min(query.wait ?? config.wait, config.maxWait),
      max: query.max ?? config.maxBuffer
    })
    if (outcome === 'busy') throw new SessionBusyError()
    if (typeof outcome === 'string') return reply.header('content-type', JSON_TYPE).send(outcome)
    // A client that hangs up frees the session at once: nothing is taken from its queue.
    const onClose = (): void => { outcome.cancel() }
    reply.raw.once('close', onClose)
    const body = await outcome.done
    reply.raw.off('close', onClose)
    if (body === null) {
      // The connection is gone: nothing to answer, and nothing was taken from the queue.
      reply.hijack()
      reply.raw.destroy()
      return reply
    }
    // Released by shutdown: the server's close has already closed the idle
    // connections, so one kept alive after this answer would hold it for keepAliveTimeout.
    if (hub.lifecycle.stopping && request.raw.httpVersionMajor < 2) reply.header('connection', 'close')
    return reply.header('content-type', JSON_TYPE).send(body)
  }

  async function end (request: FastifyRequest<{ Querystring: EndQueryValue }>, reply: FastifyReply): Promise<FastifyReply> {
    const identity = await hub.authenticate(request)
    const session = manager.get(request.query.session_id, identity)
    if (session === undefined) throw new SessionNotFoundError()
    // As a WebSocket closing: out of every room (presence sees it leave) and its slot given back, at once.
    manager.expire(session, CloseCodes.NORMAL)
    return reply.code(204).send()
  }

  async function send (request: FastifyRequest<{ Querystring: SendQueryValue }>, reply: FastifyReply): Promise<FastifyReply> {
    const text = request.body as string
    const id = request.query.session_id
    let result
    if (id === undefined) {
      // serverPublish is this path's authentication (a key or a callback); it is off by default.
      result = await bridge.publish(text, request, request.ip)
      if (!result.ok && result.code === 'VIX_ERR_UNAUTHORIZED') reply.header('www-authenticate', 'Bearer')
    } else {
      const identity = await hub.authenticate(request)
      const session = manager.get(id, identity)
      if (session === undefined) throw new SessionNotFoundError()
      result = await bridge.send(session, text)
    }
    if (!result.ok) throw errorOfDispatch(result)
    const { ok, ...accepted } = result
    return reply.code(202).send(accepted)
  }

  // Routes in their own context: the raw-text JSON parser, the validator and
  // the error handler below must not leak into the application's routes.
  await fastify.register(async (scope: FastifyInstance) => {
    scope.setValidatorCompiler(validatorCompiler)
    scope.setErrorHandler(codedErrorHandler({ bodyLimit: config.maxMessageSize }, 'long-polling request'))
    // The body goes to the hub as the exact text a WebSocket frame would carry.
    scope.removeContentTypeParser('application/json')
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })

    scope.get(`${config.prefix}/poll`, {
      schema: {
        summary: 'Create or poll a long-poll session',
        description: 'Without `session_id`: create a session bound to the caller\'s identity and answer `{session_id, messages: [], next}`. ' +
          'With it: hold the request until at least one frame is queued or `wait` passes, then answer the frames in order ' +
          '(exactly what a WebSocket session would have received). Send the `next` of each answer back as `ack`: ' +
          'frames not confirmed are sent again, so a lost response loses nothing. Only one poll per session at a time.',
        tags: ['realtime'],
        querystring: PollQuery,
        response: {
          200: { $ref: 'VixPollResponse#' },
          ...errorResponses,
          409: { $ref: 'VixErrorResponse#', description: 'Another poll is already held on this session (`VIX_ERR_SESSION_BUSY`)' },
          429: { $ref: 'VixErrorResponse#', description: 'Creating a session: `limits.maxConnectionsPerIp` / `maxConnectionsPerIdentity` reached (`VIX_ERR_LIMIT_EXCEEDED`), or this client IP is over `limits.ipRate` (`VIX_ERR_RATE_LIMITED`, with `Retry-After`)' },
          503: { $ref: 'VixErrorResponse#', description: 'Shutting down (`VIX_ERR_SHUTTING_DOWN`) or full (`VIX_ERR_SERVER_FULL`): no new sessions, retry after `Retry-After`' }
        }
      }
    }, poll)

    scope.delete(`${config.prefix}/poll`, {
      schema: {
        summary: 'End a long-poll session',
        description: 'The client is leaving (a page closing, a switch back to WebSocket): the session leaves every room, a held poll is answered with what it has, and the session id stops working. Without it the session lingers until `sessionTtl` passes with no poll.',
        tags: ['realtime'],
        querystring: EndQuery,
        response: {
          204: { type: 'null', description: 'Ended' },
          ...errorResponses
        }
      }
    }, end)

    scope.post(`${config.prefix}/send`, {
      bodyLimit: config.maxMessageSize,
      schema: {
        summary: 'Send a typed message',
        description: 'With `session_id`: processed exactly like that frame on a WebSocket of this session (`room.join` joins it, relay rules and auth hooks apply; acks and events arrive through `GET /poll`). ' +
          'Without it: a server-side publish, **off unless `longPolling.serverPublish` is configured** (a bearer key and/or an `authorize(request, message)` callback; 403 when off, 401 without the key); when on, the message must be of a known type (a relay type or one registered with `on`), pass its payload schema and `authorizePublish(null, message)`. Answers 202 `{id}` once the message is accepted (and stored, when its room is persisted): the message\'s id, or for one sent without an id the id the server gave it (a session\'s message carries it into its ack and, relayed, into the event members receive; a server-side publish, the stamped event id).',
        tags: ['realtime'],
        querystring: SendQuery,
        body: { $ref: 'VixJsonMessage#' },
        response: {
          202: { $ref: 'VixSendAccepted#' },
          ...sendErrorResponses
        }
      }
    }, send)
  })
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
