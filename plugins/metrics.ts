import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { Type } from '@sinclair/typebox'
import { RealtimeMetrics, checkMetricsOptions, type RealtimeMetricsOptions } from '../lib/metrics.js'
import { InternalError } from '../lib/errors.js'
import { checkOptionKeys, checkPath, type OptionShape } from '../lib/options.js'
import { hubOfApp, partMeta, refuseHubOptions } from './hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The realtime layer's Prometheus metrics: its `registry` takes the app's own metrics too. */
    realtimeMetrics: RealtimeMetrics
  }
}

/** Options of the metrics part. */
export interface MetricsPluginOptions extends RealtimeMetricsOptions {
  /** Route of the Prometheus scrape endpoint (default `/metrics`). */
  path?: string
}

/** The keys of `MetricsPluginOptions`: any other fails boot (`registry` and `defaultMetrics` are prom-client's, not looked into). */
export const metricsOptionShape = {
  path: true,
  registry: true,
  defaultMetrics: true,
  buckets: { publish: true, storeAppend: true }
} as const satisfies OptionShape & Record<keyof MetricsPluginOptions, unknown>

const metricsDefaults = {
  path: '/metrics',
  defaultMetrics: false
} as const

const exampleExposition = [
  '# HELP vix_ws_connections_active Open WebSocket connections',
  '# TYPE vix_ws_connections_active gauge',
  'vix_ws_connections_active 42',
  '# HELP vix_ws_errors_total Client-facing errors by reason',
  '# TYPE vix_ws_errors_total counter',
  'vix_ws_errors_total{reason="invalid_message"} 3',
  ''
].join('\n')

const metricsPluginImpl: FastifyPluginAsync<MetricsPluginOptions> = async (fastify, options) => {
  refuseHubOptions('metricsPlugin', options)
  checkOptionKeys(options, metricsOptionShape)
  const { path, registry, defaultMetrics, buckets } = { ...metricsDefaults, ...options }
  checkPath('path', path)
  const metricsOptions: RealtimeMetricsOptions = { registry, defaultMetrics, buckets }
  checkMetricsOptions(metricsOptions)
  const hub = hubOfApp(fastify)
  const metrics = new RealtimeMetrics(hub.metricsParts(), metricsOptions)
  fastify.decorate('realtimeMetrics', metrics)

  // After the transports and the store, so their last counts are already in.
  hub.lifecycle.add({ name: 'metrics', order: 200, finalize () { metrics.close() } })

  fastify.route({
    method: 'GET',
    url: path,
    schema: {
      summary: 'Prometheus metrics',
      description: 'The realtime layer\'s metrics in the Prometheus text exposition format (`text/plain; version=0.0.4`): ' +
        'connection, message, error, long-polling and store counters, live gauges read at scrape time, ' +
        'and publish and store-append latency histograms. Every family has HELP and TYPE lines.',
      tags: ['realtime'],
      response: {
        200: {
          description: 'The exposition text',
          content: {
            'text/plain': {
              schema: Type.String({ description: 'Prometheus text format 0.0.4' }),
              // On the media type, where both OpenAPI 3.0 and 3.1 accept it.
              example: exampleExposition
            }
          }
        },
        500: {
          description: 'A metric could not be collected (e.g. an app metric\'s collect function threw)',
          content: { 'application/json': { schema: { $ref: 'VixErrorResponse#' } } }
        }
      }
    },
    handler: async (request, reply) => {
      let text: string
      try {
        text = await metrics.expose()
      } catch (error) {
        // A shared registry may hold the app's own metrics, whose collect can throw.
        request.log.error({ err: error }, 'vix-realtime: collecting metrics failed')
        throw new InternalError()
      }
      return await reply.type(metrics.contentType).send(text)
    }
  })
}

/**
 * Prometheus metrics of the realtime layer: `GET /metrics` over a registry of
 * its own (or one passed in), counters fed by the hub, gauges read from live
 * state at scrape time.
 *
 * @example
 * await app.register(metricsPlugin, { path: '/metrics', defaultMetrics: true })
 * app.realtimeMetrics.registry // add the app's own metrics here
 */
export const metricsPlugin = fp(metricsPluginImpl, partMeta('vix-realtime-metrics'))
export default metricsPlugin
