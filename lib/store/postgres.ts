import type pg from 'pg'
import { InvalidOptionError, MessageNotFoundError, StoreUnavailableError } from '../errors.js'
import { isUnavailable, migrate, quoteIdent } from './postgres-schema.js'
import { GroupCommit } from './group-commit.js'
import { prunePrefixEnd } from './prune-prefix.js'
import { MESSAGE_COLUMNS, toPositioned, type MessageColumns, type PendingAppend } from './rows.js'
import { replayDecision } from './replay.js'
import { PostgresAppend } from './postgres-append.js'
import type { AppendResult, HistoryPage, ListOptions, MessageStore, ReplayResult, RetentionRule, RoomHead, RoomRange, StorableMessage } from './types.js'
import { optionalPackage } from '../optional.js'

const pgDriver = optionalPackage<typeof pg>('pg', 'store.postgres')

export { POSTGRES_SCHEMA_VERSION } from './postgres-schema.js'

export interface PostgresMessageStoreOptions {
  /** A `postgres://` URL; the store opens (and closes) its own pool. */
  connectionString?: string
  /** A pool of the app's instead; the store uses it and leaves it open on close. */
  pool?: pg.Pool
  /** The schema that holds the tables (default `public`); created when missing. */
  schema?: string
  /** Connections of the store's own pool (default 10). */
  maxConnections?: number
  /** How long getting a connection may take before an append fails `VIX_ERR_STORE_UNAVAILABLE`, in ms (default 5000). */
  connectionTimeout?: number
  /** Most appends committed in one transaction (default 500). */
  maxBatch?: number
  /**
   * Most batches committing at once, on rooms no other of them holds (default
   * 4): a room's appends commit one batch after the other, in call order, and
   * another room's go ahead meanwhile. 1 commits one batch at a time.
   */
  maxInFlight?: number
}

interface Row extends MessageColumns {
  offset: string
}

/** Deadlock or serialization failure: the transaction did nothing and can simply run again. */
const retryable = (error: unknown): boolean => ['40P01', '40001'].includes((error as { code?: string }).code ?? '')

/**
 * The message store on PostgreSQL, for several nodes sharing one history.
 * Appends queue up while a commit is in flight and go in the next one (group
 * commit, one transaction per batch); a room's batches commit one after the
 * other, so its appends commit in call order, while batches on other rooms
 * commit beside it (up to `maxInFlight`); a batch is one call of the schema's
 * `vix_append` function, one round trip. A room's offset counter is
 * a `vix_rooms` row locked in the inserting transaction and held until it
 * commits, so offsets follow commit order across every node. A database that cannot be reached makes
 * appends fail `VIX_ERR_STORE_UNAVAILABLE` (503); the pool reconnects by itself.
 *
 * @example
 * const store = new PostgresMessageStore({ connectionString: 'postgres://127.0.0.1/test', schema: 'chat' })
 * const { position } = await store.append({ id: 'c-1', kind: 'event', room: 'general', type: 'chat.message', ts: new Date().toISOString(), payload: { text: 'hi' } }, 'id:ada')
 * await store.close()
 */
export class PostgresMessageStore implements MessageStore {
  readonly schema: string
  /** The store's pool (`transaction()` runs on it). */
  readonly pool: pg.Pool
  private readonly ownsPool: boolean
  private readonly t: { rooms: string, messages: string }
  private readonly appendCall: PostgresAppend
  /** A room's batches one at a time: what arrives while its commit is in flight goes in its next one, in call order; other rooms' beside it. */
  private readonly appends: GroupCommit<PendingAppend, AppendResult>
  private schemaReady: Promise<void> | null = null
  /** Told of every failure to reach the database (the health monitor marks PostgreSQL down at once). */
  onUnavailable: ((error: unknown) => void) | undefined
  private readonly onPoolError = (): void => {}
  private readonly onConnect = (client: pg.PoolClient): void => { client.on('error', this.onPoolError) }

  constructor (options: PostgresMessageStoreOptions) {
    const maxInFlight = options.maxInFlight ?? 4
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new InvalidOptionError('maxInFlight', `expected an integer of 1 or more, got ${String(maxInFlight)}`)
    this.schema = options.schema ?? 'public'
    this.appends = new GroupCommit({
      commit: (batch) => this.commitBatch(batch),
      closedError: () => new Error(`message store (postgres schema "${this.schema}") is closed`),
      maxBatch: options.maxBatch ?? 500,
      key: (append) => append.message.room,
      maxInFlight
    })
    this.ownsPool = options.pool === undefined
    this.pool = options.pool ?? new (pgDriver().Pool)({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectionTimeout ?? 5000
    })
    // An idle connection that breaks (the database restarts) is dropped by the pool; unheard, the event would crash the process.
    this.pool.on('error', this.onPoolError)
    // A connection that breaks while checked out also emits 'error' on its client (besides failing the query): unheard, that crashes too.
    this.pool.on('connect', this.onConnect)
    const s = quoteIdent(this.schema)
    this.t = { rooms: `${s}.vix_rooms`, messages: `${s}.vix_messages` }
    this.appendCall = new PostgresAppend(s)
  }

  /** Create or migrate the schema (once; again after a failure). Every operation waits for it. */
  ready (): Promise<void> {
    this.schemaReady ??= this.withClient((client) => migrate(client, this.schema)).catch((error: unknown) => {
      this.schemaReady = null
      throw error
    })
    return this.schemaReady
  }

  private async withClient<T> (run: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      throw this.unavailable(error)
    }
    let broken: Error | undefined
    try {
      return await run(client)
    } catch (error) {
      // A connection that failed mid-transaction must not go back to the pool.
      if (isUnavailable(error)) broken = error as Error
      throw this.unavailable(error)
    } finally {
      client.release(broken)
    }
  }

  /** One round trip on a pooled connection (the schema made first): resolves when the database answers, rejects `VIX_ERR_STORE_UNAVAILABLE` when it cannot be reached. */
  async ping (): Promise<void> {
    await this.ready()
    await this.withClient(async (client) => { await client.query('SELECT 1') })
  }

  private unavailable (error: unknown): unknown {
    if (!isUnavailable(error)) return error
    this.onUnavailable?.(error)
    const coded = new StoreUnavailableError((error as Error).message)
    coded.cause = error
    return coded
  }

  /** A read in one snapshot (REPEATABLE READ), so its statements agree even while other nodes commit. */
  private async snapshot<T> (read: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready()
    return await this.withClient(async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      try {
        const result = await read(client)
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        throw error
      }
    })
  }

  private async query<R extends pg.QueryResultRow> (text: string, values: unknown[]): Promise<R[]> {
    await this.ready()
    return await this.withClient(async (client) => (await client.query<R>(text, values)).rows)
  }

  /** Transactions committed by group commit (a batch of appends is one). */
  get commits (): number {
    return this.appends.commits
  }

  append (message: StorableMessage, sender: string): Promise<AppendResult> {
    return this.appends.add({ message, sender })
  }

  private async commitBatch (batch: PendingAppend[]): Promise<AppendResult[]> {
    await this.ready()
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withClient((client) => this.storeIn(client, batch))
      } catch (error) {
        if (attempt >= 3 || !retryable(error)) throw error
      }
    }
  }

  /**
   * A batch's append inside a transaction the caller opened and ends (the
   * application's own, for `publishIn`), or on its own as one autocommit call
   * (a group-commit batch): one round trip either way (see `vix_append`). The
   * rooms' counters stay locked until that transaction ends, so offsets
   * follow commit order across every node. With `notify` (a channel), each
   * advanced room's doorbell rings in the same transaction.
   */
  async storeIn (client: pg.ClientBase, batch: PendingAppend[], notify?: string): Promise<AppendResult[]> {
    return await this.appendCall.run(client, batch, notify)
  }

  async listByRoom (room: string, options: ListOptions): Promise<HistoryPage> {
    return await this.snapshot(async (client): Promise<HistoryPage> => {
      const afterOffset = options.after === undefined ? 0 : await this.offsetOf(client, room, options.after, 'earliest')
      const beforeOffset = options.before === undefined ? Number.MAX_SAFE_INTEGER : await this.offsetOf(client, room, options.before, 'latest')
      const epoch = (await client.query<{ epoch: string }>(`SELECT epoch FROM ${this.t.rooms} WHERE room = $1`, [room])).rows[0]?.epoch ?? null
      const forward = options.after !== undefined
      const rows = (await client.query<Row>(
        `SELECT ${MESSAGE_COLUMNS} FROM ${this.t.messages} WHERE room = $1 AND "offset" > $2 AND "offset" < $3 ORDER BY "offset" ${forward ? 'ASC' : 'DESC'} LIMIT $4`,
        [room, afterOffset, beforeOffset, options.limit + 1])).rows
      const page = rows.slice(0, options.limit).map(toPositioned)
      return { messages: forward ? page : page.reverse(), epoch, hasMore: rows.length > options.limit }
    })
  }

  /** The offset of a stored message with that id; several senders may have used it: `since`/`after` take the earliest, `before` the latest (see MessageStore). */
  private async offsetOf (client: pg.PoolClient, room: string, id: string, which: 'earliest' | 'latest'): Promise<number> {
    const row = (await client.query<{ offset: string }>(
      `SELECT "offset" FROM ${this.t.messages} WHERE room = $1 AND id = $2 ORDER BY "offset" ${which === 'earliest' ? 'ASC' : 'DESC'} LIMIT 1`, [room, id])).rows[0]
    if (row === undefined) throw new MessageNotFoundError(id, room)
    return Number(row.offset)
  }

  private async head (client: pg.PoolClient, room: string): Promise<RoomHead | null> {
    const row = (await client.query<{ id: string, offset: string, epoch: string }>(
      `SELECT m.id, m."offset", r.epoch FROM ${this.t.messages} m JOIN ${this.t.rooms} r ON r.room = m.room WHERE m.room = $1 ORDER BY m."offset" DESC LIMIT 1`,
      [room])).rows[0]
    return row === undefined ? null : { id: row.id, offset: Number(row.offset), epoch: row.epoch }
  }

  async replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult> {
    return await this.snapshot(async (client): Promise<ReplayResult> => {
      const head = await this.head(client, room)
      const since = (await client.query<{ offset: string, epoch: string }>(
        `SELECT m."offset", r.epoch FROM ${this.t.messages} m JOIN ${this.t.rooms} r ON r.room = m.room WHERE m.room = $1 AND m.id = $2 ORDER BY m."offset" LIMIT 1`,
        [room, afterId])).rows[0]
      if (since === undefined) return replayDecision(undefined, [], limit, head)
      const rows = (await client.query<Row>(
        `SELECT ${MESSAGE_COLUMNS} FROM ${this.t.messages} WHERE room = $1 AND "offset" > $2 ORDER BY "offset" LIMIT $3`,
        [room, since.offset, limit + 1])).rows
      return replayDecision({ offset: Number(since.offset), epoch: since.epoch }, rows.map(toPositioned), limit, head)
    })
  }

  async readAfter (room: string, afterOffset: number, limit: number): Promise<RoomRange> {
    return await this.snapshot(async (client): Promise<RoomRange> => {
      const epoch = (await client.query<{ epoch: string }>(`SELECT epoch FROM ${this.t.rooms} WHERE room = $1`, [room])).rows[0]?.epoch ?? null
      if (epoch === null) return { epoch, messages: [] }
      const rows = (await client.query<Row>(
        `SELECT ${MESSAGE_COLUMNS} FROM ${this.t.messages} WHERE room = $1 AND "offset" > $2 ORDER BY "offset" LIMIT $3`,
        [room, afterOffset, limit])).rows
      return { epoch, messages: rows.map(toPositioned) }
    })
  }

  async latest (room: string): Promise<RoomHead | null> {
    await this.ready()
    return await this.withClient((client) => this.head(client, room))
  }

  async rooms (): Promise<string[]> {
    const rows = await this.query<{ room: string }>(`SELECT DISTINCT room COLLATE "C" AS room FROM ${this.t.messages} ORDER BY 1`, [])
    return rows.map((row) => row.room)
  }

  /**
   * Prune under a transaction-scoped advisory lock per schema: when another
   * node is pruning, this one deletes nothing (returns 0) instead of racing it.
   */
  async prune (room: string, rule: RetentionRule, now: number, batchSize: number): Promise<number> {
    await this.ready()
    return await this.withClient(async (client) => {
      await client.query('BEGIN')
      try {
        const lock = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [`vix-realtime:retention:${this.schema}`])
        const deleted = lock.rows[0].locked ? await this.pruneLocked(client, room, rule, now, batchSize) : 0
        await client.query('COMMIT')
        return deleted
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        throw error
      }
    })
  }

  private async pruneLocked (client: pg.PoolClient, room: string, rule: RetentionRule, now: number, batchSize: number): Promise<number> {
    const countCutoff = rule.maxMessages === undefined
      ? undefined
      : (await client.query<{ offset: string }>(`SELECT "offset" FROM ${this.t.messages} WHERE room = $1 ORDER BY "offset" DESC LIMIT 1 OFFSET $2`, [room, rule.maxMessages])).rows[0]?.offset
    const oldest = await client.query<{ offset: string, ts: string }>(`SELECT "offset", ts FROM ${this.t.messages} WHERE room = $1 ORDER BY "offset" LIMIT $2`, [room, batchSize])
    const upTo = prunePrefixEnd(oldest.rows, rule, now, countCutoff === undefined ? undefined : Number(countCutoff))
    if (upTo === undefined) return 0
    // The rooms row stays: offsets keep growing after the room is emptied.
    return (await client.query(`DELETE FROM ${this.t.messages} WHERE room = $1 AND "offset" <= $2`, [room, upTo])).rowCount ?? 0
  }

  async flush (): Promise<void> {
    await this.appends.flush()
  }

  async close (): Promise<void> {
    if (this.appends.closed) return
    await this.appends.close()
    this.pool.off('error', this.onPoolError)
    this.pool.off('connect', this.onConnect)
    if (this.ownsPool) await this.pool.end()
  }
}
