import { randomUUID } from 'node:crypto'
import { MessageNotFoundError } from '../errors.js'
import type { AppendResult, HistoryPage, ListOptions, MessageStore, PositionedMessage, ReplayResult, RetentionRule, RoomHead, RoomRange, StorableMessage } from './types.js'

interface RoomLog {
  epoch: string
  /** Offset of the room's latest message ever stored; pruning does not lower it. */
  lastOffset: number
  /** Oldest first. Offsets are dense and only a prefix is ever pruned, so entry i has offset `entries[0].offset + i`. */
  entries: PositionedMessage[]
  byId: Map<string, PositionedMessage>
}

/**
 * A message store in process memory with the same contract as the SQLite
 * one: for tests and ephemeral rooms. Nothing survives a restart, so every
 * instance gives its rooms new epochs.
 *
 * @example
 * const store = new MemoryMessageStore()
 * await app.register(messageStorePlugin, { store })
 */
export class MemoryMessageStore implements MessageStore {
  /** Kept for emptied rooms too, so that their offsets keep growing. */
  private readonly logs = new Map<string, RoomLog>()
  private closed = false

  async append (message: StorableMessage): Promise<AppendResult> {
    if (this.closed) throw new Error('message store (memory) is closed')
    let log = this.logs.get(message.room)
    if (log === undefined) {
      log = { epoch: randomUUID(), lastOffset: 0, entries: [], byId: new Map() }
      this.logs.set(message.room, log)
    }
    const existing = log.byId.get(message.id)
    if (existing !== undefined) return { duplicate: true, message: existing.message, position: { offset: existing.offset, epoch: log.epoch } }
    // Keep a copy so later changes to the caller's object do not rewrite history.
    const entry: PositionedMessage = { offset: ++log.lastOffset, message: structuredClone(message) }
    log.entries.push(entry)
    log.byId.set(message.id, entry)
    return { duplicate: false, message, position: { offset: entry.offset, epoch: log.epoch } }
  }

  async listByRoom (room: string, options: ListOptions): Promise<HistoryPage> {
    const entries = this.logs.get(room)?.entries ?? []
    const start = options.after === undefined ? 0 : this.indexOf(room, options.after) + 1
    const end = options.before === undefined ? entries.length : this.indexOf(room, options.before)
    const range = entries.slice(start, Math.max(start, end))
    const page = options.after !== undefined ? range.slice(0, options.limit) : range.slice(Math.max(0, range.length - options.limit))
    return { messages: page.map((entry) => entry.message), hasMore: range.length > options.limit }
  }

  private indexOf (room: string, id: string): number {
    const log = this.logs.get(room)
    const entry = log?.byId.get(id)
    if (log === undefined || entry === undefined) throw new MessageNotFoundError(id, room)
    return entry.offset - log.entries[0].offset
  }

  async replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult> {
    const head = await this.latest(room)
    const log = this.logs.get(room)
    const since = log?.byId.get(afterId)
    if (log === undefined || since === undefined) return { recovered: false, reason: 'unknown', head }
    const following = log.entries.slice(since.offset - log.entries[0].offset + 1)
    if (following.length > limit) return { recovered: false, reason: 'too_many', head }
    return { recovered: true, messages: following, after: { offset: since.offset, epoch: log.epoch }, head }
  }

  async readAfter (room: string, afterOffset: number, limit: number): Promise<RoomRange> {
    const log = this.logs.get(room)
    if (log === undefined) return { epoch: null, messages: [] }
    const first = log.entries[0]?.offset ?? log.lastOffset + 1
    const start = Math.max(0, afterOffset + 1 - first)
    return { epoch: log.epoch, messages: log.entries.slice(start, start + Math.max(0, limit)) }
  }

  async latest (room: string): Promise<RoomHead | null> {
    const log = this.logs.get(room)
    const last = log?.entries[log.entries.length - 1]
    return log === undefined || last === undefined ? null : { id: last.message.id, offset: last.offset, epoch: log.epoch }
  }

  async rooms (): Promise<string[]> {
    return [...this.logs].filter(([, log]) => log.entries.length > 0).map(([room]) => room).sort()
  }

  async prune (room: string, rule: RetentionRule, now: number, batchSize: number): Promise<number> {
    const log = this.logs.get(room)
    if (log === undefined) return 0
    const overCount = rule.maxMessages === undefined ? 0 : Math.max(0, log.entries.length - rule.maxMessages)
    const ageCutoff = rule.maxAge === undefined ? undefined : new Date(now - rule.maxAge).toISOString()
    let count = 0
    while (count < batchSize && count < log.entries.length) {
      const entry = log.entries[count]
      if (count >= overCount && (ageCutoff === undefined || entry.message.ts >= ageCutoff)) break
      count++
    }
    for (const entry of log.entries.splice(0, count)) log.byId.delete(entry.message.id)
    return count
  }

  async flush (): Promise<void> {}

  async close (): Promise<void> {
    this.closed = true
  }
}
