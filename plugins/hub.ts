import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify'
import { Hub, type HubOptions } from '../lib/hub.js'
import { InvalidOptionError } from '../lib/errors.js'
import { checkInteger, checkOptionalFunction, checkStringList } from '../lib/options.js'
import { JsonMessage, sharedSchemas } from '../schemas/message.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The realtime hub: handlers, rooms, sessions, publish, lifecycle. */
    realtime: Hub
  }
}

export type HubPluginOptions = Omit<HubOptions, 'logger'>

/** Check the hub's options at register time; a bad one fails boot. */
export function checkHubOptions (options: HubPluginOptions): void {
  if (options.relayTypes !== undefined) checkStringList('relayTypes', options.relayTypes)
  if (options.maxBufferedAmount !== undefined) checkInteger('maxBufferedAmount', options.maxBufferedAmount, 1)
  if (options.shutdownTimeout !== undefined) checkInteger('shutdownTimeout', options.shutdownTimeout, 0)
  if (options.messageSchema !== undefined && options.messageSchema.$id !== JsonMessage.$id) {
    throw new InvalidOptionError('messageSchema', `must keep $id "${JsonMessage.$id as string}" so HTTP routes and docs use it`)
  }
  checkOptionalFunction('authenticate', options.authenticate)
  checkOptionalFunction('authorizeJoin', options.authorizeJoin)
  checkOptionalFunction('authorizePublish', options.authorizePublish)
}

/** Routes declared since each hub was registered, whatever plugin declared them. */
const routesByHub = new WeakMap<Hub, RouteOptions[]>()

/**
 * The routes declared since `hub` was registered, in order. The docs plugin
 * documents from it the routes declared before @fastify/swagger's own
 * `onRoute` hook existed, so the order parts are registered in does not matter.
 */
export function routesSinceHub (hub: Hub): readonly RouteOptions[] {
  return routesByHub.get(hub) ?? []
}

const hubPluginImpl: FastifyPluginAsync<HubPluginOptions> = async (fastify, options) => {
  checkHubOptions(options)
  const hub = new Hub({ ...options, logger: fastify.log })
  fastify.decorate('realtime', hub)
  const routes: RouteOptions[] = []
  routesByHub.set(hub, routes)
  // Keep the very object every onRoute hook sees: later hooks (e.g. @fastify/websocket) edit it in place.
  fastify.addHook('onRoute', (route) => { routes.push(route) })
  // The envelope that validates frames is the one the HTTP routes and the docs use.
  for (const schema of sharedSchemas) {
    const shared = schema === JsonMessage ? hub.messageSchema : schema
    if (fastify.getSchema(shared.$id as string) === undefined) fastify.addSchema(shared)
  }
  fastify.addHook('preClose', (done) => {
    hub.lifecycle.requestStop()
    done()
  })
  fastify.addHook('onClose', async () => {
    await hub.lifecycle.finalizeShutdown()
  })
}

/**
 * The transport-agnostic core: decorates `fastify.realtime`. Every transport
 * plugin registers it when it is not there yet, so it rarely needs registering by hand.
 */
export const hubPlugin = fp(hubPluginImpl, { fastify: '5.x', name: 'vix-realtime-hub' })
export default hubPlugin

/** Register the hub with `options` unless an earlier plugin did. */
export async function ensureHub (fastify: FastifyInstance, options: HubPluginOptions): Promise<Hub> {
  if (!fastify.hasDecorator('realtime')) await fastify.register(hubPlugin, options)
  return fastify.realtime
}
