/**
 * vix-realtime's client (`import { VixClient } from 'vix-realtime/client'`).
 * Browser-safe: no Node import; in Node 20 pass the `ws` package's WebSocket.
 * Names private to these modules (class members, internal records) end in
 * `_`: the browser bundle shortens every such property (scripts/build-client.mjs),
 * so nothing a user or the wire sees may end in `_`.
 */
export { VixClient } from './client.js'
export type { ClientState, ClientEventName, VixClientEvents, RecoveryFailed, PositionGap } from './events.js'
export type { VixClientOptions, LongPollingClientOptions, GapRecoveryOptions, TransportOption } from './options.js'
export type { EventSourceLike, EventSourceConstructor } from './sse-connection.js'
export type { RequestOptions } from './requests.js'
export { parsePosition, formatPosition, type Position } from './position.js'
export { VixClientError, ClientErrorCodes, type ClientErrorCode, type VixClientErrorCode, type VixClientErrorDetails } from './errors.js'
export { backoffDelay, goingAwayDelay, reconnectDefaults, type ReconnectOptions } from './backoff.js'
export type { VixMessage, JoinAck, PublishAck, OutgoingMessage, FrameKind } from './protocol.js'
export type { TransportName } from './connection.js'
export type { WebSocketLike, WebSocketConstructor } from './websocket-connection.js'
export type { FetchLike, ResponseLike, HeadersOption } from './long-polling-connection.js'
export type { Timers } from './timers.js'
export type { PresenceMember, PresenceDiff } from './presence.js'
