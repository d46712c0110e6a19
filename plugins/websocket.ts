import fp from 'fastify-plugin'
import websocket, { type WebsocketPluginOptions } from '@fastify/websocket'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { UpgradeRequiredError } from '../lib/errors.js'
import type { Admitted } from '../lib/admission.js'
import type { Hub } from '../lib/hub/hub.js'
import { WebSocketConnections } from '../lib/websocket/connections.js'
import { resolveWebSocketOptions, type ResolvedWebSocketOptions, type WebSocketOptions } from '../lib/websocket/options.js'
import { webSocketShutdown } from '../lib/websocket/shutdown.js'
import { websocketRouteSchema } from '../schemas/websocket.js'
import { hubOfApp, partMeta, refuseHubOptions } from './hub.js'
import { withRetryAfter } from './http.js'

export type WebSocketPluginOptions = WebSocketOptions

const websocketPluginImpl: FastifyPluginAsync<WebSocketPluginOptions> = async (fastify, options) => {
  refuseHubOptions('websocketPlugin', options)
  const config = resolveWebSocketOptions(options)
  const hub = hubOfApp(fastify)
  const connections = new WebSocketConnections(hub.webSocketParts(), config)
  const admissions = new WeakMap<FastifyRequest, Admitted>()

  if (!fastify.hasDecorator('websocketServer')) await fastify.register(websocket, websocketServerOptions(config))
  hub.lifecycle.add(webSocketShutdown(connections, hub.options.goingAwayRetryAfter, hub.lifecycle.options.shutdownTimeout))

  fastify.route({
    method: 'GET',
    url: config.path,
    schema: websocketRouteSchema,
    preValidation: admitBeforeUpgrade(hub, config, admissions),
    handler: async () => { throw new UpgradeRequiredError() },
    wsHandler: (socket, request) => {
      // Taken, not kept: a session holds its identity, never its upgrade request.
      const admitted = admissions.get(request)
      admissions.delete(request)
      connections.attach(socket, admitted?.identity, admitted?.slot, admitted?.senderKey, admitted?.expiresAt)
    }
  })
}

function websocketServerOptions (config: ResolvedWebSocketOptions): WebsocketPluginOptions {
  return {
    options: { maxPayload: config.maxMessageSize, perMessageDeflate: config.perMessageDeflate, autoPong: config.autoPingPong },
    // Shutdown is ours (going_away, then 1001); the default closes with no code.
    preClose: (done) => { done() },
    // Socket errors are logged and reported by the connection's own listener.
    errorHandler: () => {}
  }
}

/** Before the 101: the one admission step of every transport; the admitted client waits in `admissions` for its socket. */
function admitBeforeUpgrade (hub: Pick<Hub, 'admit'>, config: ResolvedWebSocketOptions, admissions: WeakMap<FastifyRequest, Admitted>) {
  return async function admit (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!request.ws) return
    try {
      const senderKey = (request.query as { client_key?: unknown }).client_key
      const admitted = await hub.admit(request, { transport: 'websocket', allowedOrigins: config.allowedOrigins, origin: request.headers.origin, ip: request.ip, senderKey })
      admissions.set(request, admitted)
      // An upgrade refused later (a hook, a bad handshake) or abandoned never opens a session: its socket closing gives the place back.
      // (`app.injectWS` gives the request no socket: there is nothing to abandon.)
      request.raw.socket?.once('close', () => { admitted.slot.release() })
    } catch (error) {
      withRetryAfter(reply, error)
      throw error
    }
  }
}

/**
 * The WebSocket transport: `GET /ws` upgrades to a session of the hub
 * (registered before it, with the hub options).
 *
 * @example
 * await app.register(hubPlugin, { relayTypes: ['chat.message'] })
 * await app.register(websocketPlugin, { maxMessageSize: 65536 })
 */
export const websocketPlugin = fp(websocketPluginImpl, partMeta('vix-realtime-websocket'))
export default websocketPlugin
