import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import type { WebSocketOptions } from '../lib/config.js'
import { ensureHub, type HubPluginOptions } from './hub.js'
import { websocketPlugin } from './websocket.js'
import type { LongPollingOptions } from '../lib/long-polling/options.js'
import { longPollingPlugin } from './long-polling.js'

/** Options of the umbrella plugin: hub options at the top, one key per part (`false` leaves it out). */
export interface VixRealtimeOptions extends HubPluginOptions {
  /** The WebSocket transport (default on). */
  websocket?: WebSocketOptions | false
  /** The long-polling transport, `GET /ws/poll` and `POST /ws/send` (default on). */
  longPolling?: LongPollingOptions | false
}

const vixRealtimeImpl: FastifyPluginAsync<VixRealtimeOptions> = async (fastify, options) => {
  const { websocket: websocketOptions, longPolling: longPollingOptions, ...hubOptions } = options
  await ensureHub(fastify, hubOptions)
  if (websocketOptions !== false) await fastify.register(websocketPlugin, { ...websocketOptions })
  if (longPollingOptions !== false) await fastify.register(longPollingPlugin, { ...longPollingOptions })
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

export { hubPlugin, ensureHub } from './hub.js'
export { websocketPlugin } from './websocket.js'
export type { WebSocketPluginOptions } from './websocket.js'
export { longPollingPlugin } from './long-polling.js'
export type { LongPollingPluginOptions } from './long-polling.js'
export { LongPollManager } from '../lib/long-polling/manager.js'
export type { LongPollingOptions } from '../lib/long-polling/options.js'
export type { RecipientIdResolver } from '../lib/long-polling/bridge.js'
export { Hub } from '../lib/hub.js'
export type { HubOptions, InboundMessage, TypedHandler, RawHandler, HubObserver, Persistence, CatalogueEntry, DispatchResult, RecipientResolver } from '../lib/hub.js'
export { Session, type Transport } from '../lib/session.js'
export { loadConfigFromEnv, type WebSocketOptions, type EnvConfig } from '../lib/config.js'
export { ErrorCodes, CloseCodes } from '../lib/errors.js'
export { ackFrame, errorFrame, systemFrame, type RealtimeMessage, type PublishInput } from '../lib/frames.js'
export * from '../schemas/message.js'
