import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { Session } from '../plugins/index.js'
import { demoPublicInfo } from './identity.js'

/** `room.topic.set`: a new topic for a room the sender is in, over the topic `version` it saw (0: none yet). */
export const SetTopicPayload = Type.Object({
  room: Type.String({ minLength: 1, maxLength: 200 }),
  text: Type.String({ minLength: 1, maxLength: 200 }),
  version: Type.Integer({ minimum: 0 })
}, { additionalProperties: false })

/** The answer: `applied`, and the room's topic version now (the sender's, or the one that got there first). */
export const SetTopicReply = Type.Object({ applied: Type.Boolean(), version: Type.Integer({ minimum: 0 }) })

interface TopicChange { room: string, text: string, version: number, from: { name: string } }

/** Thrown inside the transaction when another change took the version first: rolls it back, announcement included. */
class TopicConflict extends Error {}

/** A unique violation: PostgreSQL's 23505, SQLite's SQLITE_CONSTRAINT_PRIMARYKEY. */
const isConflict = (error: unknown): boolean => ['23505', 'SQLITE_CONSTRAINT_PRIMARYKEY'].includes((error as { code?: string }).code ?? '')

/**
 * Room topics, kept in a table of the app's own (`topic_changes`, one row per
 * version of a room's topic) in the store's database, and announced to the
 * room (`room.topic`) in the same transaction: the row and the announcement
 * commit together or not at all. A change over a stale version (someone else
 * changed the topic meanwhile) fails on the table's primary key after the
 * announcement was written, so the whole transaction rolls back and no
 * member ever sees it. SQLite (one node) runs it synchronously; with
 * `DATABASE_URL` it is a PostgreSQL transaction and every node delivers it.
 */
export function registerRoomTopics (app: FastifyInstance, postgresSchema: string | undefined): void {
  const table = postgresSchema === undefined ? 'topic_changes' : `"${postgresSchema}".vix_example_topic_changes`
  const create = `CREATE TABLE IF NOT EXISTS ${table} (room TEXT NOT NULL, version INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (room, version))`
  const insert = postgresSchema === undefined ? `INSERT INTO ${table} (room, version, text) VALUES (?, ?, ?)` : `INSERT INTO ${table} (room, version, text) VALUES ($1, $2, $3)`
  const latest = postgresSchema === undefined ? `SELECT MAX(version) AS version FROM ${table} WHERE room = ?` : `SELECT MAX(version) AS version FROM ${table} WHERE room = $1`
  const announce = (change: TopicChange): { room: string, type: string, from: { name: string }, payload: { text: string, version: number } } =>
    ({ room: change.room, type: 'room.topic', from: change.from, payload: { text: change.text, version: change.version } })

  if (postgresSchema === undefined) app.realtime.transaction((db: SqliteDb) => db.prepare(create).run())
  const sqlite = (change: TopicChange): number => app.realtime.transaction((db: SqliteDb) => {
    try {
      app.realtime.publishIn(db, announce(change))
      db.prepare(insert).run(change.room, change.version, change.text)
    } catch (error) {
      throw isConflict(error) ? new TopicConflict() : error
    }
    return change.version
  })

  let created: Promise<void> | null = null
  const postgres = async (change: TopicChange): Promise<number> => {
    created ??= app.realtime.transaction(async (client: PgClient) => { await client.query(create) }).catch((error: unknown) => { created = null; throw error })
    await created
    return await app.realtime.transaction(async (client: PgClient) => {
      await app.realtime.publishIn(client, announce(change))
      try {
        await client.query(insert, [change.room, change.version, change.text])
      } catch (error) {
        throw isConflict(error) ? new TopicConflict() : error
      }
      return change.version
    })
  }
  const versionNow = async (room: string): Promise<number> => {
    if (postgresSchema === undefined) return app.realtime.transaction((db: SqliteDb) => Number((db.prepare(latest).get(room) as { version: number | null }).version ?? 0))
    return await app.realtime.transaction(async (client: PgClient) => Number((await client.query(latest, [room])).rows[0]?.version ?? 0))
  }

  app.realtime.on('room.topic.set', { schema: SetTopicPayload, reply: SetTopicReply, description: 'Set a room\'s topic; announced to the room as room.topic if and only if it is stored' },
    async (session: Session, msg) => {
      const { room, text, version } = msg.payload
      if (!session.rooms.has(room)) return { applied: false, version: await versionNow(room) }
      const change: TopicChange = { room, text, version: version + 1, from: demoPublicInfo(session.identity) }
      try {
        return { applied: true, version: postgresSchema === undefined ? sqlite(change) : await postgres(change) }
      } catch (error) {
        if (!(error instanceof TopicConflict)) throw error
        return { applied: false, version: await versionNow(room) }
      }
    })
}

/** What the topics use of the store's SQLite database (better-sqlite3's). */
interface SqliteDb { prepare: (sql: string) => { run: (...values: unknown[]) => unknown, get: (...values: unknown[]) => unknown }, inTransaction: boolean }

/** What the topics use of a `pg` client. */
interface PgClient { query: (sql: string, values?: unknown[]) => Promise<{ rows: Array<{ version?: number | null }> }> }
