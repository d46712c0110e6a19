import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { CloseCodes, UpgradeRequiredError } from '../lib/errors.js'
import { goingAwayFrame } from '../lib/frames.js'
import type { Admitted } from '../lib/admission.js'
import { WebSocketConnections } from '../lib/websocket/connections.js'
import { resolveWebSocketOptions, type WebSocketOptions } from '../lib/websocket/options.js'
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

  if (!fastify.hasDecorator('websocketServer')) {
    await fastify.register(websocket, {
      options: { maxPayload: config.maxMessageSize, perMessageDeflate: config.perMessageDeflate, autoPong: config.autoPingPong },
      // Shutdown is ours (going_away, then 1001); the default closes with no code.
      preClose: (done) => { done() },
      // Socket errors are logged and reported by the connection's own listener.
      errorHandler: () => {}
    })
  }

  let terminateTimer: NodeJS.Timeout | undefined
  hub.lifecycle.add({
    name: 'websocket',
    order: 0,
    requestStop () {
      const frame = JSON.stringify(goingAwayFrame(hub.options.goingAwayRetryAfter))
      for (const socket of connections.sockets()) socket.send(frame)
      connections.closeAll(CloseCodes.GOING_AWAY, 'server going away')
      // The HTTP server's close waits for upgraded sockets too: a peer that never
      // answers the close handshake must not hold it past shutdownTimeout.
      terminateTimer = setTimeout(() => { connections.terminateAll() }, hub.lifecycle.options.shutdownTimeout).unref()
    },
    async finalize (deadline) {
      connections.stopTimer()
      if (!await connections.whenClosed(deadline)) connections.terminateAll()
      clearTimeout(terminateTimer)
    }
  })

  // Before the 101: the one admission step of every transport.
  async function admit (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!request.ws) return
    try {
      const admitted = await hub.admit(request, { transport: 'websocket', allowedOrigins: config.allowedOrigins, origin: request.headers.origin, ip: request.ip })
      admissions.set(request, admitted)
      // An upgrade refused later (a hook, a bad handshake) or abandoned never opens a session: its socket closing gives the place back.
      request.raw.socket.once('close', () => { admitted.slot.release() })
    } catch (error) {
      withRetryAfter(reply, error)
      throw error
    }
  }

  fastify.route({
    method: 'GET',
    url: config.path,
    schema: websocketRouteSchema,
    preValidation: admit,
    handler: async () => { throw new UpgradeRequiredError() },
    wsHandler: (socket, request) => {
      // Taken, not kept: a session holds its identity, never its upgrade request.
      const admitted = admissions.get(request)
      admissions.delete(request)
      connections.attach(socket, admitted?.identity, admitted?.slot)
    }
  })
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
