import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { websocketDefaults, type WebSocketOptions } from '../lib/config.js'
import { CloseCodes, ForbiddenError, ShuttingDownError, UpgradeRequiredError } from '../lib/errors.js'
import { systemFrame } from '../lib/frames.js'
import { checkBoolean, checkInteger, checkPath, checkStringList } from '../lib/options.js'
import { WebSocketConnections } from '../lib/websocket/connections.js'
import { websocketRouteSchema } from '../schemas/websocket.js'
import { ensureHub, type HubPluginOptions } from './hub.js'

export interface WebSocketPluginOptions extends WebSocketOptions, HubPluginOptions {}

function resolveOptions (options: WebSocketPluginOptions): Required<Omit<WebSocketOptions, 'allowedOrigins'>> & Pick<WebSocketOptions, 'allowedOrigins'> {
  const resolved = { ...websocketDefaults, ...options }
  checkPath('path', resolved.path)
  checkInteger('maxMessageSize', resolved.maxMessageSize, 1)
  checkInteger('idleTimeout', resolved.idleTimeout, 1)
  checkInteger('pingInterval', resolved.pingInterval, 1)
  checkBoolean('perMessageDeflate', resolved.perMessageDeflate)
  checkBoolean('autoPingPong', resolved.autoPingPong)
  checkInteger('goingAwayRetryAfter', resolved.goingAwayRetryAfter, 0)
  if (resolved.allowedOrigins !== undefined) checkStringList('allowedOrigins', resolved.allowedOrigins)
  return resolved
}

const websocketPluginImpl: FastifyPluginAsync<WebSocketPluginOptions> = async (fastify, options) => {
  const config = resolveOptions(options)
  const hub = await ensureHub(fastify, options)
  const connections = new WebSocketConnections(hub, config)
  const identities = new WeakMap<FastifyRequest, unknown>()
  const allowedOrigins = config.allowedOrigins === undefined ? undefined : new Set(config.allowedOrigins)

  if (!fastify.hasDecorator('websocketServer')) {
    await fastify.register(websocket, {
      options: { maxPayload: config.maxMessageSize, perMessageDeflate: config.perMessageDeflate, autoPong: config.autoPingPong },
      // Shutdown is ours (going_away, then 1001); the default closes with no code.
      preClose: (done) => { done() },
      // Socket errors are logged and reported by the connection's own listener.
      errorHandler: () => {}
    })
  }

  hub.lifecycle.add({
    name: 'websocket',
    order: 0,
    requestStop () {
      const frame = JSON.stringify(systemFrame('server.going_away', { retryAfterMs: config.goingAwayRetryAfter }))
      for (const socket of connections.sockets()) socket.send(frame)
      connections.closeAll(CloseCodes.GOING_AWAY, 'server going away')
      // The HTTP server's close waits for upgraded sockets too: a peer that never
      // answers the close handshake must not hold it past shutdownTimeout.
      setTimeout(() => { connections.terminateAll() }, hub.lifecycle.options.shutdownTimeout).unref()
    },
    async finalize (deadline) {
      connections.stopTimer()
      if (!await connections.whenClosed(deadline)) connections.terminateAll()
    }
  })

  async function admit (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!request.ws) return
    if (hub.lifecycle.stopping) {
      reply.header('retry-after', '1')
      throw new ShuttingDownError()
    }
    const origin = request.headers.origin
    if (allowedOrigins !== undefined && (origin === undefined || !allowedOrigins.has(origin))) {
      hub.report('forbidden')
      throw new ForbiddenError(`origin ${origin ?? '(none)'} is not allowed`)
    }
    identities.set(request, await hub.authenticate(request))
  }

  fastify.route({
    method: 'GET',
    url: config.path,
    schema: websocketRouteSchema,
    preValidation: admit,
    handler: async () => { throw new UpgradeRequiredError() },
    wsHandler: (socket, request) => { connections.attach(socket, identities.get(request)) }
  })
}

/**
 * The WebSocket transport: `GET /ws` upgrades to a session of the hub.
 *
 * @example
 * await app.register(websocketPlugin, { relayTypes: ['chat.message'], maxMessageSize: 65536 })
 */
export const websocketPlugin = fp(websocketPluginImpl, { fastify: '5.x', name: 'vix-realtime-websocket' })
export default websocketPlugin
