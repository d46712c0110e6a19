import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { MessageNotFoundError, StoreOpenError } from '../errors.js'
import type { AppendResult, HistoryPage, ListOptions, MessageStore, ReplayResult, RetentionRule, RoomHead, StorableMessage } from './types.js'

/** The schema version this build writes; recorded in `PRAGMA user_version`. */
export const SCHEMA_VERSION = 1

/** Durability of a commit: NORMAL survives a process crash, FULL also survives power loss (one fsync per commit). */
export type SynchronousMode = 'NORMAL' | 'FULL'

export interface SqliteMessageStoreOptions {
  /** Database file; a missing directory is created. `:memory:` for a throwaway store. */
  path: string
  /** Default NORMAL. */
  synchronous?: SynchronousMode
  /** How long to wait for a lock held by another connection before failing, in ms (default 5000). */
  busyTimeout?: number
}

interface Row {
  seq: number
  id: string
  room: string
  kind: string
  type: string
  ts: string
  payload_json: string
}

interface PendingAppend {
  message: StorableMessage
  resolve: (result: AppendResult) => void
  reject: (error: Error) => void
}

/** Version-by-version migrations; index i upgrades a database from version i to i + 1. */
const migrations: string[] = [
  `CREATE TABLE IF NOT EXISTS messages (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL,
     room TEXT NOT NULL,
     kind TEXT NOT NULL,
     type TEXT NOT NULL,
     ts TEXT NOT NULL,
     payload_json TEXT NOT NULL
   );
   CREATE UNIQUE INDEX IF NOT EXISTS messages_room_id ON messages (room, id);
   CREATE INDEX IF NOT EXISTS messages_room_seq ON messages (room, seq);`
]

const COLUMNS = 'seq, id, room, kind, type, ts, payload_json'

function toMessage (row: Row): StorableMessage {
  return { id: row.id, kind: row.kind as StorableMessage['kind'], room: row.room, type: row.type, ts: row.ts, payload: JSON.parse(row.payload_json) }
}

/**
 * The message store on SQLite (better-sqlite3, WAL). Appends that arrive in
 * the same turn of the event loop are committed in one transaction (group
 * commit) and each append resolves only after that commit.
 *
 * @example
 * const store = new SqliteMessageStore({ path: './data/messages.db', synchronous: 'FULL' })
 * await store.append({ id: 'c-1', kind: 'event', room: 'general', type: 'chat.message', ts: new Date().toISOString(), payload: { text: 'hi' } })
 * await store.close()
 */
export class SqliteMessageStore implements MessageStore {
  readonly path: string
  /** Transactions committed by group commit (a batch of appends is one). */
  commits = 0
  private readonly db: Database.Database
  private pending: PendingAppend[] = []
  private scheduled: NodeJS.Immediate | undefined
  private closed = false
  private readonly statements
  private readonly commitBatch: (batch: PendingAppend[]) => AppendResult[]

  constructor (options: SqliteMessageStoreOptions) {
    this.path = options.path
    this.db = openDatabase(options)
    const db = this.db
    this.statements = {
      insert: db.prepare('INSERT OR IGNORE INTO messages (id, room, kind, type, ts, payload_json) VALUES (?, ?, ?, ?, ?, ?)'),
      byId: db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM messages WHERE room = ? AND id = ?`),
      head: db.prepare<[string], RoomHead>('SELECT seq, id FROM messages WHERE room = ? ORDER BY seq DESC LIMIT 1'),
      forward: db.prepare<[string, number, number, number], Row>(`SELECT ${COLUMNS} FROM messages WHERE room = ? AND seq > ? AND seq < ? ORDER BY seq LIMIT ?`),
      backward: db.prepare<[string, number, number, number], Row>(`SELECT ${COLUMNS} FROM messages WHERE room = ? AND seq > ? AND seq < ? ORDER BY seq DESC LIMIT ?`),
      // Walks room names through the index one at a time instead of scanning the table.
      nextRoom: db.prepare<[string], { room: string }>('SELECT room FROM messages WHERE room > ? ORDER BY room LIMIT 1'),
      oldest: db.prepare<[string, number], { seq: number, ts: string }>('SELECT seq, ts FROM messages WHERE room = ? ORDER BY seq LIMIT ?'),
      countCutoff: db.prepare<[string, number], { seq: number }>('SELECT seq FROM messages WHERE room = ? ORDER BY seq DESC LIMIT 1 OFFSET ?'),
      deleteUpTo: db.prepare('DELETE FROM messages WHERE room = ? AND seq <= ?')
    }
    const { insert, byId } = this.statements
    this.commitBatch = db.transaction((batch: PendingAppend[]) => batch.map(({ message }): AppendResult => {
      const info = insert.run(message.id, message.room, message.kind, message.type, message.ts, JSON.stringify(message.payload))
      if (info.changes === 1) return { duplicate: false, message, seq: Number(info.lastInsertRowid) }
      const row = byId.get(message.room, message.id) as Row
      return { duplicate: true, message: toMessage(row), seq: row.seq }
    }))
  }

  append (message: StorableMessage): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error(`message store at "${this.path}" is closed`))
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject })
      // setImmediate (not nextTick) so every append of this event-loop turn, including
      // those from other sockets' I/O callbacks, joins the same transaction.
      this.scheduled ??= setImmediate(() => { this.commitPending() })
    })
  }

  private commitPending (): void {
    clearImmediate(this.scheduled)
    this.scheduled = undefined
    const batch = this.pending
    if (batch.length === 0) return
    this.pending = []
    let results: AppendResult[]
    try {
      results = this.commitBatch(batch)
      this.commits++
    } catch (error) {
      for (const entry of batch) entry.reject(error as Error)
      return
    }
    for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i])
  }

  async listByRoom (room: string, options: ListOptions): Promise<HistoryPage> {
    const afterSeq = options.after === undefined ? 0 : this.seqOf(room, options.after)
    const beforeSeq = options.before === undefined ? Number.MAX_SAFE_INTEGER : this.seqOf(room, options.before)
    if (options.after !== undefined) {
      const rows = this.statements.forward.all(room, afterSeq, beforeSeq, options.limit + 1)
      return { messages: rows.slice(0, options.limit).map(toMessage), hasMore: rows.length > options.limit }
    }
    const rows = this.statements.backward.all(room, afterSeq, beforeSeq, options.limit + 1)
    return { messages: rows.slice(0, options.limit).reverse().map(toMessage), hasMore: rows.length > options.limit }
  }

  private seqOf (room: string, id: string): number {
    const row = this.statements.byId.get(room, id)
    if (row === undefined) throw new MessageNotFoundError(id, room)
    return row.seq
  }

  async replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult> {
    const since = this.statements.byId.get(room, afterId)
    const head = this.statements.head.get(room) ?? null
    if (since === undefined) return { recovered: false, reason: 'unknown', head }
    const rows = this.statements.forward.all(room, since.seq, Number.MAX_SAFE_INTEGER, limit + 1)
    if (rows.length > limit) return { recovered: false, reason: 'too_many', head }
    return { recovered: true, messages: rows.map((row) => ({ seq: row.seq, message: toMessage(row) })), afterSeq: since.seq, head }
  }

  async latest (room: string): Promise<RoomHead | null> {
    return this.statements.head.get(room) ?? null
  }

  async rooms (): Promise<string[]> {
    const names: string[] = []
    let row = this.statements.nextRoom.get('')
    while (row !== undefined) {
      names.push(row.room)
      row = this.statements.nextRoom.get(row.room)
    }
    return names
  }

  async prune (room: string, rule: RetentionRule, now: number, batchSize: number): Promise<number> {
    const countCutoff = rule.maxMessages === undefined ? undefined : this.statements.countCutoff.get(room, rule.maxMessages)?.seq
    const ageCutoff = rule.maxAge === undefined ? undefined : new Date(now - rule.maxAge).toISOString()
    // Only a prefix of the room is deleted, so a surviving id is always followed by every later message.
    let upTo: number | undefined
    for (const row of this.statements.oldest.all(room, batchSize)) {
      const tooMany = countCutoff !== undefined && row.seq <= countCutoff
      const tooOld = ageCutoff !== undefined && row.ts < ageCutoff
      if (!tooMany && !tooOld) break
      upTo = row.seq
    }
    if (upTo === undefined) return 0
    return this.statements.deleteUpTo.run(room, upTo).changes
  }

  async flush (): Promise<void> {
    this.commitPending()
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.commitPending()
    // Fold the WAL back into the database so the -wal file is gone once closed.
    this.db.pragma('wal_checkpoint(TRUNCATE)')
    this.db.close()
  }

  /** Run `PRAGMA integrity_check`; returns 'ok' when the file is sound. */
  integrityCheck (): string {
    return this.db.pragma('integrity_check', { simple: true }) as string
  }
}

/** Open (creating when needed) and migrate the database; any failure names the path. */
function openDatabase (options: SqliteMessageStoreOptions): Database.Database {
  const synchronous = options.synchronous ?? 'NORMAL'
  let db: Database.Database | undefined
  try {
    if (options.path !== ':memory:') mkdirSync(dirname(resolve(options.path)), { recursive: true })
    db = new Database(options.path, { timeout: options.busyTimeout ?? 5000 })
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    const database = db
    // IMMEDIATE takes the write lock even when nothing needs migrating, so a
    // database locked by someone else fails boot instead of the first publish.
    database.transaction(() => {
      const version = database.pragma('user_version', { simple: true }) as number
      if (version > SCHEMA_VERSION) throw new Error(`schema version ${version} is newer than this build supports (${SCHEMA_VERSION})`)
      for (let next = version; next < SCHEMA_VERSION; next++) database.exec(migrations[next])
      if (version !== SCHEMA_VERSION) database.pragma(`user_version = ${SCHEMA_VERSION}`)
    }).immediate()
    return db
  } catch (error) {
    db?.close()
    throw new StoreOpenError(options.path, (error as Error).message)
  }
}
