import type { TransportName } from './connection.js'
import type { VixClientError } from './errors.js'
import type { PresenceDiff } from './presence.js'
import type { JoinAck, VixMessage } from './protocol.js'

/** `closed` until `connect()`; `reconnecting` from the first lost connection until the next open. */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** Lifecycle events of {@link VixClient}. Any other name given to `on` is a message type. */
export interface VixClientEvents {
  /** A connection opened: rooms were rejoined and unacked publishes resent. */
  open: (info: { transport: TransportName }) => void
  /** An open connection ended. */
  close: (info: { code: number, reason: string, transport: TransportName, willReconnect: boolean }) => void
  state: (state: ClientState, previous: ClientState) => void
  /** A reconnection attempt is scheduled after `delay` ms. */
  reconnecting: (info: { attempt: number, delay: number, transport: TransportName }) => void
  /** The server is shutting down; the client reconnects after `retryAfterMs` (plus jitter). */
  going_away: (info: { retryAfterMs: number }) => void
  /**
   * The client switched transport: WebSocket → long polling (a fallback, while
   * connecting) or long polling → WebSocket (the upgrade probe opened; the
   * client stayed `open`, rooms were rejoined with `since` on the new socket).
   */
  transport: (transport: TransportName, previous: TransportName) => void
  /** Every event frame, after duplicates were dropped. */
  message: (message: VixMessage) => void
  /** Every system frame (`server.going_away`...). */
  system: (message: VixMessage) => void
  /** A frame that is not a typed message: non-JSON text, or binary (an ArrayBuffer). */
  raw: (data: string | ArrayBuffer) => void
  /**
   * Error frames without a waiting request, failed rejoins, failed connection
   * attempts, reconnection given up, throwing listeners (`VIX_ERR_CLIENT_LISTENER`,
   * the thrown value as `cause`): always a {@link VixClientError} with a `code`.
   */
  error: (error: VixClientError) => void
  /** A room was rejoined after a reconnect (or a long-polling gap). */
  rejoined: (info: JoinAck & { since?: string }) => void
  /** A join with `since` could not be replayed: fetch `/ws/history?room=...&after=since` to fill the gap. */
  recovery_failed: (info: { room: string, since: string, latestId: string | null }) => void
  /** The long-polling server dropped frames of this session (buffer overflow); rooms are rejoined with `since`. */
  gap: (info: { dropped: number }) => void
  /**
   * Debug-level: an upgrade probe (a background WebSocket tried while on long
   * polling after a fallback) did not open; the next one is in `retryInMs`.
   * The client is still open on long polling; nothing else is emitted.
   */
  upgrade_failed: (info: { reason: string, status?: number, retryInMs: number }) => void
  /** A presence room's members changed: who joined (first connection) and who left (last connection). `client.presence(room)` has the result. */
  presence: (diff: PresenceDiff) => void
}

export type ClientEventName = keyof VixClientEvents

/** The names `on` treats as lifecycle events; every other name is a message type. */
export const lifecycleEvents = new Set<string>([
  'open', 'close', 'state', 'reconnecting', 'going_away', 'transport', 'message', 'system', 'raw', 'error',
  'rejoined', 'recovery_failed', 'gap', 'presence', 'upgrade_failed'
])
