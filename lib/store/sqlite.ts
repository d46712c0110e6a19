import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type Database from 'better-sqlite3'
import { MessageNotFoundError, StoreOpenError } from '../errors.js'
import { GroupCommit } from './group-commit.js'
import { prunePrefixEnd } from './prune-prefix.js'
import { LEGACY_SENDER, MESSAGE_COLUMNS, fromColumn, messageOfRow, toPositioned, type MessageColumns, type PendingAppend } from './rows.js'
import { replayDecision } from './replay.js'
import { RoomCounters } from './room-counters.js'
import type { AppendResult, HistoryPage, ListOptions, MessageStore, ReplayResult, RetentionRule, RoomHead, RoomRange, StorableMessage } from './types.js'
import { optionalPackage } from '../optional.js'

const sqliteDriver = optionalPackage<typeof Database>('better-sqlite3', 'store')

/** The schema version this build writes; recorded in `PRAGMA user_version`. */
export const SCHEMA_VERSION = 4

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

interface Row extends MessageColumns {
  offset: number
}

interface RoomRow {
  epoch: string
  last_offset: number
}

/** Version-by-version migrations; index i upgrades a database from version i to i + 1. */
const migrations: Array<(db: Database.Database) => void> = [
  (db) => db.exec(`CREATE TABLE IF NOT EXISTS messages (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL,
     room TEXT NOT NULL,
     kind TEXT NOT NULL,
     type TEXT NOT NULL,
     ts TEXT NOT NULL,
     payload_json TEXT NOT NULL
   );
   CREATE UNIQUE INDEX IF NOT EXISTS messages_room_id ON messages (room, id);
   CREATE INDEX IF NOT EXISTS messages_room_seq ON messages (room, seq);`),
  // Room positions. The table is rebuilt rather than altered so that "offset"
  // has no default: an insert that forgot it fails instead of storing 0.
  (db) => {
    db.exec(`CREATE TABLE messages_v2 (
       id TEXT NOT NULL,
       room TEXT NOT NULL,
       "offset" INTEGER NOT NULL,
       kind TEXT NOT NULL,
       type TEXT NOT NULL,
       ts TEXT NOT NULL,
       payload_json TEXT NOT NULL
     );
     INSERT INTO messages_v2 (id, room, "offset", kind, type, ts, payload_json)
       SELECT id, room, ROW_NUMBER() OVER (PARTITION BY room ORDER BY seq), kind, type, ts, payload_json FROM messages ORDER BY seq;
     DROP TABLE messages;
     DELETE FROM sqlite_sequence WHERE name = 'messages';
     ALTER TABLE messages_v2 RENAME TO messages;
     CREATE UNIQUE INDEX messages_room_id ON messages (room, id);
     CREATE UNIQUE INDEX messages_room_offset ON messages (room, "offset");
     CREATE TABLE rooms (room TEXT PRIMARY KEY, epoch TEXT NOT NULL, last_offset INTEGER NOT NULL) WITHOUT ROWID;`)
    // A fresh epoch: these offsets are new, no client or node can hold one of them yet.
    const insertRoom = db.prepare('INSERT INTO rooms (room, epoch, last_offset) VALUES (?, ?, ?)')
    const heads = db.prepare<[], { room: string, last: number }>('SELECT room, MAX("offset") AS last FROM messages GROUP BY room').all()
    for (const { room, last } of heads) insertRoom.run(room, randomUUID(), last)
  },
  // The sender as the server saw it; NULL for a message without one, which is what every older row is.
  (db) => db.exec('ALTER TABLE messages ADD COLUMN from_json TEXT'),
  // Idempotency per sender: the key becomes (room, sender, id). Older rows get the scope 'legacy' (the
  // default, so no row is rewritten), which no caller appends under: no new message is a duplicate of one.
  // The unique index leads with (room, id) so that it also serves the lookups by id (replay, history paging).
  (db) => db.exec(`ALTER TABLE messages ADD COLUMN sender TEXT NOT NULL DEFAULT '${LEGACY_SENDER}';
     DROP INDEX messages_room_id;
     CREATE UNIQUE INDEX messages_room_id_sender ON messages (room, id, sender);`)
]

/**
 * The message store on SQLite (better-sqlite3, WAL). Appends that arrive in
 * the same turn of the event loop are committed in one transaction (group
 * commit) and each append resolves only after that commit. Room offsets come
 * from the `rooms` table, read and advanced inside that write transaction, so
 * several stores (connections, processes) on one file share one dense sequence
 * per room.
 *
 * @example
 * const store = new SqliteMessageStore({ path: './data/messages.db', synchronous: 'FULL' })
 * const { position } = await store.append({ id: 'c-1', kind: 'event', room: 'general', type: 'chat.message', ts: new Date().toISOString(), payload: { text: 'hi' } }, 'id:ada')
 * await store.close()
 */
export class SqliteMessageStore implements MessageStore {
  readonly path: string
  /** The store's database (`transaction()` runs the application's transaction on it). */
  readonly db: Database.Database
  private readonly statements
  /** Every append of one turn of the event loop in one transaction (no batch limit). */
  private readonly appends: GroupCommit<PendingAppend, AppendResult>
  /** Reads of several statements run in one read transaction, so they see one snapshot even while other connections commit. */
  private readonly snapshot: <T>(read: () => T) => T

  constructor (options: SqliteMessageStoreOptions) {
    this.path = options.path
    this.db = openDatabase(options)
    const db = this.db
    this.statements = {
      insert: db.prepare<[string, string, number, string, string, string, string, string | null, string]>(`INSERT INTO messages (${MESSAGE_COLUMNS}, sender) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room, id, sender) DO NOTHING`),
      room: db.prepare<[string], RoomRow>('SELECT epoch, last_offset FROM rooms WHERE room = ?'),
      saveRoom: db.prepare<[string, string, number]>('INSERT INTO rooms (room, epoch, last_offset) VALUES (?, ?, ?) ON CONFLICT (room) DO UPDATE SET last_offset = excluded.last_offset'),
      // Several senders may have used an id: `since`/`after` take the earliest, `before` the latest (see MessageStore).
      earliestWithId: db.prepare<[string, string], { offset: number, epoch: string }>('SELECT m."offset", r.epoch FROM messages m JOIN rooms r ON r.room = m.room WHERE m.room = ? AND m.id = ? ORDER BY m."offset" LIMIT 1'),
      latestWithId: db.prepare<[string, string], { offset: number }>('SELECT "offset" FROM messages WHERE room = ? AND id = ? ORDER BY "offset" DESC LIMIT 1'),
      // Within a batch the room's row may not be written yet: the epoch comes from the batch's counter.
      stored: db.prepare<[string, string, string], Row>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND id = ? AND sender = ?`),
      head: db.prepare<[string], RoomHead>('SELECT m.id, m."offset", r.epoch FROM messages m JOIN rooms r ON r.room = m.room WHERE m.room = ? ORDER BY m."offset" DESC LIMIT 1'),
      forward: db.prepare<[string, number, number, number], Row>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND "offset" > ? AND "offset" < ? ORDER BY "offset" LIMIT ?`),
      backward: db.prepare<[string, number, number, number], Row>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND "offset" > ? AND "offset" < ? ORDER BY "offset" DESC LIMIT ?`),
      // Walks room names through the index one at a time instead of scanning the table.
      nextRoom: db.prepare<[string], { room: string }>('SELECT room FROM messages WHERE room > ? ORDER BY room LIMIT 1'),
      oldest: db.prepare<[string, number], { offset: number, ts: string }>('SELECT "offset", ts FROM messages WHERE room = ? ORDER BY "offset" LIMIT ?'),
      countCutoff: db.prepare<[string, number], { offset: number }>('SELECT "offset" FROM messages WHERE room = ? ORDER BY "offset" DESC LIMIT 1 OFFSET ?'),
      // The rooms row stays: offsets keep growing after the room is emptied.
      deleteUpTo: db.prepare<[string, number]>('DELETE FROM messages WHERE room = ? AND "offset" <= ?')
    }
    const commitBatch = db.transaction((batch: PendingAppend[]) => this.storeIn(batch))
    this.appends = new GroupCommit({
      // IMMEDIATE: a deferred transaction starts as a read, and cannot become a write once another
      // connection has committed since (SQLITE_BUSY at once, the busy timeout does not apply).
      commit: (batch) => commitBatch.immediate(batch),
      closedError: () => new Error(`message store at "${this.path}" is closed`)
    })
    const read = db.transaction((run: () => unknown) => run())
    this.snapshot = <T>(run: () => T): T => read(run) as T
  }

  /**
   * Runs inside a write transaction (a group-commit batch's, or the
   * application's for `publishIn`; BEGIN IMMEDIATE, so the database write
   * lock is held from the first read): a room's counter is read once per
   * batch, advanced in memory per stored message, and written back once. No
   * other writer can commit in between, so offsets follow commit order.
   */
  storeIn (batch: PendingAppend[]): AppendResult[] {
    const { insert, room: roomRow, saveRoom, stored } = this.statements
    const counters = new RoomCounters()
    const results = batch.map(({ message, sender }): AppendResult => {
      let counter = counters.get(message.room)
      if (counter === undefined) {
        const row = roomRow.get(message.room)
        counter = counters.open(message.room, row === undefined ? undefined : { epoch: row.epoch, last: row.last_offset })
      }
      // ON CONFLICT names (room, id, sender) only: a clash on (room, offset) would be a bug and must fail the batch, not vanish.
      const from = fromColumn(message)
      if (insert.run(message.id, message.room, counters.nextOffset(counter), message.kind, message.type, message.ts, JSON.stringify(message.payload), from, sender).changes === 1) {
        return counters.stored(counter, message)
      }
      const row = stored.get(message.room, message.id, sender) as Row
      return counters.duplicate(counter, messageOfRow(row), row.offset)
    })
    for (const [room, counter] of counters.advanced()) saveRoom.run(room, counter.epoch, counter.last)
    return results
  }

  /** Transactions committed by group commit (a batch of appends is one). */
  get commits (): number {
    return this.appends.commits
  }

  append (message: StorableMessage, sender: string): Promise<AppendResult> {
    return this.appends.add({ message, sender })
  }

  async listByRoom (room: string, options: ListOptions): Promise<HistoryPage> {
    return this.snapshot((): HistoryPage => {
      const afterOffset = options.after === undefined ? 0 : this.offsetOf(room, options.after, this.statements.earliestWithId)
      const beforeOffset = options.before === undefined ? Number.MAX_SAFE_INTEGER : this.offsetOf(room, options.before, this.statements.latestWithId)
      const epoch = this.statements.room.get(room)?.epoch ?? null
      const forward = options.after !== undefined
      const rows = (forward ? this.statements.forward : this.statements.backward).all(room, afterOffset, beforeOffset, options.limit + 1)
      const page = rows.slice(0, options.limit).map(toPositioned)
      return { messages: forward ? page : page.reverse(), epoch, hasMore: rows.length > options.limit }
    })
  }

  private offsetOf (room: string, id: string, lookup: Database.Statement<[string, string], { offset: number }>): number {
    const row = lookup.get(room, id)
    if (row === undefined) throw new MessageNotFoundError(id, room)
    return row.offset
  }

  async replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult> {
    return this.snapshot((): ReplayResult => {
      const since = this.statements.earliestWithId.get(room, afterId)
      const head = this.statements.head.get(room) ?? null
      const rows = since === undefined ? [] : this.statements.forward.all(room, since.offset, Number.MAX_SAFE_INTEGER, limit + 1)
      return replayDecision(since, rows.map(toPositioned), limit, head)
    })
  }

  async readAfter (room: string, afterOffset: number, limit: number): Promise<RoomRange> {
    return this.snapshot((): RoomRange => {
      const epoch = this.statements.room.get(room)?.epoch ?? null
      if (epoch === null) return { epoch, messages: [] }
      return { epoch, messages: this.statements.forward.all(room, afterOffset, Number.MAX_SAFE_INTEGER, limit).map(toPositioned) }
    })
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
    const countCutoff = rule.maxMessages === undefined ? undefined : this.statements.countCutoff.get(room, rule.maxMessages)?.offset
    const upTo = prunePrefixEnd(this.statements.oldest.all(room, batchSize), rule, now, countCutoff)
    if (upTo === undefined) return 0
    return this.statements.deleteUpTo.run(room, upTo).changes
  }

  async flush (): Promise<void> {
    await this.appends.flush()
  }

  async close (): Promise<void> {
    if (this.appends.closed) return
    await this.appends.close()
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
  const Driver = sqliteDriver()
  let db: Database.Database | undefined
  try {
    if (options.path !== ':memory:') mkdirSync(dirname(resolve(options.path)), { recursive: true })
    db = new Driver(options.path, { timeout: options.busyTimeout ?? 5000 })
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    const database = db
    // IMMEDIATE takes the write lock even when nothing needs migrating, so a
    // database locked by someone else fails boot instead of the first publish.
    database.transaction(() => {
      const version = database.pragma('user_version', { simple: true }) as number
      if (version > SCHEMA_VERSION) throw new Error(`schema version ${version} is newer than this build supports (${SCHEMA_VERSION})`)
      for (let next = version; next < SCHEMA_VERSION; next++) migrations[next](database)
      if (version !== SCHEMA_VERSION) database.pragma(`user_version = ${SCHEMA_VERSION}`)
    }).immediate()
    return db
  } catch (error) {
    db?.close()
    throw new StoreOpenError(options.path, (error as Error).message)
  }
}
