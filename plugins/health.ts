import fp from 'fastify-plugin'
// Brings in the FastifySchema fields the docs read (summary, description, tags).
import type {} from '@fastify/swagger'
import type { FastifyPluginAsync } from 'fastify'
import { readinessAnswer } from '../lib/health.js'
import { checkOptionKeys, checkPath, type OptionShape } from '../lib/options.js'
import { HealthResponse, NotReadyResponse, ReadyResponse } from '../schemas/health.js'
import { hubOfApp, partMeta, refuseHubOptions } from './hub.js'

export interface HealthPluginOptions {
  /** Route of the liveness check (default `/ws/health`). */
  healthPath?: string
  /** Route of the readiness check (default `/ws/ready`). */
  readyPath?: string
}

/** The keys of `HealthPluginOptions`: any other fails boot. */
export const healthOptionShape = { healthPath: true, readyPath: true } as const satisfies OptionShape & Record<keyof HealthPluginOptions, true>

const healthPluginImpl: FastifyPluginAsync<HealthPluginOptions> = async (fastify, options) => {
  refuseHubOptions('healthPlugin', options)
  checkOptionKeys(options, healthOptionShape)
  const healthPath = checkPath('healthPath', options.healthPath ?? '/ws/health')
  const readyPath = checkPath('readyPath', options.readyPath ?? '/ws/ready')
  const health = hubOfApp(fastify).health

  fastify.route({
    method: 'GET',
    url: healthPath,
    schema: {
      summary: 'Liveness: the process is alive',
      description: 'Answers 200 while the process runs and serves HTTP, whether or not Redis and PostgreSQL are reachable (a node stays up and retries while they are down). For a Kubernetes `livenessProbe`.',
      tags: ['realtime'],
      response: { 200: HealthResponse }
    },
    handler: async () => ({ status: 'ok' as const })
  })

  fastify.route({
    method: 'GET',
    url: readyPath,
    schema: {
      summary: 'Readiness: every dependency up, not shutting down',
      description: 'Answers 200 while every dependency of this node (`redis` for `broker.redis`, `postgres` for `store.postgres`) is reachable, and 503 `VIX_ERR_NOT_READY` naming each one that is down, or while the node is shutting down. For a Kubernetes `readinessProbe` and a load balancer\'s health check; it turns 200 within seconds of a dependency coming back.',
      tags: ['realtime'],
      response: { 200: ReadyResponse, 503: NotReadyResponse }
    },
    handler: async (_request, reply) => {
      const answer = readinessAnswer(health.readiness())
      return await reply.code(answer.statusCode).send(answer.body)
    }
  })
}

/**
 * `GET /ws/health` (liveness) and `GET /ws/ready` (readiness: Redis and
 * PostgreSQL up, not shutting down) for load balancers and orchestrators.
 * The umbrella registers it (default on; `health: false` leaves it out).
 *
 * @example
 * await app.register(healthPlugin, { readyPath: '/ready' })
 */
export const healthPlugin = fp(healthPluginImpl, partMeta('vix-realtime-health'))
export default healthPlugin
