import t, { type Test } from 'tap'
import { join } from 'node:path'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import type { MessageStore, StorableMessage } from '../lib/store/types.js'

/** One contract, two implementations: every test below runs against both. */
const implementations: Array<[string, (dir: string) => MessageStore]> = [
  ['SqliteMessageStore', (dir) => new SqliteMessageStore({ path: join(dir, 'messages.db') })],
  ['MemoryMessageStore', () => new MemoryMessageStore()]
]

function msg (room: string, id: string, text = id, ts = new Date().toISOString()): StorableMessage {
  return { id, kind: 'event', room, type: 'chat.message', ts, payload: { text } }
}

async function fill (store: MessageStore, room: string, count: number, prefix = 'm'): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`)
  await Promise.all(ids.map((id) => store.append(msg(room, id))))
  return ids
}

for (const [name, open] of implementations) {
  t.test(name, async (t) => {
    const setup = (t: Test): MessageStore => {
      const store = open(t.testdir())
      t.teardown(() => store.close())
      return store
    }

    t.test('append stores a message and gives it a growing sequence number', async (t) => {
      const store = setup(t)
      const a = await store.append(msg('general', 'a'))
      const b = await store.append(msg('general', 'b'))
      const c = await store.append(msg('other', 'c'))
      t.equal(a.duplicate, false)
      t.ok(b.seq > a.seq && c.seq > b.seq, 'seq grows with each append, across rooms')
      const page = await store.listByRoom('general', { limit: 10 })
      t.same(page.messages.map((m) => m.payload.text), ['a', 'b'])
      t.same(page.messages[0], msg('general', 'a', 'a', page.messages[0].ts))
    })

    t.test('a client id already stored in the room is a duplicate: not stored again, the stored message comes back', async (t) => {
      const store = setup(t)
      const first = await store.append(msg('general', 'x', 'first'))
      const again = await store.append(msg('general', 'x', 'second'))
      t.equal(again.duplicate, true)
      t.equal(again.seq, first.seq)
      t.equal(again.message.payload.text, 'first')
      const sameTick = await Promise.all([store.append(msg('general', 'y', '1')), store.append(msg('general', 'y', '2'))])
      t.same(sameTick.map((r) => r.duplicate), [false, true], 'a duplicate within one batch is caught too')
      const elsewhere = await store.append(msg('other', 'x'))
      t.equal(elsewhere.duplicate, false, 'ids are per room')
      t.same((await store.listByRoom('general', { limit: 10 })).messages.map((m) => m.id), ['x', 'y'])
    })

    t.test('listByRoom pages backward from the newest and forward from after', async (t) => {
      const store = setup(t)
      await fill(store, 'general', 10)
      await fill(store, 'other', 3, 'o')
      const newest = await store.listByRoom('general', { limit: 4 })
      t.same(newest.messages.map((m) => m.id), ['m7', 'm8', 'm9', 'm10'])
      t.equal(newest.hasMore, true)
      const older = await store.listByRoom('general', { before: 'm7', limit: 4 })
      t.same(older.messages.map((m) => m.id), ['m3', 'm4', 'm5', 'm6'])
      t.equal(older.hasMore, true)
      const oldest = await store.listByRoom('general', { before: 'm3', limit: 4 })
      t.same(oldest.messages.map((m) => m.id), ['m1', 'm2'])
      t.equal(oldest.hasMore, false)
      const forward = await store.listByRoom('general', { after: 'm2', limit: 3 })
      t.same(forward.messages.map((m) => m.id), ['m3', 'm4', 'm5'])
      t.equal(forward.hasMore, true)
      const tail = await store.listByRoom('general', { after: 'm8', limit: 3 })
      t.same(tail.messages.map((m) => m.id), ['m9', 'm10'])
      t.equal(tail.hasMore, false)
      const between = await store.listByRoom('general', { after: 'm2', before: 'm6', limit: 10 })
      t.same(between.messages.map((m) => m.id), ['m3', 'm4', 'm5'])
      t.equal(between.hasMore, false)
      const empty = await store.listByRoom('nobody', { limit: 10 })
      t.same(empty, { messages: [], hasMore: false })
    })

    t.test('listByRoom with an id not stored in that room fails with VIX_ERR_MESSAGE_NOT_FOUND', async (t) => {
      const store = setup(t)
      await fill(store, 'general', 2)
      await t.rejects(store.listByRoom('general', { after: 'nope', limit: 5 }), { code: 'VIX_ERR_MESSAGE_NOT_FOUND', statusCode: 404 })
      await t.rejects(store.listByRoom('other', { before: 'm1', limit: 5 }), { code: 'VIX_ERR_MESSAGE_NOT_FOUND' })
    })

    t.test('replayFrom returns every message after the id, or nothing when it cannot be complete', async (t) => {
      const store = setup(t)
      const ids = await fill(store, 'general', 6)
      const head = await store.latest('general')
      t.equal(head?.id, 'm6')
      const replay = await store.replayFrom('general', 'm2', 10)
      t.equal(replay.recovered, true)
      if (replay.recovered) {
        t.same(replay.messages.map((e) => e.message.id), ids.slice(2))
        t.ok(replay.messages.every((e, i, all) => i === 0 || e.seq > all[i - 1].seq), 'in sequence order')
        t.ok(replay.afterSeq < replay.messages[0].seq)
        t.same(replay.head, head)
      }
      const upToDate = await store.replayFrom('general', 'm6', 10)
      t.same(upToDate.recovered && upToDate.messages, [], 'nothing missed: recovered with no messages')
      t.same(await store.replayFrom('general', 'm2', 4).then((r) => r.recovered), true, 'exactly the limit is fine')
      t.same(await store.replayFrom('general', 'm1', 4), { recovered: false, reason: 'too_many', head })
      t.same(await store.replayFrom('general', 'zzz', 4), { recovered: false, reason: 'unknown', head })
      t.same(await store.replayFrom('empty', 'zzz', 4), { recovered: false, reason: 'unknown', head: null })
      t.equal(await store.latest('empty'), null)
    })

    t.test('rooms lists every room with stored messages', async (t) => {
      const store = setup(t)
      t.same(await store.rooms(), [])
      await fill(store, 'b', 1)
      await fill(store, 'a', 2)
      await fill(store, 'c', 1)
      t.same(await store.rooms(), ['a', 'b', 'c'])
    })

    t.test('prune by count deletes the oldest beyond the limit, in batches', async (t) => {
      const store = setup(t)
      await fill(store, 'general', 10)
      await fill(store, 'other', 10, 'o')
      t.equal(await store.prune('general', { maxMessages: 4 }, Date.now(), 4), 4, 'one batch at most')
      t.equal(await store.prune('general', { maxMessages: 4 }, Date.now(), 4), 2)
      t.equal(await store.prune('general', { maxMessages: 4 }, Date.now(), 4), 0)
      t.same((await store.listByRoom('general', { limit: 50 })).messages.map((m) => m.id), ['m7', 'm8', 'm9', 'm10'])
      t.equal((await store.listByRoom('other', { limit: 50 })).messages.length, 10, 'other rooms untouched')
      t.same(await store.replayFrom('general', 'm3', 100).then((r) => r.recovered), false, 'a pruned id is unknown')
      t.equal(await store.prune('nobody', { maxMessages: 1 }, Date.now(), 10), 0)
    })

    t.test('prune by age deletes only a prefix of old messages', async (t) => {
      const store = setup(t)
      const now = Date.parse('2026-05-17T10:00:00.000Z')
      const at = (minutesAgo: number): string => new Date(now - minutesAgo * 60_000).toISOString()
      await store.append(msg('general', 'old1', 'old1', at(30)))
      await store.append(msg('general', 'old2', 'old2', at(20)))
      await store.append(msg('general', 'new1', 'new1', at(1)))
      // A clock step back: older ts after a newer one. Pruning stops at the first young message.
      await store.append(msg('general', 'skewed', 'skewed', at(25)))
      t.equal(await store.prune('general', { maxAge: 10 * 60_000 }, now, 100), 2)
      t.same((await store.listByRoom('general', { limit: 50 })).messages.map((m) => m.id), ['new1', 'skewed'])
      t.equal(await store.prune('general', { maxAge: 1000 * 60_000, maxMessages: 1 }, now, 100), 1, 'either limit triggers')
      t.same((await store.listByRoom('general', { limit: 50 })).messages.map((m) => m.id), ['skewed'])
      t.equal(await store.prune('general', { maxAge: 1 }, now, 100), 1)
      t.same(await store.rooms(), [], 'an emptied room is gone')
    })

    t.test('close commits what is pending, then later appends reject', async (t) => {
      const store = open(t.testdir())
      const pending = store.append(msg('general', 'last'))
      await store.close()
      t.equal((await pending).duplicate, false)
      await t.rejects(store.append(msg('general', 'late')), /closed/)
      await store.close()
    })
  })
}
