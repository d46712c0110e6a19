import t from 'tap'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SCHEMA_VERSION, SqliteMessageStore } from '../lib/store/sqlite.js'
import type { StorableMessage } from '../lib/store/types.js'

function msg (id: string, room = 'general'): StorableMessage {
  return { id, kind: 'event', room, type: 'chat.message', ts: new Date().toISOString(), payload: { text: id } }
}

const offsets = (messages: Array<{ offset: number }>): number[] => messages.map((e) => e.offset)

function indexNames (db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map((r) => r.name).sort()
}

/** The schema the version-1 code wrote, verbatim, so the migration is tested against real old files. */
const VERSION_1_DDL = `CREATE TABLE IF NOT EXISTS messages (
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

/** A version-1 database: rows in two rooms, interleaved, the oldest of one room pruned, timestamps out of order. */
function createVersion1 (path: string): void {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.exec(VERSION_1_DDL)
  const insert = db.prepare('INSERT INTO messages (id, room, kind, type, ts, payload_json) VALUES (?, ?, ?, ?, ?, ?)')
  const rows: Array<[string, string, string]> = [
    ['g0', 'general', '2026-01-01T10:00:00.000Z'],
    ['g1', 'general', '2026-01-01T10:01:00.000Z'],
    ['o1', 'other', '2026-01-01T10:02:00.000Z'],
    ['g2', 'general', '2026-01-01T09:00:00.000Z'],
    ['same', 'other', '2026-01-01T10:04:00.000Z'],
    ['same', 'general', '2026-01-01T10:05:00.000Z'],
    ['g3', 'general', '2026-01-01T10:06:00.000Z']
  ]
  for (const [id, room, ts] of rows) insert.run(id, room, 'event', 'chat.message', ts, JSON.stringify({ text: `${room}/${id}` }))
  db.prepare("DELETE FROM messages WHERE id = 'g0'").run()
  db.pragma('user_version = 1')
  db.close()
}

/** The schema the version-2 code wrote (a fresh database, not a migrated one), verbatim. */
const VERSION_2_DDL = `CREATE TABLE messages (
     id TEXT NOT NULL,
     room TEXT NOT NULL,
     "offset" INTEGER NOT NULL,
     kind TEXT NOT NULL,
     type TEXT NOT NULL,
     ts TEXT NOT NULL,
     payload_json TEXT NOT NULL
   );
   CREATE UNIQUE INDEX messages_room_id ON messages (room, id);
   CREATE UNIQUE INDEX messages_room_offset ON messages (room, "offset");
   CREATE TABLE rooms (room TEXT PRIMARY KEY, epoch TEXT NOT NULL, last_offset INTEGER NOT NULL) WITHOUT ROWID;`

/** The schema the version-3 code wrote (a fresh database: the version-2 tables, then `from_json` added), verbatim. */
const VERSION_3_DDL = `${VERSION_2_DDL}
   ALTER TABLE messages ADD COLUMN from_json TEXT;`

/** A version-2 database: two rooms, the oldest message of one pruned (its counter stays ahead of its rows' count). */
function createVersion2 (path: string): void {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.exec(VERSION_2_DDL)
  const insert = db.prepare('INSERT INTO messages (id, room, "offset", kind, type, ts, payload_json) VALUES (?, ?, ?, ?, ?, ?, ?)')
  for (const [id, room, offset] of [['g2', 'general', 2], ['g3', 'general', 3], ['o1', 'other', 1]] as const) {
    insert.run(id, room, offset, 'event', 'chat.message', '2026-01-01T10:00:00.000Z', JSON.stringify({ text: `${room}/${id}` }))
  }
  db.prepare('INSERT INTO rooms (room, epoch, last_offset) VALUES (?, ?, ?)').run('general', 'epoch-general', 3)
  db.prepare('INSERT INTO rooms (room, epoch, last_offset) VALUES (?, ?, ?)').run('other', 'epoch-other', 1)
  db.pragma('user_version = 2')
  db.close()
}

/** A version-3 database: 'm1' in two rooms, 'general' with its oldest message pruned and one message with a from. */
function createVersion3 (path: string): void {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.exec(VERSION_3_DDL)
  const insert = db.prepare('INSERT INTO messages (id, room, "offset", kind, type, ts, payload_json, from_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  for (const [id, room, offset, from] of [['m1', 'general', 2, '{"name":"Eve"}'], ['m2', 'general', 3, null], ['m1', 'other', 1, null]] as const) {
    insert.run(id, room, offset, 'event', 'chat.message', '2026-01-01T10:00:00.000Z', JSON.stringify({ text: `${room}/${id}` }), from)
  }
  db.prepare('INSERT INTO rooms (room, epoch, last_offset) VALUES (?, ?, ?)').run('general', 'epoch-general', 3)
  db.prepare('INSERT INTO rooms (room, epoch, last_offset) VALUES (?, ?, ?)').run('other', 'epoch-other', 1)
  db.pragma('user_version = 3')
  db.close()
}

t.test('appends of one tick commit in one transaction, and each resolves only once committed', async (t) => {
  const path = join(t.testdir(), 'messages.db')
  const store = new SqliteMessageStore({ path })
  t.teardown(() => store.close())
  const reader = new Database(path, { readonly: true })
  t.teardown(() => reader.close())
  const count = (): number => (reader.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n

  const before = store.commits
  const seenAtResolve: number[] = []
  const appends = Array.from({ length: 20 }, (_, i) => store.append(msg(`m${i}`), 'server').then((result) => {
    seenAtResolve.push(count())
    return result
  }))
  t.equal(count(), 0, 'nothing is committed synchronously')
  const results = await Promise.all(appends)
  t.equal(store.commits - before, 1, 'one transaction for the whole tick')
  t.ok(seenAtResolve.every((n) => n === 20), 'another connection sees every row by the time any append resolves')
  t.same(results.map((r) => r.message.id), Array.from({ length: 20 }, (_, i) => `m${i}`))

  await store.append(msg('next'), 'server')
  t.equal(store.commits - before, 2, 'a later tick is a new transaction')
})

t.test('a failing commit rejects every append of its batch, stores none of it and takes no offset', async (t) => {
  const path = join(t.testdir(), 'messages.db')
  const store = new SqliteMessageStore({ path })
  t.teardown(() => store.close())
  t.equal((await store.append(msg('first'), 'server')).position.offset, 1)
  const other = new Database(path)
  other.exec("CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END")
  const results = await Promise.allSettled([store.append(msg('a'), 'server'), store.append(msg('bad'), 'server'), store.append(msg('c'), 'server')])
  t.same(results.map((r) => r.status), ['rejected', 'rejected', 'rejected'])
  other.exec('DROP TRIGGER refuse')
  other.close()
  t.same((await store.readAfter('general', 0, 10)).messages.map((e) => e.message.id), ['first'], 'nothing of the batch is stored')
  t.equal((await store.append(msg('c'), 'server')).position.offset, 2, 'the next append takes the next offset: the failed batch left no hole')
})

t.test('creates the directory, the table and indexes, WAL, and records the schema version', async (t) => {
  const path = join(t.testdir(), 'deep', 'er', 'messages.db')
  const store = new SqliteMessageStore({ path, synchronous: 'FULL' })
  await store.append(msg('a'), 'server')
  t.equal(store.integrityCheck(), 'ok')
  const peek = new Database(path, { readonly: true })
  t.equal(peek.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.equal(peek.pragma('journal_mode', { simple: true }), 'wal')
  t.same(indexNames(peek), ['messages_room_id_sender', 'messages_room_offset'])
  t.same(peek.prepare('SELECT room, last_offset FROM rooms').all(), [{ room: 'general', last_offset: 1 }], 'a rooms row carries the counter')
  peek.close()
  await store.close()
  t.notOk(existsSync(`${path}-wal`), 'the WAL is checkpointed away on close')

  const reopened = new SqliteMessageStore({ path })
  t.same((await reopened.listByRoom('general', { limit: 5 })).messages.map(({ message: m }) => m.id), ['a'], 'data survives reopening')
  t.equal((await reopened.append(msg('a'), 'server')).duplicate, true, 'and so does idempotency')
  await reopened.close()
})

t.test('synchronous FULL and NORMAL are applied to the connection', async (t) => {
  for (const [mode, level] of [['FULL', 2], ['NORMAL', 1]] as const) {
    const store = new SqliteMessageStore({ path: join(t.testdir(), `${mode}.db`), synchronous: mode })
    const db = (store as unknown as { db: Database.Database }).db
    t.equal(db.pragma('synchronous', { simple: true }), level, mode)
    await store.close()
  }
})

t.test('a file that is not a database fails with VIX_ERR_STORE_OPEN naming the path', async (t) => {
  const path = join(t.testdir(), 'not-a-db.db')
  writeFileSync(path, 'this is plain text, certainly not SQLite '.repeat(100))
  t.throws(() => new SqliteMessageStore({ path }), { code: 'VIX_ERR_STORE_OPEN', message: new RegExp(`${path.replace(/[.\\]/g, '\\$&')}.*not a database`) })
})

t.test('a database locked by another connection fails with VIX_ERR_STORE_OPEN naming the path', async (t) => {
  const path = join(t.testdir(), 'locked.db')
  const holder = new Database(path)
  holder.pragma('journal_mode = WAL')
  holder.exec('BEGIN EXCLUSIVE')
  t.teardown(() => { holder.exec('ROLLBACK'); holder.close() })
  t.throws(() => new SqliteMessageStore({ path, busyTimeout: 50 }), { code: 'VIX_ERR_STORE_OPEN', message: /locked\.db.*locked/ })
})

t.test('a database from a newer schema version is refused', async (t) => {
  const path = join(t.testdir(), 'future.db')
  const db = new Database(path)
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  db.close()
  t.throws(() => new SqliteMessageStore({ path }), { code: 'VIX_ERR_STORE_OPEN', message: /newer than this build/ })
})

t.test('a version-1 database is migrated: offsets backfilled per room in insertion order, a fresh epoch per room', async (t) => {
  const path = join(t.testdir(), 'v1.db')
  createVersion1(path)
  const store = new SqliteMessageStore({ path })
  t.teardown(() => store.close())
  const general = await store.readAfter('general', 0, 10)
  t.same(general.messages.map((e) => [e.offset, e.message.id]), [[1, 'g1'], [2, 'g2'], [3, 'same'], [4, 'g3']], 'general: dense from 1, in the old seq order (not ts order), the pruned row gone')
  t.same(general.messages[1].message, { id: 'g2', kind: 'event', room: 'general', type: 'chat.message', ts: '2026-01-01T09:00:00.000Z', payload: { text: 'general/g2' } })
  const other = await store.readAfter('other', 0, 10)
  t.same(other.messages.map((e) => [e.offset, e.message.id]), [[1, 'o1'], [2, 'same']], 'other: its own count')
  t.ok(general.epoch !== null && other.epoch !== null, 'every migrated room has an epoch')
  t.same(await store.latest('general'), { id: 'g3', offset: 4, epoch: general.epoch })
  const replay = await store.replayFrom('general', 'g1', 10)
  t.same(replay.recovered && replay.after, { offset: 1, epoch: general.epoch }, 'since ids from before the migration still replay')
  t.same((await store.append(msg('g4'), 'server')).position, { offset: 5, epoch: general.epoch }, 'new appends continue the backfilled count')
  t.same((await store.append(msg('g4'), 'server')).position, { offset: 5, epoch: general.epoch }, 'and are deduplicated (old rows: see the version-3 test)')
  t.same((await store.listByRoom('general', { limit: 10 })).messages.map(({ message: m }) => m.id), ['g1', 'g2', 'same', 'g3', 'g4'])
  t.equal(store.integrityCheck(), 'ok')
  await store.close()

  const peek = new Database(path, { readonly: true })
  t.teardown(() => peek.close())
  t.equal(peek.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.same(indexNames(peek), ['messages_room_id_sender', 'messages_room_offset'])
  t.notOk((peek.prepare('PRAGMA table_info(messages)').all() as Array<{ name: string }>).some((c) => c.name === 'seq'), 'the API speaks offsets only; seq is gone')
  t.same(peek.prepare('SELECT room, last_offset FROM rooms ORDER BY room').all(), [{ room: 'general', last_offset: 5 }, { room: 'other', last_offset: 2 }])

  const reopened = new SqliteMessageStore({ path })
  t.teardown(() => reopened.close())
  t.same(await reopened.latest('general'), { id: 'g4', offset: 5, epoch: general.epoch }, 'reopening does not migrate again: same offsets, same epoch')
})

t.test('a version-2 database is migrated in place: its messages keep their offsets and epochs and have no from; new ones keep theirs', async (t) => {
  const path = join(t.testdir(), 'v2.db')
  createVersion2(path)
  const store = new SqliteMessageStore({ path })
  t.teardown(() => store.close())
  const general = await store.readAfter('general', 0, 10)
  t.same(general, { epoch: 'epoch-general', messages: [{ offset: 2, message: { id: 'g2', kind: 'event', room: 'general', type: 'chat.message', ts: '2026-01-01T10:00:00.000Z', payload: { text: 'general/g2' } } }, { offset: 3, message: { id: 'g3', kind: 'event', room: 'general', type: 'chat.message', ts: '2026-01-01T10:00:00.000Z', payload: { text: 'general/g3' } } }] }, 'the same rows, offsets and epoch')
  t.notOk(general.messages.some((e) => 'from' in e.message), 'an old message has no sender, not a null one')
  const replay = await store.replayFrom('general', 'g2', 10)
  t.same(replay.recovered && replay.after, { offset: 2, epoch: 'epoch-general' }, 'since ids from before the migration still replay')
  t.same((await store.append({ ...msg('g4'), from: { name: 'Ada' } }, 'server')).position, { offset: 4, epoch: 'epoch-general' }, 'the counter goes on')
  t.same((await store.append(msg('g4'), 'server')).duplicate, true, 'new messages are deduplicated (old rows: see the version-3 test)')
  t.same((await store.listByRoom('general', { after: 'g3', limit: 10 })).messages.map(({ message: m }) => m.from), [{ name: 'Ada' }], 'a new message keeps its sender')
  await store.close()

  const peek = new Database(path, { readonly: true })
  t.teardown(() => peek.close())
  t.equal(peek.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.same(peek.prepare('SELECT id, from_json FROM messages ORDER BY room, "offset"').all(), [
    { id: 'g2', from_json: null }, { id: 'g3', from_json: null }, { id: 'g4', from_json: '{"name":"Ada"}' }, { id: 'o1', from_json: null }
  ], 'one nullable column added; no row rewritten')
  t.same(indexNames(peek), ['messages_room_id_sender', 'messages_room_offset'])
  const reopened = new SqliteMessageStore({ path })
  t.teardown(() => reopened.close())
  t.same(await reopened.latest('general'), { id: 'g4', offset: 4, epoch: 'epoch-general' }, 'reopening does not migrate again')
})

t.test('a version-3 database is migrated in place to per-sender idempotency: old rows keep offsets and epochs under the scope legacy, which suppresses no new message', async (t) => {
  const path = join(t.testdir(), 'v3.db')
  createVersion3(path)
  const store = new SqliteMessageStore({ path })
  t.teardown(() => store.close())
  const text = (room: string, id: string): { text: string } => ({ text: `${room}/${id}` })
  const old = (id: string, room = 'general'): StorableMessage => ({ id, kind: 'event', room, type: 'chat.message', ts: '2026-01-01T10:00:00.000Z', payload: text(room, id) })
  t.same(await store.readAfter('general', 0, 10), { epoch: 'epoch-general', messages: [{ offset: 2, message: { ...old('m1'), from: { name: 'Eve' } } }, { offset: 3, message: old('m2') }] }, 'the same rows, offsets, epoch and from; no sender scope in them')
  t.same(await store.readAfter('other', 0, 10), { epoch: 'epoch-other', messages: [{ offset: 1, message: old('m1', 'other') }] })

  const ada = await store.append(msg('m1'), 'id:ada')
  t.same([ada.duplicate, ada.position], [false, { offset: 4, epoch: 'epoch-general' }], 'an old row (scope legacy) is no duplicate of a new message with its id: stored, next offset')
  const again = await store.append({ ...msg('m1'), payload: { text: 'retry' } }, 'id:ada')
  t.same([again.duplicate, again.position, again.message.payload], [true, ada.position, { text: 'm1' }], 'the same sender again: a duplicate, with the original')
  t.same((await store.append(msg('m1'), 'id:bob')).position, { offset: 5, epoch: 'epoch-general' }, 'another sender: stored too')
  t.equal((await store.append(msg('m1'), 'legacy')).duplicate, true, 'the old row is still keyed under its scope')

  const replay = await store.replayFrom('general', 'm1', 10)
  t.same(replay.recovered && [replay.after, offsets(replay.messages)], [{ offset: 2, epoch: 'epoch-general' }, [3, 4, 5]], 'a since id from before the migration replays from the earliest message with it')
  t.same(await store.listByRoom('general', { before: 'm1', limit: 10 }).then((p) => offsets(p.messages)), [2, 3, 4], 'before: the latest with that id')
  await store.close()

  const peek = new Database(path, { readonly: true })
  t.teardown(() => peek.close())
  t.equal(peek.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.same(peek.prepare('SELECT room, "offset", id, sender FROM messages ORDER BY room, "offset"').all(), [
    { room: 'general', offset: 2, id: 'm1', sender: 'legacy' }, { room: 'general', offset: 3, id: 'm2', sender: 'legacy' },
    { room: 'general', offset: 4, id: 'm1', sender: 'id:ada' }, { room: 'general', offset: 5, id: 'm1', sender: 'id:bob' },
    { room: 'other', offset: 1, id: 'm1', sender: 'legacy' }
  ], 'the scope is a column of its own')
  t.same(indexNames(peek), ['messages_room_id_sender', 'messages_room_offset'], 'the unique (room, id) index is replaced')
  t.same(peek.prepare('SELECT room, last_offset FROM rooms ORDER BY room').all(), [{ room: 'general', last_offset: 5 }, { room: 'other', last_offset: 1 }])

  const reopened = new SqliteMessageStore({ path })
  t.teardown(() => reopened.close())
  t.same(await reopened.latest('general'), { id: 'm1', offset: 5, epoch: 'epoch-general' }, 'reopening migrates nothing')
  t.same((await reopened.append(msg('m1'), 'id:bob')).position, { offset: 5, epoch: 'epoch-general' }, 'a duplicate after the restart is still detected')
  t.equal(reopened.integrityCheck(), 'ok')
})

t.test('a migration that fails leaves the version-1 database as it was', async (t) => {
  const path = join(t.testdir(), 'v1-clash.db')
  createVersion1(path)
  // A table of the name the migration creates makes it fail halfway, after the messages table was rebuilt.
  const db = new Database(path)
  db.exec('CREATE TABLE rooms (name TEXT)')
  db.close()
  t.throws(() => new SqliteMessageStore({ path }), { code: 'VIX_ERR_STORE_OPEN', message: /v1-clash\.db.*rooms already exists/ })
  const peek = new Database(path, { readonly: true })
  t.teardown(() => peek.close())
  t.equal(peek.pragma('user_version', { simple: true }), 1)
  t.same(peek.prepare('SELECT seq, id, room FROM messages ORDER BY seq').all().map((r: any) => r.id), ['g1', 'o1', 'g2', 'same', 'same', 'g3'], 'the old rows, with their seq')
  t.same(indexNames(peek), ['messages_room_id', 'messages_room_seq'])
})

t.test('a directory that cannot be created fails with VIX_ERR_STORE_OPEN', async (t) => {
  const dir = t.testdir({ 'a-file': 'x' })
  t.throws(() => new SqliteMessageStore({ path: join(dir, 'a-file', 'messages.db') }), { code: 'VIX_ERR_STORE_OPEN' })
})

t.test(':memory: opens a throwaway database', async (t) => {
  const store = new SqliteMessageStore({ path: ':memory:' })
  t.equal((await store.append(msg('a'), 'server')).duplicate, false)
  await store.close()
})
