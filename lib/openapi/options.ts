import { InvalidOptionError } from '../errors.js'
import { checkOptionKeys, checkPath, type OptionShape } from '../options.js'

/** Options of the docs plugin. */
export interface OpenApiPluginOptions {
  /** Where Swagger UI is served; the document is at `<routePrefix>/json` and `<routePrefix>/yaml` (default `/docs`). */
  routePrefix?: string
  /** The document's `info` (default title `Realtime API`, version `1.0.0`). */
  info?: { title?: string, version?: string, description?: string }
  /**
   * Serve the docs (default true). `false` serves nothing and only completes
   * the document of an @fastify/swagger the application registered itself
   * (what the umbrella's `docs: false` does when there is one).
   */
  serve?: boolean
}

export const openapiDefaults = {
  routePrefix: '/docs',
  serve: true,
  info: {
    title: 'Realtime API',
    version: '1.0.0',
    description: 'WebSocket and HTTP endpoints of the realtime layer (vix-realtime). Every schema here is the one that validates the traffic.'
  }
}

/** The keys of `OpenApiPluginOptions` (the umbrella's `docs`): any other fails boot. */
export const openapiOptionShape = {
  routePrefix: true,
  info: { title: true, version: true, description: true },
  serve: true
} as const satisfies OptionShape & Record<keyof OpenApiPluginOptions, unknown>

export function resolveOpenApiOptions (options: OpenApiPluginOptions): typeof openapiDefaults {
  checkOptionKeys(options, openapiOptionShape)
  const routePrefix = checkPath('routePrefix', options.routePrefix ?? openapiDefaults.routePrefix)
  if (options.info !== undefined && (typeof options.info !== 'object' || options.info === null)) {
    throw new InvalidOptionError('info', `expected an object, got ${JSON.stringify(options.info)}`)
  }
  if (options.serve !== undefined && typeof options.serve !== 'boolean') {
    throw new InvalidOptionError('serve', `expected a boolean, got ${JSON.stringify(options.serve)}`)
  }
  return { routePrefix, serve: options.serve ?? openapiDefaults.serve, info: { ...openapiDefaults.info, ...options.info } }
}
