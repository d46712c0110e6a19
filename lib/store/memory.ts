import { MessageNotFoundError } from '../errors.js'
import type { AppendResult, HistoryPage, ListOptions, MessageStore, ReplayResult, RetentionRule, RoomHead, SequencedMessage, StorableMessage } from './types.js'

interface RoomLog {
  /** Oldest first; seq grows along it. */
  entries: SequencedMessage[]
  byId: Map<string, SequencedMessage>
}

/**
 * A message store in process memory with the same contract as the SQLite
 * one: for tests and ephemeral rooms. Nothing survives a restart.
 *
 * @example
 * const store = new MemoryMessageStore()
 * await app.register(messageStorePlugin, { store })
 */
export class MemoryMessageStore implements MessageStore {
  private readonly logs = new Map<string, RoomLog>()
  private seq = 0
  private closed = false

  async append (message: StorableMessage): Promise<AppendResult> {
    if (this.closed) throw new Error('message store (memory) is closed')
    let log = this.logs.get(message.room)
    if (log === undefined) {
      log = { entries: [], byId: new Map() }
      this.logs.set(message.room, log)
    }
    const existing = log.byId.get(message.id)
    if (existing !== undefined) return { duplicate: true, message: existing.message, seq: existing.seq }
    // Keep a copy so later changes to the caller's object do not rewrite history.
    const entry: SequencedMessage = { seq: ++this.seq, message: structuredClone(message) }
    log.entries.push(entry)
    log.byId.set(message.id, entry)
    return { duplicate: false, message, seq: entry.seq }
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
    return log.entries.indexOf(entry)
  }

  async replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult> {
    const head = await this.latest(room)
    const log = this.logs.get(room)
    const since = log?.byId.get(afterId)
    if (log === undefined || since === undefined) return { recovered: false, reason: 'unknown', head }
    const following = log.entries.slice(log.entries.indexOf(since) + 1)
    if (following.length > limit) return { recovered: false, reason: 'too_many', head }
    return { recovered: true, messages: following, afterSeq: since.seq, head }
  }

  async latest (room: string): Promise<RoomHead | null> {
    const entries = this.logs.get(room)?.entries
    const last = entries?.[entries.length - 1]
    return last === undefined ? null : { id: last.message.id, seq: last.seq }
  }

  async rooms (): Promise<string[]> {
    return [...this.logs.keys()].sort()
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
    if (log.entries.length === 0) this.logs.delete(room)
    return count
  }

  async flush (): Promise<void> {}

  async close (): Promise<void> {
    this.closed = true
  }
}
