import type { TransportName } from './connection.js'
import type { VixClientError } from './errors.js'
import type { PresenceDiff } from './presence.js'
import type { JoinAck, VixMessage } from './protocol.js'

/**
 * `closed` until `connect()`; `reconnecting` from the first lost connection until the next open;
 * `unauthorized` (terminal until the next `connect()`) when `getToken` gave no token or the server refused it.
 */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'unauthorized'

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
  /** A room was rejoined after a reconnect, a long-polling gap, or to fill a hole in its positions (`position_gap`). */
  rejoined: (info: JoinAck & { since?: string }) => void
  /**
   * Events of `room` the client will never deliver: a join with `since` was
   * answered `recovered: false` (beyond retention, a new epoch, no store), or
   * a gap in the room's positions could not be filled after
   * `gapRecovery.maxAttempts` rejoins. Emitted once per such hole; the
   * stream goes on after `pos`. Fetch `/ws/history?room=...&after=since` to
   * fill it if the store still has it.
   */
  recovery_failed: (info: RecoveryFailed) => void
  /** The long-polling server dropped frames of this session (buffer overflow); rooms are rejoined with `since`. */
  gap: (info: { dropped: number }) => void
  /**
   * Debug-level: the client noticed a hole in `room`'s positions (an offset
   * jump, another epoch tag, a join ack ahead of the replay) or the server
   * said the room's stream broke (`room.interrupted`). The event that
   * revealed it is not delivered; the room is rejoined from `expected - 1`
   * (its last contiguous position) and the app sees the missing events first,
   * in order. Nothing to do for the app: `recovery_failed` follows only if
   * the hole cannot be filled.
   */
  position_gap: (info: PositionGap) => void
  /**
   * Debug-level: an upgrade probe (a background WebSocket tried while on long
   * polling after a fallback) did not open; the next one is in `retryInMs`.
   * The client is still open on long polling; nothing else is emitted.
   */
  upgrade_failed: (info: { reason: string, status?: number, retryInMs: number }) => void
  /** A presence room's members changed: who joined (first connection) and who left (last connection). `client.presence(room)` has the result. */
  presence: (diff: PresenceDiff) => void
}

/** Payload of `recovery_failed`: what the app will not receive in order, and where the stream resumes. */
export interface RecoveryFailed {
  room: string
  recovered: false
  /** Why: the server answered a join with `since` `recovered: false`, or rejoins did not fill a gap. */
  reason: 'not_recovered' | 'gap_unfilled'
  /** The position (or id) after which events are missing: the `since` to fetch `/ws/history` with. */
  since: string
  /** The room's latest stored message id, as the last join ack said (null without a store or when empty). */
  latestId: string | null
  /** Where the stream goes on: events after this position are delivered (null: the room has no stored event, or the server sends no positions). */
  pos: string | null
  /**
   * What was missed: the events after `after` up to and including `until`
   * (`until` null when unknown); `count` when both are positions of the same
   * epoch, else null (a new epoch: the old history is gone).
   */
  missed: { after: string, until: string | null, count: number | null }
}

/** Payload of the debug-level `position_gap`. */
export interface PositionGap {
  room: string
  /** `jump`: an offset past the next one; `epoch`: another epoch tag; `ack`: a join ack ahead of what was replayed; `interrupted`: the server's `room.interrupted`. */
  reason: 'jump' | 'epoch' | 'ack' | 'interrupted'
  /** The position the client waited for (null when it had none). */
  expected: string | null
  /** The position that arrived instead (null for `interrupted`). */
  got: string | null
}

export type ClientEventName = keyof VixClientEvents

/** The names `on` treats as lifecycle events; every other name is a message type. */
export const lifecycleEvents = new Set<string>([
  'open', 'close', 'state', 'reconnecting', 'going_away', 'transport', 'message', 'system', 'raw', 'error',
  'rejoined', 'recovery_failed', 'gap', 'position_gap', 'presence', 'upgrade_failed'
])
