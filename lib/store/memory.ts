import { randomUUID } from 'node:crypto'
import { MessageNotFoundError } from '../errors.js'
import { ageCutoff } from './prune-prefix.js'
import { replayDecision } from './replay.js'
import type { AppendResult, HistoryPage, ListOptions, MessageStore, PositionedMessage, ReplayResult, RetentionRule, RoomHead, RoomRange, StorableMessage } from './types.js'

/** A stored message with its sender scope, which stays inside the store. */
interface Entry extends PositionedMessage {
  sender: string
}

interface RoomLog {
  epoch: string
  /** Offset of the room's latest message ever stored; pruning does not lower it. */
  lastOffset: number
  /** Oldest first. Offsets are dense and only a prefix is ever pruned, so entry i has offset `entries[0].offset + i`. */
  entries: Entry[]
  /** By `sender \0 id`: the idempotency key. */
  byKey: Map<string, Entry>
  /** By id, every entry with it, oldest first (several senders may use one id); pruning removes from the front. */
  byId: Map<string, Entry[]>
}

const keyOf = (sender: string, id: string): string => `${sender}\0${id}`
/** The entry without its sender. */
const positioned = (entry: Entry): PositionedMessage => ({ offset: entry.offset, message: entry.message })

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

  async append (message: StorableMessage, sender: string): Promise<AppendResult> {
    if (this.closed) throw new Error('message store (memory) is closed')
    let log = this.logs.get(message.room)
    if (log === undefined) {
      log = { epoch: randomUUID(), lastOffset: 0, entries: [], byKey: new Map(), byId: new Map() }
      this.logs.set(message.room, log)
    }
    const key = keyOf(sender, message.id)
    const existing = log.byKey.get(key)
    if (existing !== undefined) return { duplicate: true, message: existing.message, position: { offset: existing.offset, epoch: log.epoch } }
    // Keep a copy so later changes to the caller's object do not rewrite history.
    const entry: Entry = { offset: ++log.lastOffset, message: structuredClone(message), sender }
    log.entries.push(entry)
    log.byKey.set(key, entry)
    const sameId = log.byId.get(message.id)
    if (sameId === undefined) log.byId.set(message.id, [entry])
    else sameId.push(entry)
    return { duplicate: false, message, position: { offset: entry.offset, epoch: log.epoch } }
  }

  async listByRoom (room: string, options: ListOptions): Promise<HistoryPage> {
    const log = this.logs.get(room)
    const entries = log?.entries ?? []
    const start = options.after === undefined ? 0 : this.indexOf(room, options.after, 'earliest') + 1
    const end = options.before === undefined ? entries.length : this.indexOf(room, options.before, 'latest')
    const range = entries.slice(start, Math.max(start, end))
    const page = options.after !== undefined ? range.slice(0, options.limit) : range.slice(Math.max(0, range.length - options.limit))
    return { messages: page.map(positioned), epoch: log?.epoch ?? null, hasMore: range.length > options.limit }
  }

  /** The stored entry with that id: of several (senders), the earliest or the latest. */
  private withId (log: RoomLog | undefined, id: string, which: 'earliest' | 'latest'): Entry | undefined {
    const sameId = log?.byId.get(id)
    return sameId === undefined ? undefined : sameId[which === 'earliest' ? 0 : sameId.length - 1]
  }

  private indexOf (room: string, id: string, which: 'earliest' | 'latest'): number {
    const log = this.logs.get(room)
    const entry = this.withId(log, id, which)
    if (log === undefined || entry === undefined) throw new MessageNotFoundError(id, room)
    return entry.offset - log.entries[0].offset
  }

  async replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult> {
    const head = await this.latest(room)
    const log = this.logs.get(room)
    const since = this.withId(log, afterId, 'earliest')
    if (log === undefined || since === undefined) return replayDecision(undefined, [], limit, head)
    const start = since.offset - log.entries[0].offset + 1
    const following = log.entries.slice(start, start + limit + 1).map(positioned)
    return replayDecision({ offset: since.offset, epoch: log.epoch }, following, limit, head)
  }

  async readAfter (room: string, afterOffset: number, limit: number): Promise<RoomRange> {
    const log = this.logs.get(room)
    if (log === undefined) return { epoch: null, messages: [] }
    const first = log.entries[0]?.offset ?? log.lastOffset + 1
    const start = Math.max(0, afterOffset + 1 - first)
    return { epoch: log.epoch, messages: log.entries.slice(start, start + Math.max(0, limit)).map(positioned) }
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
    const tooOldBefore = ageCutoff(rule, now)
    let count = 0
    while (count < batchSize && count < log.entries.length) {
      const entry = log.entries[count]
      if (count >= overCount && (tooOldBefore === undefined || entry.message.ts >= tooOldBefore)) break
      count++
    }
    for (const entry of log.entries.splice(0, count)) {
      log.byKey.delete(keyOf(entry.sender, entry.message.id))
      // Offsets are pruned oldest first, so this entry is the first of those with its id.
      const sameId = log.byId.get(entry.message.id) as Entry[]
      if (sameId.length === 1) log.byId.delete(entry.message.id)
      else sameId.shift()
    }
    return count
  }

  async flush (): Promise<void> {}

  async close (): Promise<void> {
    this.closed = true
  }
}
