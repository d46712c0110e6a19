import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import type { WebSocketOptions } from '../lib/websocket/options.js'
import { ensureHub, hubOfApp, refuseHubOptions, type HubPluginOptions } from './hub.js'
import { metricsOptionShape, metricsPlugin, type MetricsPluginOptions } from './metrics.js'
import { openapiPlugin, type OpenApiPluginOptions } from './openapi.js'
import { websocketPlugin } from './websocket.js'
import { hubOptionShape } from '../lib/hub/options.js'
import { checkOptionKeys, type OptionShape } from '../lib/options.js'
import { websocketOptionShape } from '../lib/websocket/options.js'
import { longPollingOptionShape } from '../lib/long-polling/options.js'
import { messageStoreOptionShape } from '../lib/store/options.js'
import { openapiOptionShape } from '../lib/openapi/options.js'
import { messageStorePlugin, type MessageStorePluginOptions } from './message-store.js'
import type { LongPollingOptions } from '../lib/long-polling/options.js'
import { longPollingPlugin } from './long-polling.js'
import { ssePlugin } from './sse.js'
import { sseOptionShape, type SseOptions } from '../lib/sse/options.js'
import { resolveBrokerOption, type BrokerOption } from '../lib/broker/options.js'
import { presencePlugin } from './presence.js'
import { clientScriptOptionShape, clientScriptPlugin, type ClientScriptOptions } from './client-script.js'
import { healthOptionShape, healthPlugin, type HealthPluginOptions } from './health.js'

/** Options of the umbrella plugin: hub options at the top, one key per part (`false` leaves it out). */
export interface VixRealtimeOptions extends Omit<HubPluginOptions, 'broker'> {
  /** Fan-out to other nodes: `{ redis: url | client, prefix }`, or a Broker of your own (default in-process: one node). */
  broker?: BrokerOption
  /** The WebSocket transport (default on). */
  websocket?: WebSocketOptions | false
  /** The long-polling transport, `GET /ws/poll` and `POST /ws/send` (default on). */
  longPolling?: LongPollingOptions | false
  /** The Server-Sent Events transport, `GET /ws/sse` (sends over `POST /ws/send`; default on). */
  sse?: SseOptions | false
  /** Prometheus metrics at `GET /metrics` (default on). */
  metrics?: MetricsPluginOptions | false
  /** OpenAPI docs and Swagger UI (default on, at `/docs`; `{ routePrefix }` moves them). */
  docs?: OpenApiPluginOptions | false
  /** The durable message store, replay and `GET /ws/history` (off unless given). */
  store?: MessageStorePluginOptions | false
  /** The browser client as one ES module at `GET /ws/client.js` (default on; `{ path, maxAge, file }`). */
  clientScript?: ClientScriptOptions | false
  /** Liveness `GET /ws/health` and readiness `GET /ws/ready` (default on; `{ healthPath, readyPath }` move them). */
  health?: HealthPluginOptions | false
}

/**
 * Every key the umbrella takes, at every level: the hub's at the top (`limits`
 * and `presence` are looked into by the hub, `broker` by its resolver), then
 * one shape per part. A key outside it fails boot naming its path.
 */
const vixRealtimeOptionShape: OptionShape = {
  ...hubOptionShape,
  websocket: websocketOptionShape,
  longPolling: longPollingOptionShape,
  sse: sseOptionShape,
  metrics: metricsOptionShape,
  docs: openapiOptionShape,
  store: messageStoreOptionShape,
  clientScript: clientScriptOptionShape,
  health: healthOptionShape
} satisfies Record<keyof VixRealtimeOptions, unknown>

/** The plugin each part key registers, as its refusal of a misplaced hub option names it. */
const partPlugins = { websocket: 'websocketPlugin', longPolling: 'longPollingPlugin', sse: 'ssePlugin', metrics: 'metricsPlugin', store: 'messageStorePlugin', health: 'healthPlugin' } as const

const vixRealtimeImpl: FastifyPluginAsync<VixRealtimeOptions> = async (fastify, options) => {
  // A hub option given to a part is told as such (the hub takes it at the top), before any other unknown key.
  for (const [key, part] of Object.entries(partPlugins)) {
    const partOptions: unknown = options[key as keyof typeof partPlugins]
    if (typeof partOptions === 'object' && partOptions !== null) refuseHubOptions(part, partOptions)
  }
  checkOptionKeys(options, vixRealtimeOptionShape)
  const { websocket: websocketOptions, longPolling: longPollingOptions, sse: sseOptions, metrics: metricsOptions, docs: docsOptions, store: storeOptions, clientScript: clientScriptOptions, health: healthOptions, broker, ...hubOptions } = options
  await ensureHub(fastify, broker === undefined ? hubOptions : { ...hubOptions, broker: resolveBrokerOption(broker, fastify.log) })
  // First after the hub, so @fastify/swagger sees every part's routes as they are declared.
  if (docsOptions !== false) await fastify.register(openapiPlugin, { ...docsOptions })
  // The application's own @fastify/swagger still gets the shared schemas by name and the catalogue.
  else if (fastify.hasDecorator('swagger')) await fastify.register(openapiPlugin, { serve: false })
  if (websocketOptions !== false) await fastify.register(websocketPlugin, { ...websocketOptions })
  if (longPollingOptions !== false) await fastify.register(longPollingPlugin, { ...longPollingOptions })
  if (sseOptions !== false) await fastify.register(ssePlugin, { ...sseOptions })
  if (metricsOptions !== false) await fastify.register(metricsPlugin, { ...metricsOptions })
  if (healthOptions !== false) await fastify.register(healthPlugin, { ...healthOptions })
  if (clientScriptOptions !== false) await fastify.register(clientScriptPlugin, { ...clientScriptOptions })
  if (storeOptions !== undefined && storeOptions !== false) await fastify.register(messageStorePlugin, { ...storeOptions })
  // GET /ws/presence comes with the hub option that turns presence on.
  if (hubOfApp(fastify).presenceTracker !== undefined) await fastify.register(presencePlugin)
}

/**
 * The whole realtime layer in one register: the hub and the parts its options ask for.
 *
 * @example
 * await app.register(vixRealtime, { relayTypes: ['chat.message'] })
 * app.realtime.on('ping', (session) => { ... })
 */
export const vixRealtime = fp(vixRealtimeImpl, { fastify: '5.x', name: 'vix-realtime' })
export default vixRealtime

export { hubPlugin, ensureHub, type HubPluginOptions } from './hub.js'
export { websocketPlugin } from './websocket.js'
export type { WebSocketPluginOptions } from './websocket.js'
export { metricsPlugin, type MetricsPluginOptions } from './metrics.js'
export { RealtimeMetrics, MetricNames, errorReasons, type RealtimeMetricsOptions } from '../lib/metrics.js'
export { openapiPlugin } from './openapi.js'
export type { OpenApiPluginOptions } from './openapi.js'
export { documentCatalogue, type DocumentedMessage } from '../lib/openapi/catalogue.js'
export { messageStorePlugin } from './message-store.js'
export type { MessageStorePluginOptions, MessageStoreOptions } from './message-store.js'
export { SqliteMessageStore, SCHEMA_VERSION, type SqliteMessageStoreOptions, type SynchronousMode } from '../lib/store/sqlite.js'
export { MemoryMessageStore } from '../lib/store/memory.js'
export { StorePersistence, type PersistFilter } from '../lib/store/persistence.js'
export type { RetentionOptions } from '../lib/store/retention.js'
export type { MessageStore, StorableMessage, AppendResult, HistoryPage, ListOptions, ReplayResult, RetentionRule, RoomHead, RoomPosition, PositionedMessage, RoomRange } from '../lib/store/types.js'
export { presencePlugin, type PresencePluginOptions } from './presence.js'
export { clientScriptPlugin, type ClientScriptOptions } from './client-script.js'
export { healthPlugin, type HealthPluginOptions } from './health.js'
export { Health, Dependency, type DependencySpec, type DependencyState, type Readiness } from '../lib/health.js'
export { Presence, type PresenceMember } from '../lib/presence/presence.js'
export type { PresenceOptions } from '../lib/presence/options.js'
export type { ControlMessage } from '../lib/broker/types.js'
export { longPollingPlugin } from './long-polling.js'
export type { LongPollingPluginOptions } from './long-polling.js'
export { ssePlugin, type SsePluginOptions } from './sse.js'
export { SseStreams } from '../lib/sse/streams.js'
export type { SseOptions } from '../lib/sse/options.js'
export { LongPollManager } from '../lib/long-polling/manager.js'
export type { LongPollingOptions, RecipientIdResolver, ServerPublishOptions } from '../lib/long-polling/options.js'
export { Hub } from '../lib/hub/hub.js'
export { Realtime, type RoomsView, type LifecycleView, type SqliteHandle, type PostgresHandle } from '../lib/hub/realtime.js'
export type { ShutdownParticipant } from '../lib/lifecycle.js'
export type { Rejection } from '../lib/hub/options.js'
export type { HubOptions } from '../lib/hub/options.js'
export type { Persistence, PublishSource } from '../lib/hub/pipeline.js'
export type { InboundMessage, TypedHandler, RequestHandler, TypeOptions, RequestOptions, RawHandler, HubObserver, CatalogueEntry, DispatchResult, RecipientResolver } from '../lib/hub/types.js'
export type { Broker, BrokerEvents, Envelope } from '../lib/broker/types.js'
export { InProcessBroker } from '../lib/broker/in-process.js'
export { RedisBroker, type RedisBrokerOptions } from '../lib/broker/redis.js'
export { ShardedRedisBroker, type ShardedRedisBrokerOptions } from '../lib/broker/redis-shards.js'
export { RedisClusterBroker, type RedisClusterBrokerOptions, type ClusterSeed } from '../lib/broker/redis-cluster.js'
export { NatsBroker, type NatsBrokerOptions } from '../lib/broker/nats.js'
export type { BrokerOption } from '../lib/broker/options.js'
export { PostgresMessageStore, POSTGRES_SCHEMA_VERSION, type PostgresMessageStoreOptions } from '../lib/store/postgres.js'
export { Rooms, type RoomEvents } from '../lib/rooms.js'
export { Session, type Transport, type VixRealtimeTypes, type Identity } from '../lib/session.js'
export { loadConfigFromEnv, limitsFromEnv, secretFromEnv, brokerFromEnv, type EnvConfig, type EnvLimitDefaults, type EnvBroker } from '../lib/config.js'
export type { LimitsOptions, SessionRate } from '../lib/limits/options.js'
export type { Rate } from '../lib/limits/token-bucket.js'
export { limitNames, type LimitName } from '../lib/limits/limits.js'
export type { WebSocketOptions } from '../lib/websocket/options.js'
export { ErrorCodes, CloseCodes, codedError } from '../lib/errors.js'
export { redactSessionId, redactUrl, redactCredentials, sessionLogId } from '../lib/redact.js'
export { ackFrame, errorFrame, systemFrame, goingAwayFrame, type RealtimeMessage, type PublishInput } from '../lib/frames.js'
export * from '../schemas/message.js'
