import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, RouteOptions } from 'fastify'
import { InvalidOptionError } from '../lib/errors.js'
import { Hub } from '../lib/hub/hub.js'
import { hubOf, Realtime } from '../lib/hub/realtime.js'
import { conflictingHubOption, hubOptionNames, hubOptionShape, type HubOptions } from '../lib/hub/options.js'
import { checkOptionKeys } from '../lib/options.js'
import { defaultRequestSerializer, redactingSerializer, serializersOf } from '../lib/redact.js'
import { silentConnections } from '../lib/silent-connections.js'
import { JsonMessage, sharedSchemas } from '../schemas/message.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The realtime layer: handlers, publish, rooms, sessions, presence, lifecycle (docs/server-api.md). */
    realtime: Realtime
  }
}

/** The hub options as the plugins take them: `authenticate` is given the `FastifyRequest` (WebSocket upgrade, long-poll and HTTP routes alike). */
export type HubPluginOptions = Omit<HubOptions<FastifyRequest>, 'logger'>

/** Routes declared since each hub was registered, whatever plugin declared them. */
const routesByHub = new WeakMap<Hub, RouteOptions[]>()

/**
 * The routes declared since `hub` was registered, in order. The docs plugin
 * documents from it the routes declared before @fastify/swagger's own
 * `onRoute` hook existed, so the order parts are registered in does not matter.
 */
export function routesSinceHub (fastify: FastifyInstance): readonly RouteOptions[] {
  return routesByHub.get(hubOf(fastify.realtime)) ?? []
}

/** The hub behind `fastify.realtime`, for the parts of this package: it builds what each part gets. */
export function hubOfApp (fastify: FastifyInstance): Hub {
  return hubOf(fastify.realtime)
}

/** The options each hub was registered with: hub options are taken once. */
const optionsByHub = new WeakMap<Hub, HubPluginOptions>()

/** Hub options given to a part are refused: they belong to the hub, registered once. */
export function refuseHubOptions (part: string, options: object): void {
  const name = hubOptionNames.find((key) => (options as Record<string, unknown>)[key] !== undefined)
  if (name !== undefined) throw new InvalidOptionError(name, `is a hub option, not one of ${part}: give it to hubPlugin (or vixRealtime), registered before ${part}`)
}

const hubPluginImpl: FastifyPluginAsync<HubPluginOptions> = async (fastify, options) => {
  // Also when the hub is there already: a typo in a second registration is still a typo.
  checkOptionKeys(options, hubOptionShape)
  if (fastify.hasDecorator('realtime')) {
    // A second registration with the same options is harmless; a different set would be silently dropped: fail instead.
    const conflict = conflictingHubOption(optionsByHub.get(hubOf(fastify.realtime)) ?? {}, options as Record<string, unknown>)
    if (conflict !== undefined) throw new InvalidOptionError(conflict, 'the hub is already registered with another value: hub options are taken once')
    return
  }
  redactRequestLog(fastify)
  // The hub takes any request; every transport of these plugins gives it the FastifyRequest `authenticate` is typed with.
  const hub = new Hub({ ...options, logger: fastify.log } as HubOptions)
  optionsByHub.set(hub, options)
  await hub.started
  fastify.decorate('realtime', new Realtime(hub))
  const routes: RouteOptions[] = []
  routesByHub.set(hub, routes)
  // Keep the very object every onRoute hook sees: later hooks (e.g. @fastify/websocket) edit it in place.
  fastify.addHook('onRoute', (route) => { routes.push(route) })
  // The envelope that validates frames is the one the HTTP routes and the docs use.
  for (const schema of sharedSchemas) {
    const shared = schema === JsonMessage ? hub.messageSchema : schema
    if (fastify.getSchema(shared.$id as string) === undefined) fastify.addSchema(shared)
  }
  // Connections that never sent a request would hold the server's close (lib/silent-connections.ts).
  const silent = silentConnections(fastify.server)
  fastify.addHook('preClose', (done) => {
    hub.lifecycle.requestStop()
    silent.close()
    done()
  })
  fastify.addHook('onClose', async () => {
    silent.close()
    await hub.lifecycle.finalizeShutdown()
  })
}

/**
 * Long-poll session ids and tokens travel in query strings and headers:
 * every request logger made after this point logs requests through the
 * application's own `req` serializer (or Fastify's), redacted. Routes
 * declared before the hub keep their loggers as they were.
 */
function redactRequestLog (fastify: FastifyInstance): void {
  const previous = fastify.childLoggerFactory
  const wrapped = new WeakMap<object, (value: unknown) => unknown>()
  fastify.setChildLoggerFactory(function (logger, bindings, opts, rawRequest) {
    let req = wrapped.get(logger)
    if (req === undefined) {
      req = redactingSerializer(serializersOf(logger)?.req ?? defaultRequestSerializer)
      wrapped.set(logger, req)
    }
    const own = opts.serializers?.req
    const serializers = { ...opts.serializers, req: own === undefined ? req : redactingSerializer(own) }
    return previous.call(this, logger, bindings, { ...opts, serializers }, rawRequest)
  })
}

/**
 * The transport-agnostic core: decorates `fastify.realtime`. Register it
 * first, with the hub options, when composing parts by hand; every part
 * declares it as a dependency. The umbrella `vixRealtime` registers it for you.
 *
 * @example
 * await app.register(hubPlugin, { relayTypes: ['chat.message'] })
 * await app.register(websocketPlugin, { path: '/live' })
 */
export const hubPlugin = fp(hubPluginImpl, { fastify: '5.x', name: 'vix-realtime-hub' })
export default hubPlugin

/** Register the hub with `options` unless an earlier plugin did (then the options must agree). */
export async function ensureHub (fastify: FastifyInstance, options: HubPluginOptions): Promise<Realtime> {
  await fastify.register(hubPlugin, options)
  return fastify.realtime
}

/** The `fastify-plugin` metadata of a part: Fastify 5, and the hub registered before it. */
export function partMeta (name: string): { fastify: '5.x', name: string, dependencies: string[], decorators: { fastify: string[] } } {
  return { fastify: '5.x', name, dependencies: ['vix-realtime-hub'], decorators: { fastify: ['realtime'] } }
}
