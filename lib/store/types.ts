import type { RealtimeMessage } from '../frames.js'

/** A message the store keeps: a room message with its id. */
export interface StorableMessage extends RealtimeMessage {
  id: string
  room: string
}

/** Result of one append. `duplicate`: a message with that id was already stored in that room; `message` is the stored one. */
export interface AppendResult {
  duplicate: boolean
  message: StorableMessage
  /** The store's monotonic sequence number of the stored message (orders replay). */
  seq: number
}

/** A stored message with its sequence number. */
export interface SequencedMessage {
  seq: number
  message: StorableMessage
}

/** Where a room's history ends: its latest stored message, or null when it has none. */
export interface RoomHead {
  id: string
  seq: number
}

/**
 * Result of a replay request. `recovered: true` carries every message after
 * `afterId`, in order. `recovered: false` carries none: `afterId` is unknown
 * (or pruned), or more than `limit` messages follow it — never a partial replay.
 */
export type ReplayResult =
  | { recovered: true, messages: SequencedMessage[], afterSeq: number, head: RoomHead | null }
  | { recovered: false, reason: 'unknown' | 'too_many', head: RoomHead | null }

export interface ListOptions {
  /** Only messages stored before this id. */
  before?: string
  /** Only messages stored after this id (pages forward from it). */
  after?: string
  limit: number
}

/** A page of history, oldest first. `hasMore`: further messages exist in the paging direction. */
export interface HistoryPage {
  messages: StorableMessage[]
  hasMore: boolean
}

/** Retention of one room: keep at most `maxMessages`, and none older than `maxAge` ms. */
export interface RetentionRule {
  maxMessages?: number
  maxAge?: number
}

/**
 * Durable room history. Appends are idempotent by (room, id); every stored
 * message gets a sequence number that grows with each append and orders
 * replay. Pruning only ever removes the oldest messages of a room, so a
 * replay from a surviving id never has a hole.
 *
 * @example
 * const store: MessageStore = new SqliteMessageStore({ path: './data/messages.db' })
 * const { duplicate } = await store.append({ id: 'c-1', kind: 'event', room: 'general', type: 'chat.message', ts: new Date().toISOString(), payload: {} })
 * const page = await store.listByRoom('general', { limit: 50 })
 */
export interface MessageStore {
  /** Store a message; resolves once it is durable (committed). */
  append (message: StorableMessage): Promise<AppendResult>
  /** A page of a room's history, oldest first. Without `after` the page ends at `before` (or the newest). Throws `VIX_ERR_MESSAGE_NOT_FOUND` for an unknown `before`/`after`. */
  listByRoom (room: string, options: ListOptions): Promise<HistoryPage>
  /** Every message after `afterId`, when it is known and at most `limit` follow it. */
  replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult>
  /** The room's latest stored message, or null. */
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
