import t from 'tap'
import pg from 'pg'
import { POSTGRES_SCHEMA_VERSION, PostgresMessageStore } from '../lib/store/postgres.js'
import type { StorableMessage } from '../lib/store/types.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { requireService } from './helpers/services.js'

/** The tables the version-1 code created, verbatim (`%s` is the quoted schema), so the migration is tested against a real old schema. */
const VERSION_1_DDL = `
    CREATE TABLE %s.vix_rooms (
      room TEXT PRIMARY KEY,
      epoch TEXT NOT NULL,
      last_offset BIGINT NOT NULL
    );
    CREATE TABLE %s.vix_messages (
      room TEXT NOT NULL,
      "offset" BIGINT NOT NULL,
      id TEXT NOT NULL,
      kind TEXT NOT NULL,
      type TEXT NOT NULL,
      ts TEXT NOT NULL,
      payload_json TEXT NOT NULL,
      PRIMARY KEY (room, "offset"),
      UNIQUE (room, id)
    );`

function msg (id: string): StorableMessage {
  return { id, kind: 'event', room: 'general', type: 'chat.message', ts: '2026-01-01T10:00:00.000Z', payload: { text: id } }
}

t.test('a version-1 PostgreSQL schema is migrated in place: old messages keep their offsets and epoch and have no from', async (t) => {
  const up = await postgresAvailable()
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return
  t.teardown(() => dropRunSchemas())
  const schema = schemaFor(t.fullname)
  const s = `"${schema}"`
  const admin = new pg.Client({ connectionString: postgresUrl })
  await admin.connect()
  t.teardown(() => admin.end())
  await admin.query(`CREATE SCHEMA ${s}`)
  await admin.query(VERSION_1_DDL.replaceAll('%s', s))
  await admin.query(`CREATE TABLE ${s}.vix_schema_version (version INTEGER NOT NULL); INSERT INTO ${s}.vix_schema_version VALUES (1)`)
  await admin.query(`INSERT INTO ${s}.vix_rooms VALUES ('general', 'epoch-general', 2)`)
  await admin.query(`INSERT INTO ${s}.vix_messages VALUES ('general', 1, 'm1', 'event', 'chat.message', '2026-01-01T10:00:00.000Z', '{"text":"m1"}'), ('general', 2, 'm2', 'event', 'chat.message', '2026-01-01T10:00:00.000Z', '{"text":"m2"}')`)

  const store = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
  t.teardown(() => store.close())
  const before = await store.readAfter('general', 0, 10)
  t.same(before, { epoch: 'epoch-general', messages: [{ offset: 1, message: msg('m1') }, { offset: 2, message: msg('m2') }] }, 'the same rows, offsets and epoch')
  t.notOk(before.messages.some((e) => 'from' in e.message), 'an old message has no sender, not a null one')
  t.same((await store.append({ ...msg('m3'), from: { name: 'Ada' } })).position, { offset: 3, epoch: 'epoch-general' }, 'the counter goes on')
  t.equal((await store.append(msg('m1'))).duplicate, true, 'idempotency survives the migration')
  t.same((await store.listByRoom('general', { limit: 10 })).messages.map((m) => m.from), [undefined, undefined, { name: 'Ada' }])

  t.same((await admin.query(`SELECT version FROM ${s}.vix_schema_version`)).rows, [{ version: POSTGRES_SCHEMA_VERSION }], 'the version is recorded once')
  t.same((await admin.query(`SELECT id, from_json FROM ${s}.vix_messages ORDER BY "offset"`)).rows, [
    { id: 'm1', from_json: null }, { id: 'm2', from_json: null }, { id: 'm3', from_json: '{"name":"Ada"}' }
  ], 'one nullable column added; no row rewritten')
  const reopened = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
  t.teardown(() => reopened.close())
  t.same(await reopened.latest('general'), { id: 'm3', offset: 3, epoch: 'epoch-general' }, 'opening it again migrates nothing')
})
