import type { RealtimeMessage } from '../frames.js'

/** A message the store keeps: a room message with its id. */
export interface StorableMessage extends RealtimeMessage {
  id: string
  room: string
}

/**
 * Where a stored message sits in its room's history. This pair, not the
 * message id, is what replay and cross-node delivery order by.
 */
export interface RoomPosition {
  /** 1 for a room's first message in its epoch, then +1 per message, in commit order. */
  offset: number
  /** The generation of the room's history; a new epoch means the offsets started again. */
  epoch: string
}

/** Result of one append. `duplicate`: the same sender already stored a message with that id in that room; `message` and `position` are the stored one's. */
export interface AppendResult {
  duplicate: boolean
  message: StorableMessage
  position: RoomPosition
}

/** A stored message with its offset in its room. */
export interface PositionedMessage {
  offset: number
  message: StorableMessage
}

/** Where a room's history ends: its latest stored message and its position, or null when the room has none. */
export interface RoomHead extends RoomPosition {
  id: string
}

/**
 * Result of a replay request. `recovered: true` carries every message after
 * `afterId` (the earliest stored message with that id), in offset order, and the position of `afterId` itself.
 * `recovered: false` carries none: `afterId` is unknown (or pruned), or more
 * than `limit` messages follow it — never a partial replay.
 */
export type ReplayResult =
  | { recovered: true, messages: PositionedMessage[], after: RoomPosition, head: RoomHead | null }
  | { recovered: false, reason: 'unknown' | 'too_many', head: RoomHead | null }

/** Messages of one room after an offset (`readAfter`), with the epoch they belong to (null: the room never had a message; a room emptied by retention keeps its epoch). */
export interface RoomRange {
  epoch: string | null
  messages: PositionedMessage[]
}

export interface ListOptions {
  /** Only messages stored before this id (of several with that id: the latest one). */
  before?: string
  /** Only messages stored after this id, paging forward from it (of several with that id: the earliest one). */
  after?: string
  limit: number
}

/**
 * A page of history, oldest first, each message with its offset. `epoch`: the
 * room's epoch, which every offset of the page belongs to (null: the room never
 * had a message). `hasMore`: further messages exist in the paging direction.
 */
export interface HistoryPage {
  messages: PositionedMessage[]
  epoch: string | null
  hasMore: boolean
}

/** Retention of one room: keep at most `maxMessages`, and none older than `maxAge` ms. */
export interface RetentionRule {
  maxMessages?: number
  maxAge?: number
}

/**
 * Durable room history, shared by every node that uses the same database.
 *
 * The contract every implementation keeps (and `test/store-interface.test.ts`
 * checks for each of them):
 * - **Offsets are dense and in commit order per room.** The n-th message
 *   committed to a room (in its epoch) has offset n. An offset is assigned in
 *   the transaction that inserts the message, so a reader that has seen offset
 *   n has seen, or can read, every offset below it: no gap, ever, whatever
 *   number of writers (connections, processes, nodes) append concurrently.
 * - **A caller's appends to one room commit in call order.** If `append(a, s)`
 *   is called before `append(b, s)` and both are for one room, `a` is committed
 *   no later than `b` and gets the lower offset, even when neither was awaited.
 *   The hub relies on this to let a client's next frame start before its
 *   previous message committed. Across rooms there is no such order: the
 *   PostgreSQL store commits batches of different rooms side by side.
 * - **Idempotent by client id per sender within a room.** Appending a
 *   message whose (room, sender, id) is stored returns `duplicate: true` with
 *   the stored message and its position, and stores nothing. Another sender's
 *   message with an equal id is stored and positioned like any other: one
 *   sender's id never suppresses another's. `sender` is an opaque scope
 *   (`id:<identityKey>`, `session:<hash>`, `server`, `http`); the store keeps
 *   it beside the message and never returns it (not in the message, not in
 *   history or replay). Rows stored before sender scopes existed (SQLite schema
 *   < 4, PostgreSQL < 3), or by an older build that does not name one, have the
 *   scope `legacy`, which no caller uses: such a row is kept, positioned and
 *   replayed as before, but no new append is a duplicate of it.
 * - **An id names one message for lookups even when several senders used it.**
 *   A lookup by id (`replayFrom`'s `afterId`, `listByRoom`'s `after` and
 *   `before`) resolves it so that nothing is skipped: `afterId` and `after` mean
 *   the earliest stored message with that id in the room (lowest offset),
 *   `before` the latest (highest offset). An ambiguous id can so bring back
 *   messages the caller already has, never hide one; a position (offset and
 *   epoch) is exact.
 * - **The epoch of a room is stable** until its history is reset (a new
 *   database): then offsets start again at 1 under a new epoch. Pruning by
 *   retention does not reset: offsets keep growing. (A known limit: a store
 *   cannot tell that its file was restored from a backup, whose old epochs
 *   come back with lower offsets; nodes that ran on the newer file must be
 *   restarted with it.)
 * - **Pruning only removes a room's oldest messages**, so a replay from a
 *   surviving id never has a hole.
 * - **An append resolves only once it is durable** (committed); a failed
 *   commit rejects every append it carried, and nothing of it is stored.
 *
 * @example
 * const store: MessageStore = new SqliteMessageStore({ path: './data/messages.db' })
 * const { position } = await store.append({ id: 'c-1', kind: 'event', room: 'general', type: 'chat.message', ts: new Date().toISOString(), payload: {} }, 'id:ada')
 * const page = await store.listByRoom('general', { limit: 50 })
 */
export interface MessageStore {
  /**
   * Store a message sent by `sender` (its idempotency scope: a duplicate is an
   * equal (room, sender, id)); resolves once it is durable (committed), with its room position.
   */
  append (message: StorableMessage, sender: string): Promise<AppendResult>
  /** A page of a room's history with offsets, oldest first. Without `after` the page ends at `before` (or the newest). Throws `VIX_ERR_MESSAGE_NOT_FOUND` for an unknown `before`/`after`. */
  listByRoom (room: string, options: ListOptions): Promise<HistoryPage>
  /** Every message after `afterId` (the earliest with that id), when it is known and at most `limit` follow it. */
  replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult>
  /**
   * Up to `limit` messages of the room with an offset above `afterOffset`, in offset order (gap repair between nodes).
   * The first one can be above `afterOffset + 1` only when retention pruned the ones between: they are gone, not still to come.
   */
  readAfter (room: string, afterOffset: number, limit: number): Promise<RoomRange>
  /** The room's latest stored message and its position, or null (also when retention emptied the room). */
  latest (room: string): Promise<RoomHead | null>
  /** Names of the rooms that have stored messages. */
  rooms (): Promise<string[]>
  /** Delete up to `batchSize` of the room's oldest messages that break `rule` at time `now` (ms); returns how many. */
  prune (room: string, rule: RetentionRule, now: number, batchSize: number): Promise<number>
  /** Resolves once every append made so far is committed. */
  flush (): Promise<void>
  /** Commit what is pending and release the store; later appends reject. Idempotent. */
  close (): Promise<void>
}
