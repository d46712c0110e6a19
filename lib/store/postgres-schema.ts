import type { PoolClient } from 'pg'
import { appendFunctionSql } from './postgres-append.js'
import { LEGACY_SENDER } from './rows.js'

/** The schema version this build writes; recorded in `<schema>.vix_schema_version`. */
export const POSTGRES_SCHEMA_VERSION = 4

/** Quote an SQL identifier (a schema name from the options). */
export function quoteIdent (name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Version-by-version migrations; index i upgrades a schema from version i to i + 1. `s` is the quoted schema. */
const migrations: Array<(s: string) => string> = [
  // "offset" has no default, so an insert that forgot it fails instead of storing 0.
  // payload and ts are kept as the text that was sent, so a message reads back exactly as stored.
  (s) => `
    CREATE TABLE ${s}.vix_rooms (
      room TEXT PRIMARY KEY,
      epoch TEXT NOT NULL,
      last_offset BIGINT NOT NULL
    );
    CREATE TABLE ${s}.vix_messages (
      room TEXT NOT NULL,
      "offset" BIGINT NOT NULL,
      id TEXT NOT NULL,
      kind TEXT NOT NULL,
      type TEXT NOT NULL,
      ts TEXT NOT NULL,
      payload_json TEXT NOT NULL,
      PRIMARY KEY (room, "offset"),
      UNIQUE (room, id)
    );`,
  // The sender as the server saw it; NULL for a message without one, which is what every older row is.
  (s) => `ALTER TABLE ${s}.vix_messages ADD COLUMN from_json TEXT;`,
  // Idempotency per sender: the key becomes (room, sender, id). Older rows get the scope 'legacy' through the
  // column's default (a constant default rewrites no row), which no caller appends under: no new message is a
  // duplicate of one; a node of the previous build still running inserts under it too. The key leads with
  // (room, id) so that its index also serves the lookups by id (replay, history paging).
  (s) => `
    ALTER TABLE ${s}.vix_messages ADD COLUMN sender TEXT NOT NULL DEFAULT '${LEGACY_SENDER}';
    ALTER TABLE ${s}.vix_messages DROP CONSTRAINT vix_messages_room_id_key;
    ALTER TABLE ${s}.vix_messages ADD CONSTRAINT vix_messages_room_id_sender_key UNIQUE (room, id, sender);`,
  // A batch's append in one call (one round trip): no table changes, so a node of the previous build keeps appending alongside.
  (s) => appendFunctionSql(s)
]

/**
 * Create the schema and its tables when missing and run the migrations this
 * build knows, in one transaction under an advisory lock: several nodes
 * starting at once on an empty database migrate it once. A schema newer than
 * this build is refused.
 */
export async function migrate (client: PoolClient, schema: string): Promise<void> {
  const s = quoteIdent(schema)
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`vix-realtime:migrate:${schema}`])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.vix_schema_version (version INTEGER NOT NULL)`)
    const row = (await client.query<{ version: number }>(`SELECT version FROM ${s}.vix_schema_version`)).rows[0]
    const version = row?.version ?? 0
    if (version > POSTGRES_SCHEMA_VERSION) throw new Error(`schema version ${version} is newer than this build (${POSTGRES_SCHEMA_VERSION})`)
    for (let v = version; v < POSTGRES_SCHEMA_VERSION; v++) await client.query(migrations[v](s))
    if (row === undefined) await client.query(`INSERT INTO ${s}.vix_schema_version (version) VALUES ($1)`, [POSTGRES_SCHEMA_VERSION])
    else if (version !== POSTGRES_SCHEMA_VERSION) await client.query(`UPDATE ${s}.vix_schema_version SET version = $1`, [POSTGRES_SCHEMA_VERSION])
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
}

/** SQLSTATE classes and socket errors that mean "the database is not reachable now", not "this request is wrong". */
export function isUnavailable (error: unknown): boolean {
  const { code, message } = error as { code?: unknown, message?: unknown }
  if (typeof code === 'string') {
    // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now; 53: insufficient resources.
    if (code.startsWith('08') || code.startsWith('57P') || code.startsWith('53')) return true
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code)) return true
  }
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection timeout/i.test(message)
}
