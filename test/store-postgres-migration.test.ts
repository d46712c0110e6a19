import t, { type Test } from 'tap'
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

/** The tables the version-2 code created on an empty database (version 1's, then `from_json`), verbatim. */
const VERSION_2_DDL = `${VERSION_1_DDL}
    ALTER TABLE %s.vix_messages ADD COLUMN from_json TEXT;`

/** Version 3's: version 2's, then the sender scope of idempotency. */
const VERSION_3_DDL = `${VERSION_2_DDL}
    ALTER TABLE %s.vix_messages ADD COLUMN sender TEXT NOT NULL DEFAULT 'legacy';
    ALTER TABLE %s.vix_messages DROP CONSTRAINT vix_messages_room_id_key;
    ALTER TABLE %s.vix_messages ADD CONSTRAINT vix_messages_room_id_sender_key UNIQUE (room, id, sender);`

function msg (id: string, room = 'general'): StorableMessage {
  return { id, kind: 'event', room, type: 'chat.message', ts: '2026-01-01T10:00:00.000Z', payload: { text: id } }
}

/** A schema of `version` with the tables of `ddl`, and a client to look into it. */
async function oldSchema (t: Test, ddl: string, version: number): Promise<{ schema: string, s: string, admin: pg.Client } | null> {
  const up = await postgresAvailable()
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return null
  t.teardown(() => dropRunSchemas())
  const schema = schemaFor(t.fullname)
  const s = `"${schema}"`
  const admin = new pg.Client({ connectionString: postgresUrl })
  await admin.connect()
  t.teardown(() => admin.end())
  await admin.query(`CREATE SCHEMA ${s}`)
  await admin.query(ddl.replaceAll('%s', s))
  await admin.query(`CREATE TABLE ${s}.vix_schema_version (version INTEGER NOT NULL); INSERT INTO ${s}.vix_schema_version VALUES (${version})`)
  return { schema, s, admin }
}

t.test('a version-1 PostgreSQL schema is migrated in place: old messages keep their offsets and epoch and have no from', async (t) => {
  const old = await oldSchema(t, VERSION_1_DDL, 1)
  if (old === null) return
  const { schema, s, admin } = old
  await admin.query(`INSERT INTO ${s}.vix_rooms VALUES ('general', 'epoch-general', 2)`)
  await admin.query(`INSERT INTO ${s}.vix_messages VALUES ('general', 1, 'm1', 'event', 'chat.message', '2026-01-01T10:00:00.000Z', '{"text":"m1"}'), ('general', 2, 'm2', 'event', 'chat.message', '2026-01-01T10:00:00.000Z', '{"text":"m2"}')`)

  const store = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
  t.teardown(() => store.close())
  const before = await store.readAfter('general', 0, 10)
  t.same(before, { epoch: 'epoch-general', messages: [{ offset: 1, message: msg('m1') }, { offset: 2, message: msg('m2') }] }, 'the same rows, offsets and epoch')
  t.notOk(before.messages.some((e) => 'from' in e.message), 'an old message has no sender, not a null one')
  t.same((await store.append({ ...msg('m3'), from: { name: 'Ada' } }, 'server')).position, { offset: 3, epoch: 'epoch-general' }, 'the counter goes on')
  t.equal((await store.append({ ...msg('m3'), from: { name: 'Ada' } }, 'server')).duplicate, true, 'new messages are deduplicated (old rows: see the version-2 test)')
  t.same((await store.listByRoom('general', { limit: 10 })).messages.map(({ message: m }) => m.from), [undefined, undefined, { name: 'Ada' }])

  t.same((await admin.query(`SELECT version FROM ${s}.vix_schema_version`)).rows, [{ version: POSTGRES_SCHEMA_VERSION }], 'the version is recorded once')
  t.same((await admin.query(`SELECT id, from_json FROM ${s}.vix_messages ORDER BY "offset"`)).rows, [
    { id: 'm1', from_json: null }, { id: 'm2', from_json: null }, { id: 'm3', from_json: '{"name":"Ada"}' }
  ], 'one nullable column added; no row rewritten')
  const reopened = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
  t.teardown(() => reopened.close())
  t.same(await reopened.latest('general'), { id: 'm3', offset: 3, epoch: 'epoch-general' }, 'opening it again migrates nothing')
})

t.test('a version-2 PostgreSQL schema is migrated in place to per-sender idempotency: old rows keep offsets and epochs under the scope legacy, which suppresses no new message', async (t) => {
  const old = await oldSchema(t, VERSION_2_DDL, 2)
  if (old === null) return
  const { schema, s, admin } = old
  await admin.query(`INSERT INTO ${s}.vix_rooms VALUES ('general', 'epoch-general', 3), ('other', 'epoch-other', 1)`)
  await admin.query(`INSERT INTO ${s}.vix_messages VALUES
    ('general', 2, 'm1', 'event', 'chat.message', '2026-01-01T10:00:00.000Z', '{"text":"m1"}', '{"name":"Eve"}'),
    ('general', 3, 'm2', 'event', 'chat.message', '2026-01-01T10:00:00.000Z', '{"text":"m2"}', NULL),
    ('other', 1, 'm1', 'event', 'chat.message', '2026-01-01T10:00:00.000Z', '{"text":"m1"}', NULL)`)

  const store = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
  t.teardown(() => store.close())
  t.same(await store.readAfter('general', 0, 10), { epoch: 'epoch-general', messages: [{ offset: 2, message: { ...msg('m1'), from: { name: 'Eve' } } }, { offset: 3, message: msg('m2') }] }, 'the same rows, offsets, epoch and from; no sender scope in them')
  t.same(await store.readAfter('other', 0, 10), { epoch: 'epoch-other', messages: [{ offset: 1, message: msg('m1', 'other') }] })

  const ada = await store.append(msg('m1'), 'id:ada')
  t.same([ada.duplicate, ada.position], [false, { offset: 4, epoch: 'epoch-general' }], 'an old row (scope legacy) is no duplicate of a new message with its id: stored, next offset')
  const again = await store.append({ ...msg('m1'), payload: { text: 'retry' } }, 'id:ada')
  t.same([again.duplicate, again.position, again.message.payload], [true, ada.position, { text: 'm1' }], 'the same sender again: a duplicate, with the original')
  t.same((await store.append(msg('m1'), 'id:bob')).position, { offset: 5, epoch: 'epoch-general' }, 'another sender: stored too')
  t.equal((await store.append(msg('m1'), 'legacy')).duplicate, true, 'the old row is still keyed under its scope')

  const replay = await store.replayFrom('general', 'm1', 10)
  t.same(replay.recovered && [replay.after, replay.messages.map((e) => e.offset)], [{ offset: 2, epoch: 'epoch-general' }, [3, 4, 5]], 'a since id from before the migration replays from the earliest message with it')
  t.same((await store.listByRoom('general', { before: 'm1', limit: 10 })).messages.map((e) => e.offset), [2, 3, 4], 'before: the latest with that id')

  t.same((await admin.query(`SELECT version FROM ${s}.vix_schema_version`)).rows, [{ version: POSTGRES_SCHEMA_VERSION }], 'the version is recorded once')
  t.same((await admin.query(`SELECT room, "offset", id, sender FROM ${s}.vix_messages ORDER BY room, "offset"`)).rows, [
    { room: 'general', offset: '2', id: 'm1', sender: 'legacy' }, { room: 'general', offset: '3', id: 'm2', sender: 'legacy' },
    { room: 'general', offset: '4', id: 'm1', sender: 'id:ada' }, { room: 'general', offset: '5', id: 'm1', sender: 'id:bob' },
    { room: 'other', offset: '1', id: 'm1', sender: 'legacy' }
  ], 'the scope is a column of its own')
  const constraints = await admin.query(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '${s}.vix_messages'::regclass AND contype IN ('p', 'u') ORDER BY conname`)
  t.same(constraints.rows, [
    { conname: 'vix_messages_pkey', def: 'PRIMARY KEY (room, "offset")' },
    { conname: 'vix_messages_room_id_sender_key', def: 'UNIQUE (room, id, sender)' }
  ], 'the unique (room, id) key is replaced')
  await store.close()

  const reopened = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
  t.teardown(() => reopened.close())
  t.same(await reopened.latest('general'), { id: 'm1', offset: 5, epoch: 'epoch-general' }, 'reopening migrates nothing')
  t.same((await reopened.append(msg('m1'), 'id:bob')).position, { offset: 5, epoch: 'epoch-general' }, 'a duplicate after the restart is still detected')
})

t.test('a version-3 PostgreSQL schema gains the append function: rows, offsets and epochs kept, the counter and deduplication go on through it', async (t) => {
  const old = await oldSchema(t, VERSION_3_DDL, 3)
  if (old === null) return
  const { schema, s, admin } = old
  await admin.query(`INSERT INTO ${s}.vix_rooms VALUES ('general', 'epoch-general', 2)`)
  await admin.query(`INSERT INTO ${s}.vix_messages VALUES
    ('general', 1, 'm1', 'event', 'chat.message', '2026-01-01T10:00:00.000Z', '{"text":"m1"}', NULL, 'id:ada'),
    ('general', 2, 'm2', 'event', 'chat.message', '2026-01-01T10:00:00.000Z', '{"text":"m2"}', '{"name":"Ada"}', 'id:ada')`)
  t.equal((await admin.query(`SELECT 1 FROM pg_proc WHERE proname = 'vix_append' AND pronamespace = '${s}'::regnamespace`)).rowCount, 0, 'no function before')

  const store = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
  t.teardown(() => store.close())
  const again = await store.append({ ...msg('m2'), payload: { text: 'retry' } }, 'id:ada')
  t.same([again.duplicate, again.position, again.message], [true, { offset: 2, epoch: 'epoch-general' }, { ...msg('m2'), from: { name: 'Ada' } }], 'a row stored before the migration is a duplicate, answered as stored')
  t.same((await store.append(msg('m3'), 'id:ada')).position, { offset: 3, epoch: 'epoch-general' }, 'the counter goes on')
  t.same((await store.readAfter('general', 0, 10)).messages.map((e) => e.offset), [1, 2, 3])
  t.same((await admin.query(`SELECT version FROM ${s}.vix_schema_version`)).rows, [{ version: POSTGRES_SCHEMA_VERSION }], 'the version is recorded once')
  t.equal(POSTGRES_SCHEMA_VERSION, 4)
  t.equal((await admin.query(`SELECT 1 FROM pg_proc WHERE proname = 'vix_append' AND pronamespace = '${s}'::regnamespace`)).rowCount, 1, 'the function is in the schema')
  await store.close()
  const reopened = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
  t.teardown(() => reopened.close())
  t.same((await reopened.append(msg('m4'), 'id:ada')).position, { offset: 4, epoch: 'epoch-general' }, 'opening it again migrates nothing (the function is not created twice)')
})

t.test('a PostgreSQL schema newer than this build is refused, and left as it is', async (t) => {
  const old = await oldSchema(t, VERSION_3_DDL, POSTGRES_SCHEMA_VERSION + 1)
  if (old === null) return
  const { schema, s, admin } = old
  const store = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
  t.teardown(() => store.close())
  await t.rejects(store.ready(), { message: /schema version 5 is newer than this build \(4\)/ })
  await t.rejects(store.append(msg('m1'), 'id:ada'), { message: /newer than this build/ }, 'appends fail too')
  t.same((await admin.query(`SELECT version FROM ${s}.vix_schema_version`)).rows, [{ version: POSTGRES_SCHEMA_VERSION + 1 }], 'the version is untouched')
  t.equal((await admin.query(`SELECT 1 FROM pg_proc WHERE proname = 'vix_append' AND pronamespace = '${s}'::regnamespace`)).rowCount, 0, 'nothing was created')
})
