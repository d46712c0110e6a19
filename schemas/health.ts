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

/** Body of `GET /ws/ready` when the node is not ready (503). */
export const NotReadyResponse = Type.Object({
  status: Type.Literal('not_ready'),
  code: Type.Literal('VIX_ERR_NOT_READY'),
  message: Type.String({ description: 'What is not ready, in words' }),
  dependencies: Dependencies,
  shuttingDown: Type.Optional(Type.Literal(true, { description: 'Present while the node is shutting down (after `requestStop`)' }))
}, {
  title: 'NotReadyResponse',
  description: 'A dependency is down or the node is shutting down: send it no new traffic. The process stays up and retries; the answer turns 200 once every dependency is back',
  examples: [{ status: 'not_ready', code: 'VIX_ERR_NOT_READY', message: 'Not ready: redis down', dependencies: { redis: 'down', postgres: 'up' } }]
})
export type NotReadyResponseValue = Static<typeof NotReadyResponse>
