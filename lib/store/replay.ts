import type { PositionedMessage, ReplayResult, RoomHead, RoomPosition } from './types.js'

/**
 * The replay decision every store makes alike, once it has read, in one
 * snapshot: the position of the since id (`undefined` when no message with
 * it is stored in the room), up to `limit + 1` messages after it in offset
 * order, and the room's head. All of them, or none (never a partial replay).
 */
export function replayDecision (since: RoomPosition | undefined, following: PositionedMessage[], limit: number, head: RoomHead | null): ReplayResult {
  if (since === undefined) return { recovered: false, reason: 'unknown', head }
  if (following.length > limit) return { recovered: false, reason: 'too_many', head }
  return { recovered: true, messages: following, after: since, head }
}
