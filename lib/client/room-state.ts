import { ClientErrorCodes } from './errors.js'
import type { Pending, PendingGroup } from './pending.js'
import { formatPosition, parsePosition, type Position } from './position.js'
import type { JoinAck, VixMessage } from './protocol.js'
import type { RecentIds } from './recent-ids.js'

// What `JoinedRooms` (rooms.ts) and `RoomGaps` (room-gaps.ts) know of a room.

/** A hole in a room's positions being filled by rejoins. */
export interface GapRecovery {
  /** Rejoins sent (or due) for this hole so far. */
  attempts_: number
  /** The backoff timer of the next rejoin, while one waits. */
  timer_?: unknown
}

export interface RoomState {
  /** Id of the last event delivered in this room: the `since` of the next join when the room has no positions. */
  lastSeen_?: string
  /**
   * The last contiguous position delivered (or the join ack's baseline): the
   * `since` of the next join. `undefined`: unknown (no position yet, or the
   * server sends none): the first position seen becomes the baseline;
   * `null`: the room has no stored event, so offset 1 comes next.
   */
  pos_?: Position | null
  /** The latest stored id the last join ack named. */
  latestId_: string | null
  recent_: RecentIds
  joins_: PendingGroup<JoinAck>
  /** Id of the join in flight on the current connection. */
  joinId_?: string
  /** Events of this room that arrived while its join was in flight: processed against the ack. */
  held_: VixMessage[]
  /** Acked at least once (a later join is a rejoin). */
  joined_: boolean
  /** The hole being filled, if any: at most one rejoin in flight or waiting per room. */
  gap_?: GapRecovery
  /** The furthest position seen past the hole: where the stream resumes if it cannot be filled. */
  ahead_?: Position
  /** A hole was found in the events just processed. */
  holeSeen_: boolean
  /** `room.interrupted` arrived while the join was in flight: rejoin once it is acked. */
  interrupted_: boolean
  /** Deadline of a gap rejoin's ack: past it, the next attempt. */
  ackTimer_?: unknown
  /** Rejoins in a row refused by a passing condition (the node's store down, shutting down...): the backoff of the next. */
  retries_: number
  /** The timer of that next rejoin. */
  retryTimer_?: unknown
}

export type RoomRequest =
  | { kind_: 'join', room_: string, since_?: string, rejoin_: boolean }
  | { kind_: 'leave', room_: string, left_: Pending<void> }

/**
 * Codes that say "not now" rather than "no": a rejoin refused with one is
 * sent again with capped backoff, keeping the room and its position (the
 * node's database link may be down; another node or a later try will answer).
 */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'VIX_ERR_STORE_UNAVAILABLE', 'VIX_ERR_INTERNAL', 'VIX_ERR_RATE_LIMITED', 'VIX_ERR_SHUTTING_DOWN', 'VIX_ERR_SERVER_FULL', 'VIX_ERR_NOT_READY', ClientErrorCodes.TIMEOUT
])

/** Events held per room while its join is in flight; past it the newest are dropped (the next one's offset jumps, and a rejoin brings them back). */
export const HOLD_LIMIT = 10_000

export function joinAckOf (frame: VixMessage, room: string): JoinAck {
  const payload = frame.payload as Partial<JoinAck>
  const ack: JoinAck = {
    room,
    recovered: payload.recovered === true,
    replayed: typeof payload.replayed === 'number' ? payload.replayed : 0,
    latestId: typeof payload.latestId === 'string' ? payload.latestId : null
  }
  // Servers that send positions say `pos` (null for a room without stored events); older ones say nothing.
  if (typeof payload.pos === 'string' || payload.pos === null) ack.pos = payload.pos
  return ack
}

/** The `since` of a room's next join: its last contiguous position, else the last id seen. */
export function sinceOf (state: RoomState): string | undefined {
  const position = state.pos_ === undefined || state.pos_ === null ? null : formatPosition(state.pos_)
  return position ?? state.lastSeen_
}

/** How many events lie after `after` up to and including `until`, when both are positions of one epoch. */
export function countBetween (after: string, until: string | null): number | null {
  const from = parsePosition(after)
  const to = parsePosition(until)
  if (to === null) return null
  if (after === '') return to.offset
  if (from === null || from.tag !== to.tag) return null
  return Math.max(0, to.offset - from.offset)
}

/** The position expected after `last`, as text (null when unknown). */
export function expectedAfter (last: Position | null | undefined): string | null {
  if (last === undefined || last === null) return null
  return `${last.offset + 1}.${last.tag}`
}
