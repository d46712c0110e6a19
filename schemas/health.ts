import { Type, type Static } from '@sinclair/typebox'

/** State of one dependency in a readiness answer. */
export const DependencyStateSchema = Type.Union([Type.Literal('up'), Type.Literal('down')], { description: '`up`: reachable; `down`: unreachable, or not reached yet' })

const Dependencies = Type.Record(Type.String(), DependencyStateSchema, {
  description: 'Each dependency of this node by name (`redis` for `broker.redis`, `postgres` for `store.postgres`); empty on a node with neither'
})

/** Body of `GET /ws/health`. */
export const HealthResponse = Type.Object({
  status: Type.Literal('ok')
}, {
  title: 'HealthResponse',
  description: 'The process is alive and answers HTTP (a liveness probe): whatever the state of Redis and PostgreSQL',
  examples: [{ status: 'ok' }]
})
export type HealthResponseValue = Static<typeof HealthResponse>

/** Body of `GET /ws/ready` when the node is ready. */
export const ReadyResponse = Type.Object({
  status: Type.Literal('ready'),
  dependencies: Dependencies
}, {
  title: 'ReadyResponse',
  description: 'Every dependency is up and the node is not shutting down: send it traffic',
  examples: [{ status: 'ready', dependencies: { redis: 'up', postgres: 'up' } }]
})
export type ReadyResponseValue = Static<typeof ReadyResponse>

/** What a 503 of `GET /ws/ready` adds to the shared error body. */
export const NotReadyFields = Type.Object({
  status: Type.Literal('not_ready'),
  dependencies: Dependencies,
  shuttingDown: Type.Optional(Type.Literal(true, { description: 'Present while the node is shutting down (after `requestStop`)' }))
}, { title: 'NotReadyFields' })

const notReadyExample = { statusCode: 503, code: 'VIX_ERR_NOT_READY', error: 'Service Unavailable', message: 'Not ready: redis down', status: 'not_ready', dependencies: { redis: 'down', postgres: 'up' } }

/** The 503 answer of `GET /ws/ready`: the shared error body (`VIX_ERR_NOT_READY`) and the readiness fields, with the body the server sends as its example. */
export const NotReadyResponse = {
  description: 'A dependency is down or the node is shutting down (VIX_ERR_NOT_READY): send it no new traffic. The process stays up and retries; the answer turns 200 once every dependency is back',
  content: {
    'application/json': {
      schema: { allOf: [{ $ref: 'VixErrorResponse#' }, NotReadyFields] },
      examples: { VIX_ERR_NOT_READY: { summary: 'VIX_ERR_NOT_READY', value: notReadyExample } }
    }
  }
}
export type NotReadyResponseValue = Static<typeof NotReadyFields> & { statusCode: 503, code: 'VIX_ERR_NOT_READY', error: string, message: string }
