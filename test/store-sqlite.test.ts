import t from 'tap'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SCHEMA_VERSION, SqliteMessageStore } from '../lib/store/sqlite.js'
import type { StorableMessage } from '../lib/store/types.js'

function msg (id: string, room = 'general'): StorableMessage {
  return { id, kind: 'event', room, type: 'chat.message', ts: new Date().toISOString(), payload: { text: id } }
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
  const appends = Array.from({ length: 20 }, (_, i) => store.append(msg(`m${i}`)).then((result) => {
    seenAtResolve.push(count())
    return result
  }))
  t.equal(count(), 0, 'nothing is committed synchronously')
  const results = await Promise.all(appends)
  t.equal(store.commits - before, 1, 'one transaction for the whole tick')
  t.ok(seenAtResolve.every((n) => n === 20), 'another connection sees every row by the time any append resolves')
  t.same(results.map((r) => r.message.id), Array.from({ length: 20 }, (_, i) => `m${i}`))

  await store.append(msg('next'))
  t.equal(store.commits - before, 2, 'a later tick is a new transaction')
})

t.test('a failing commit rejects every append of its batch', async (t) => {
  const path = join(t.testdir(), 'messages.db')
  const store = new SqliteMessageStore({ path })
  t.teardown(() => store.close())
  const other = new Database(path)
  other.exec('DROP TABLE messages')
  other.close()
  const results = await Promise.allSettled([store.append(msg('a')), store.append(msg('b'))])
  t.same(results.map((r) => r.status), ['rejected', 'rejected'])
})

t.test('creates the directory, the table and indexes, WAL, and records the schema version', async (t) => {
  const path = join(t.testdir(), 'deep', 'er', 'messages.db')
  const store = new SqliteMessageStore({ path, synchronous: 'FULL' })
  await store.append(msg('a'))
  t.equal(store.integrityCheck(), 'ok')
  const peek = new Database(path, { readonly: true })
  t.equal(peek.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  t.equal(peek.pragma('journal_mode', { simple: true }), 'wal')
  const indexes = (peek.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map((r) => r.name).sort()
  t.same(indexes, ['messages_room_id', 'messages_room_seq'])
  peek.close()
  await store.close()
  t.notOk(existsSync(`${path}-wal`), 'the WAL is checkpointed away on close')

  const reopened = new SqliteMessageStore({ path })
  t.same((await reopened.listByRoom('general', { limit: 5 })).messages.map((m) => m.id), ['a'], 'data survives reopening')
  t.equal((await reopened.append(msg('a'))).duplicate, true, 'and so does idempotency')
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

t.test('a directory that cannot be created fails with VIX_ERR_STORE_OPEN', async (t) => {
  const dir = t.testdir({ 'a-file': 'x' })
  t.throws(() => new SqliteMessageStore({ path: join(dir, 'a-file', 'messages.db') }), { code: 'VIX_ERR_STORE_OPEN' })
})

t.test(':memory: opens a throwaway database', async (t) => {
  const store = new SqliteMessageStore({ path: ':memory:' })
  t.equal((await store.append(msg('a'))).duplicate, false)
  await store.close()
})
