import t, { type Test } from 'tap'
import { join } from 'node:path'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { requireService } from './helpers/services.js'
import type { AppendResult, MessageStore, PositionedMessage, StorableMessage } from '../lib/store/types.js'

/**
 * Opens a store on the storage named by `dir`, a directory unique to the test
 * (a database-backed store can derive a schema or database name from it).
 */
type OpenStore = (dir: string) => MessageStore | Promise<MessageStore>

interface ContractOptions {
  /**
   * Stores opened on the same `dir` share one history, at the same time (as
   * nodes on one database do) and one after the other (a restart). False for
   * the memory store, whose history ends with the instance.
   */
  shared: boolean
}

/** The sender scope most tests append under; the idempotency tests name others. */
const ADA = 'id:ada'

function msg (room: string, id: string, text = id, ts = new Date().toISOString()): StorableMessage {
  return { id, kind: 'event', room, type: 'chat.message', ts, payload: { text } }
}

async function fill (store: MessageStore, room: string, count: number, prefix = 'm'): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`)
  await Promise.all(ids.map((id) => store.append(msg(room, id), ADA)))
  return ids
}

const offsets = (entries: PositionedMessage[]): number[] => entries.map((e) => e.offset)
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** A fixed pseudo-random sequence, so a failing interleaving can be replayed. */
function lcg (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state / 2 ** 31
  }
}

/**
 * Every case of the `MessageStore` contract (see `lib/store/types.ts`) for one
 * implementation. A new implementation is one more call at the bottom of this file.
 */
function messageStoreContract (name: string, open: OpenStore, options: ContractOptions, parent: Test = t): void {
  parent.test(name, async (t) => {
    const setup = async (t: Test, dir = t.testdir()): Promise<MessageStore> => {
      const store = await open(dir)
      t.teardown(() => store.close())
      return store
    }

    t.test('offsets are dense from 1 per room, independent between rooms, under one epoch', async (t) => {
      const store = await setup(t)
      const a = await store.append(msg('general', 'a'), ADA)
      const b = await store.append(msg('general', 'b'), ADA)
      const c = await store.append(msg('other', 'c'), ADA)
      const d = await store.append(msg('general', 'd'), ADA)
      t.same([a, b, d].map((r) => r.position.offset), [1, 2, 3], 'general counts 1, 2, 3')
      t.equal(c.position.offset, 1, 'another room has its own counter')
      t.equal(a.duplicate, false)
      t.ok(typeof a.position.epoch === 'string' && a.position.epoch.length > 0, 'an epoch names the history')
      t.same([b, d].map((r) => r.position.epoch), [a.position.epoch, a.position.epoch], 'the epoch is stable across appends')
      t.same(await store.latest('general'), { id: 'd', offset: 3, epoch: a.position.epoch })
      const page = await store.listByRoom('general', { limit: 10 })
      t.same(page.messages.map(({ message: m }) => m.payload.text), ['a', 'b', 'd'])
      t.same(page.messages[0], { offset: 1, message: msg('general', 'a', 'a', page.messages[0].message.ts) })
      t.same([page.epoch, offsets(page.messages)], [a.position.epoch, [1, 2, 3]], 'with their offsets and the room\'s epoch')
    })

    t.test('a client id already stored in the room is a duplicate: not stored again, the stored message and position come back', async (t) => {
      const store = await setup(t)
      const first = await store.append(msg('general', 'x', 'first'), ADA)
      await store.append(msg('general', 'z'), ADA)
      const again = await store.append(msg('general', 'x', 'second'), ADA)
      t.equal(again.duplicate, true)
      t.same(again.position, first.position, 'the position of the stored one')
      t.equal(again.message.payload.text, 'first')
      const sameTick = await Promise.all([store.append(msg('general', 'y', '1'), ADA), store.append(msg('general', 'y', '2'), ADA)])
      t.same(sameTick.map((r) => [r.duplicate, r.position.offset, r.message.payload.text]), [[false, 3, '1'], [true, 3, '1']], 'a duplicate within one batch is caught too')
      t.equal((await store.append(msg('general', 'w'), ADA)).position.offset, 4, 'a duplicate takes no offset')
      const elsewhere = await store.append(msg('other', 'x'), ADA)
      t.same([elsewhere.duplicate, elsewhere.position.offset], [false, 1], 'ids are per room')
      const fresh = await Promise.all([store.append(msg('fresh', 'd', '1'), ADA), store.append(msg('fresh', 'd', '2'), ADA)])
      t.same(fresh.map((r) => [r.duplicate, r.position.offset, r.position.epoch === fresh[0].position.epoch]), [[false, 1, true], [true, 1, true]], 'a duplicate in the very batch that creates the room')
      t.same((await store.listByRoom('general', { limit: 10 })).messages.map(({ message: m }) => m.id), ['x', 'z', 'y', 'w'])
    })

    t.test('idempotency is per sender: another sender\'s equal id is stored and positioned; the same sender\'s is a duplicate with the original', async (t) => {
      const store = await setup(t)
      const eve = await store.append(msg('general', 'm1', 'eve'), 'id:eve')
      const ada = await store.append(msg('general', 'm1', 'ada'), 'id:ada')
      t.same([eve.duplicate, ada.duplicate], [false, false], 'both stored')
      t.same([eve.position.offset, ada.position.offset], [1, 2], 'at their own offsets')
      t.equal(ada.message.payload.text, 'ada', 'ada gets her own message back, not eve\'s')
      const retry = await store.append(msg('general', 'm1', 'ada again'), 'id:ada')
      t.same([retry.duplicate, retry.position, retry.message.payload.text], [true, ada.position, 'ada'], 'ada\'s retry: a duplicate, with her original and its position')
      t.same((await store.append(msg('general', 'm1', 'eve again'), 'id:eve')).position, eve.position, 'eve\'s retry: hers')
      const oneTick = await Promise.all([
        store.append(msg('general', 'm2', 'server'), 'server'),
        store.append(msg('general', 'm2', 'http'), 'http'),
        store.append(msg('general', 'm2', 'server again'), 'server'),
        store.append(msg('general', 'm2', 'http again'), 'http')
      ])
      t.same(oneTick.map((r) => [r.duplicate, r.position.offset, r.message.payload.text]), [[false, 3, 'server'], [false, 4, 'http'], [true, 3, 'server'], [true, 4, 'http']], 'within one batch too')
      t.equal((await store.append(msg('general', 'm3'), 'id:eve')).position.offset, 5, 'duplicates take no offset')
      const page = await store.listByRoom('general', { limit: 10 })
      t.same(page.messages.map((e) => [e.offset, e.message.id, e.message.payload.text]), [[1, 'm1', 'eve'], [2, 'm1', 'ada'], [3, 'm2', 'server'], [4, 'm2', 'http'], [5, 'm3', 'm3']], 'history holds every sender\'s message')
      const keys = ['id', 'kind', 'payload', 'room', 'ts', 'type']
      t.ok(page.messages.every((e) => t.same(Object.keys(e.message).sort(), keys, `${e.offset}: no sender scope in history`)))
      const replayed = await store.replayFrom('general', 'm3', 10)
      t.same(replayed.recovered && replayed.messages, [], 'up to date')
      t.same(Object.keys((await store.readAfter('general', 0, 1)).messages[0].message).sort(), keys, 'nor in readAfter')
      t.same(Object.keys(retry.message).sort(), keys, 'nor in a duplicate\'s answer')
    })

    t.test('an id several senders used: since and after mean the earliest message with it, before the latest, so nothing is skipped', async (t) => {
      const store = await setup(t)
      await store.append(msg('general', 'm1', 'eve'), 'id:eve')
      await store.append(msg('general', 'x'), 'id:eve')
      await store.append(msg('general', 'm1', 'ada'), 'id:ada')
      await store.append(msg('general', 'y'), 'id:eve')
      const { epoch } = (await store.latest('general')) as { epoch: string }
      const replay = await store.replayFrom('general', 'm1', 10)
      t.same(replay.recovered && [replay.after, offsets(replay.messages)], [{ offset: 1, epoch }, [2, 3, 4]], 'replay from the earliest m1')
      t.same(offsets((await store.listByRoom('general', { after: 'm1', limit: 10 })).messages), [2, 3, 4], 'after: the earliest')
      t.same(offsets((await store.listByRoom('general', { before: 'm1', limit: 10 })).messages), [1, 2], 'before: the latest')
      t.same(offsets((await store.listByRoom('general', { after: 'm1', before: 'm1', limit: 10 })).messages), [2], 'both: between the two')
      t.same(await store.replayFrom('general', 'm1', 2), { recovered: false, reason: 'too_many', head: { id: 'y', offset: 4, epoch } }, 'the limit counts from the earliest')
      t.equal(await store.prune('general', { maxMessages: 3 }, Date.now(), 10), 1, 'the earliest m1 pruned')
      const afterPruning = await store.replayFrom('general', 'm1', 10)
      t.same(afterPruning.recovered && [afterPruning.after.offset, offsets(afterPruning.messages)], [3, [4]], 'the id now names the surviving one')
      t.same(offsets((await store.listByRoom('general', { before: 'm1', limit: 10 })).messages), [2])
      t.equal((await store.append(msg('general', 'm1', 'eve anew'), 'id:eve')).duplicate, false, 'eve\'s pruned m1 can be stored again')
      t.equal((await store.append(msg('general', 'm1', 'ada again'), 'id:ada')).duplicate, true, 'ada\'s surviving one is still a duplicate')
      await store.prune('general', { maxMessages: 0 }, Date.now(), 10)
      t.same(await store.replayFrom('general', 'm1', 10), { recovered: false, reason: 'unknown', head: null }, 'every m1 pruned: unknown')
      await t.rejects(store.listByRoom('general', { after: 'm1', limit: 5 }), { code: 'VIX_ERR_MESSAGE_NOT_FOUND' })
    })

    t.test('a message\'s from is kept: history, replay, readAfter and a duplicate return it; a message without one has no from key', async (t) => {
      const dir = t.testdir()
      const store = await setup(t, dir)
      const ada = { name: 'Ada', roles: ['admin'], seen: 2, note: 'é "quoted" \u2028' }
      await store.append({ ...msg('general', 'a'), from: ada }, ADA)
      await store.append(msg('general', 'b'), ADA)
      const sameTick = await Promise.all([store.append({ ...msg('general', 'c'), from: { name: 'Bob' } }, ADA), store.append({ ...msg('general', 'a'), from: { name: 'Mallory' } }, ADA)])
      t.same(sameTick[1].message.from, ada, 'a duplicate answers the stored sender, not its own')
      t.same((await store.append({ ...msg('general', 'c'), from: { name: 'Mallory' } }, ADA)).message.from, { name: 'Bob' }, 'in a later batch too')
      const senders = (messages: StorableMessage[]): unknown[] => messages.map((m) => ['from' in m, m.from])
      const expected = [[true, ada], [false, undefined], [true, { name: 'Bob' }]]
      t.same(senders((await store.listByRoom('general', { limit: 10 })).messages.map((e) => e.message)), expected, 'history')
      t.same(senders((await store.listByRoom('general', { after: 'a', limit: 10 })).messages.map((e) => e.message)), expected.slice(1), 'history paged forward')
      const replay = await store.replayFrom('general', 'a', 10)
      t.same(replay.recovered && senders(replay.messages.map((e) => e.message)), expected.slice(1), 'replay')
      t.same(senders((await store.readAfter('general', 0, 10)).messages.map((e) => e.message)), expected, 'readAfter (gap repair between nodes)')
      if (!options.shared) return
      const other = await setup(t, dir)
      t.same(senders((await other.listByRoom('general', { limit: 10 })).messages.map((e) => e.message)), expected, 'another store on the same storage reads the senders back')
    })

    t.test('many appends in one tick across rooms keep call order and dense offsets', async (t) => {
      const store = await setup(t)
      const random = lcg(7)
      const calls = Array.from({ length: 300 }, (_, i) => msg(`room-${Math.floor(random() * 3)}`, `c${i}`))
      const results = await Promise.all(calls.map((m) => store.append(m, ADA)))
      for (const room of ['room-0', 'room-1', 'room-2']) {
        const called = calls.filter((m) => m.room === room).map((m) => m.id)
        const got = results.filter((r) => r.message.room === room)
        t.same(got.map((r) => r.message.id), called)
        t.same(got.map((r) => r.position.offset), range(1, called.length), `${room}: offsets 1..${called.length} in call order`)
        t.same((await store.listByRoom(room, { limit: 1000 })).messages.map(({ message: m }) => m.id), called, `${room}: history in call order`)
      }
    })

    t.test('listByRoom pages backward from the newest and forward from after', async (t) => {
      const store = await setup(t)
      await fill(store, 'general', 10)
      await fill(store, 'other', 3, 'o')
      const newest = await store.listByRoom('general', { limit: 4 })
      t.same(newest.messages.map(({ message: m }) => m.id), ['m7', 'm8', 'm9', 'm10'])
      t.equal(newest.hasMore, true)
      const older = await store.listByRoom('general', { before: 'm7', limit: 4 })
      t.same(older.messages.map(({ message: m }) => m.id), ['m3', 'm4', 'm5', 'm6'])
      t.equal(older.hasMore, true)
      const oldest = await store.listByRoom('general', { before: 'm3', limit: 4 })
      t.same(oldest.messages.map(({ message: m }) => m.id), ['m1', 'm2'])
      t.equal(oldest.hasMore, false)
      const forward = await store.listByRoom('general', { after: 'm2', limit: 3 })
      t.same(forward.messages.map(({ message: m }) => m.id), ['m3', 'm4', 'm5'])
      t.equal(forward.hasMore, true)
      const tail = await store.listByRoom('general', { after: 'm8', limit: 3 })
      t.same(tail.messages.map(({ message: m }) => m.id), ['m9', 'm10'])
      t.equal(tail.hasMore, false)
      const between = await store.listByRoom('general', { after: 'm2', before: 'm6', limit: 10 })
      t.same(between.messages.map(({ message: m }) => m.id), ['m3', 'm4', 'm5'])
      t.equal(between.hasMore, false)
      const empty = await store.listByRoom('nobody', { limit: 10 })
      t.same(empty, { messages: [], epoch: null, hasMore: false })
    })

    t.test('listByRoom with an id not stored in that room fails with VIX_ERR_MESSAGE_NOT_FOUND', async (t) => {
      const store = await setup(t)
      await fill(store, 'general', 2)
      await t.rejects(store.listByRoom('general', { after: 'nope', limit: 5 }), { code: 'VIX_ERR_MESSAGE_NOT_FOUND', statusCode: 404 })
      await t.rejects(store.listByRoom('other', { before: 'm1', limit: 5 }), { code: 'VIX_ERR_MESSAGE_NOT_FOUND' })
    })

    t.test('replayFrom returns every message after the id and the id\'s position, or nothing when it cannot be complete', async (t) => {
      const store = await setup(t)
      const ids = await fill(store, 'general', 6)
      await fill(store, 'other', 2)
      const head = await store.latest('general')
      t.same(head && [head.id, head.offset], ['m6', 6])
      const replay = await store.replayFrom('general', 'm2', 10)
      t.equal(replay.recovered, true)
      if (replay.recovered) {
        t.same(replay.messages.map((e) => e.message.id), ids.slice(2))
        t.same(offsets(replay.messages), [3, 4, 5, 6], 'in offset order, right after the since id')
        t.same(replay.after, { offset: 2, epoch: head?.epoch }, 'after: the position of the since id')
        t.same(replay.head, head)
      }
      const upToDate = await store.replayFrom('general', 'm6', 10)
      t.same(upToDate.recovered && [upToDate.messages, upToDate.after.offset], [[], 6], 'nothing missed: recovered with no messages')
      t.same(await store.replayFrom('general', 'm2', 4).then((r) => r.recovered), true, 'exactly the limit is fine')
      t.same(await store.replayFrom('general', 'm1', 4), { recovered: false, reason: 'too_many', head })
      t.same(await store.replayFrom('general', 'zzz', 4), { recovered: false, reason: 'unknown', head })
      t.same(await store.replayFrom('empty', 'zzz', 4), { recovered: false, reason: 'unknown', head: null })
      t.equal(await store.latest('empty'), null)
    })

    t.test('readAfter returns up to limit messages above an offset, with the room\'s epoch', async (t) => {
      const store = await setup(t)
      const ids = await fill(store, 'general', 8)
      await fill(store, 'other', 3, 'o')
      const { epoch } = (await store.latest('general')) as { epoch: string }
      const from3 = await store.readAfter('general', 3, 10)
      t.same(from3.epoch, epoch)
      t.same(offsets(from3.messages), [4, 5, 6, 7, 8])
      t.same(from3.messages, (await store.listByRoom('general', { after: 'm3', limit: 10 })).messages, 'the stored messages themselves, at the same offsets as in history')
      t.same(offsets((await store.readAfter('general', 0, 3)).messages), [1, 2, 3], 'limit caps the range, from the start')
      t.same((await store.readAfter('general', 6, 1)).messages.map((e) => e.message.id), [ids[6]])
      t.same(await store.readAfter('general', 8, 10), { epoch, messages: [] }, 'at the head: nothing yet')
      t.same(await store.readAfter('general', 50, 10), { epoch, messages: [] }, 'past the head: nothing, same epoch')
      t.same(await store.readAfter('nobody', 0, 10), { epoch: null, messages: [] }, 'a room with no history has no epoch')
      t.same(offsets((await store.readAfter('other', 1, 10)).messages), [2, 3], 'rooms do not mix')
    })

    t.test('a reader repairing with readAfter while a writer appends sees strictly consecutive offsets', async (t) => {
      const dir = t.testdir()
      const writer = await setup(t, dir)
      const reader = options.shared ? await setup(t, dir) : writer
      const random = lcg(11)
      const total = 400
      const writing = (async () => {
        const inFlight: Array<Promise<AppendResult>> = []
        for (let sent = 0; sent < total;) {
          for (let burst = 1 + Math.floor(random() * 6); burst > 0 && sent < total; burst--) inFlight.push(writer.append(msg('live', `w${++sent}`), ADA))
          await nextTurn()
        }
        return await Promise.all(inFlight)
      })()
      let writerDone = false
      writing.finally(() => { writerDone = true }).catch(() => {})
      const seen: string[] = []
      const breaks: string[] = []
      let epoch: string | null = null
      let lastSeen = 0
      for (;;) {
        // Noted before the read: an asynchronous store's read can see a snapshot older than the writer's last commit.
        const doneBeforeRead = writerDone
        const batch = await reader.readAfter('live', lastSeen, 1 + Math.floor(random() * 7))
        if (batch.epoch !== null && epoch !== null && batch.epoch !== epoch) breaks.push(`epoch changed to ${batch.epoch}`)
        epoch = batch.epoch ?? epoch
        for (const entry of batch.messages) {
          if (entry.offset !== lastSeen + 1) breaks.push(`${entry.offset} after ${lastSeen}`)
          lastSeen = entry.offset
          seen.push(entry.message.id)
        }
        // Read on until the writer is done and nothing is left, so a missing message shows as a failure, not a hang.
        if (doneBeforeRead && batch.messages.length === 0) break
        await nextTurn()
      }
      const written = await writing
      t.same(breaks, [], 'no gap, no step back, one epoch')
      t.same(seen, range(1, total).map((i) => `w${i}`), 'every message once, in call order')
      t.same(written.map((r) => r.position.offset), range(1, total))
    })

    t.test('rooms lists every room with stored messages', async (t) => {
      const store = await setup(t)
      t.same(await store.rooms(), [])
      await fill(store, 'b', 1)
      await fill(store, 'a', 2)
      await fill(store, 'c', 1)
      t.same(await store.rooms(), ['a', 'b', 'c'])
    })

    t.test('prune by count deletes the oldest beyond the limit, in batches; offsets keep growing', async (t) => {
      const store = await setup(t)
      await fill(store, 'general', 10)
      await fill(store, 'other', 10, 'o')
      const before = (await store.latest('general')) as { epoch: string }
      t.equal(await store.prune('general', { maxMessages: 4 }, Date.now(), 4), 4, 'one batch at most')
      t.equal(await store.prune('general', { maxMessages: 4 }, Date.now(), 4), 2)
      t.equal(await store.prune('general', { maxMessages: 4 }, Date.now(), 4), 0)
      t.same((await store.listByRoom('general', { limit: 50 })).messages.map(({ message: m }) => m.id), ['m7', 'm8', 'm9', 'm10'])
      t.equal((await store.listByRoom('other', { limit: 50 })).messages.length, 10, 'other rooms untouched')
      t.same(await store.replayFrom('general', 'm3', 100).then((r) => r.recovered), false, 'a pruned id is unknown')
      const afterPruning = await store.readAfter('general', 2, 10)
      t.same(offsets(afterPruning.messages), [7, 8, 9, 10], 'readAfter starts at the oldest survivor: 3..6 are gone')
      const next = await store.append(msg('general', 'm11'), ADA)
      t.same(next.position, { offset: 11, epoch: before.epoch }, 'the next offset follows the last one, same epoch')
      const replay = await store.replayFrom('general', 'm8', 10)
      t.same(replay.recovered && offsets(replay.messages), [9, 10, 11])
      t.equal(await store.prune('nobody', { maxMessages: 1 }, Date.now(), 10), 0)
    })

    t.test('prune by age deletes only a prefix of old messages; an emptied room keeps its counter and epoch', async (t) => {
      const store = await setup(t)
      const now = Date.parse('2026-05-17T10:00:00.000Z')
      const at = (minutesAgo: number): string => new Date(now - minutesAgo * 60_000).toISOString()
      const { position } = await store.append(msg('general', 'old1', 'old1', at(30)), ADA)
      await store.append(msg('general', 'old2', 'old2', at(20)), ADA)
      await store.append(msg('general', 'new1', 'new1', at(1)), ADA)
      // A clock step back: older ts after a newer one. Pruning stops at the first young message.
      await store.append(msg('general', 'skewed', 'skewed', at(25)), ADA)
      t.equal(await store.prune('general', { maxAge: 10 * 60_000 }, now, 100), 2)
      t.same((await store.listByRoom('general', { limit: 50 })).messages.map(({ message: m }) => m.id), ['new1', 'skewed'])
      t.equal(await store.prune('general', { maxAge: 1000 * 60_000, maxMessages: 1 }, now, 100), 1, 'either limit triggers')
      t.same((await store.listByRoom('general', { limit: 50 })).messages.map(({ message: m }) => m.id), ['skewed'])
      t.equal(await store.prune('general', { maxAge: 1 }, now, 100), 1)
      t.same(await store.rooms(), [], 'an emptied room is not listed')
      t.equal(await store.latest('general'), null, 'and has no head')
      t.same(await store.readAfter('general', 0, 10), { epoch: position.epoch, messages: [] }, 'but it still has its epoch')
      t.same((await store.append(msg('general', 'again'), ADA)).position, { offset: 5, epoch: position.epoch }, 'and its counter')
      t.equal((await store.append(msg('general', 'old1'), ADA)).duplicate, false, 'a pruned id can be stored again, as a new message')
    })

    t.test('a new store has new epochs: offsets from another history are not comparable', async (t) => {
      const dir = t.testdir()
      const first = await setup(t, join(dir, 'one'))
      const second = await setup(t, join(dir, 'two'))
      const a = await first.append(msg('general', 'a'), ADA)
      const b = await second.append(msg('general', 'a'), ADA)
      t.equal(b.position.offset, a.position.offset, 'both start at 1')
      t.not(b.position.epoch, a.position.epoch, 'under different epochs')
    })

    t.test('close commits what is pending, then later appends reject', async (t) => {
      const store = await open(t.testdir())
      const pending = store.append(msg('general', 'last'), ADA)
      await store.close()
      t.equal((await pending).duplicate, false)
      await t.rejects(store.append(msg('general', 'late'), ADA), /closed/)
      await store.close()
    })

    if (!options.shared) return

    t.test('shared storage: a store opened again keeps offsets and epochs', async (t) => {
      const dir = t.testdir()
      const first = await open(dir)
      const a = await first.append(msg('general', 'a'), ADA)
      await first.append(msg('general', 'b'), ADA)
      await first.close()
      const reopened = await setup(t, dir)
      t.same(await reopened.latest('general'), { id: 'b', offset: 2, epoch: a.position.epoch })
      t.same((await reopened.append(msg('general', 'c'), ADA)).position, { offset: 3, epoch: a.position.epoch })
      t.same((await reopened.append(msg('general', 'a'), ADA)).position, a.position, 'a duplicate across the restart')
      const other = await reopened.append(msg('general', 'a'), 'id:bob')
      t.same([other.duplicate, other.position.offset], [false, 4], 'another sender\'s equal id across the restart: stored')
      await reopened.close()
      const third = await setup(t, dir)
      t.same([(await third.append(msg('general', 'a', 'bob again'), 'id:bob')).position, (await third.append(msg('general', 'a'), ADA)).position], [other.position, a.position], 'each sender\'s duplicate after another restart')
    })

    t.test('shared storage: two stores appending interleaved share one dense sequence per room, in commit order', async (t) => {
      const dir = t.testdir()
      const stores = [await setup(t, dir), await setup(t, dir)]
      const a = await stores[0].append(msg('general', 'a'), ADA)
      const b = await stores[1].append(msg('general', 'b'), ADA)
      t.same(b.position, { offset: 2, epoch: a.position.epoch }, 'the second store continues the first one\'s counter, same epoch')
      t.same((await stores[1].append(msg('general', 'a'), ADA)).position, a.position, 'a duplicate of a message the other store wrote')
      const bob = await Promise.all([stores[0].append(msg('general', 'b'), 'id:bob'), stores[1].append(msg('general', 'b'), 'id:bob')])
      t.same(bob.map((r) => r.duplicate).sort(), [false, true], 'one sender\'s id sent through both stores at once: stored by one of them')
      t.same(bob.map((r) => r.position), [bob[0].position, bob[0].position], 'both answer its position')
      t.equal(bob[0].position.offset, 3)

      const random = lcg(3)
      const rounds: Array<Array<{ store: number, result: AppendResult }>> = []
      let n = 0
      for (let round = 0; round < 30; round++) {
        // Both stores get appends in the same turn: their commits race for the database.
        const calls = Array.from({ length: 1 + Math.floor(random() * 10) }, () => {
          const store = Math.floor(random() * 2)
          return { store, message: msg(random() < 0.7 ? 'general' : 'side', `s${store}-${++n}`) }
        })
        const results = await Promise.all(calls.map((call) => stores[call.store].append(call.message, ADA)))
        rounds.push(calls.map((call, i) => ({ store: call.store, result: results[i] })))
      }
      for (const room of ['general', 'side']) {
        const inRoom = rounds.map((round) => round.filter((e) => e.result.message.room === room))
        const all = inRoom.flat()
        const first = room === 'general' ? 4 : 1
        t.same(all.map((e) => e.result.position.offset).sort((x, y) => x - y), range(first, first + all.length - 1), `${room}: dense, no offset twice`)
        t.ok(all.every((e) => e.result.position.epoch === all[0].result.position.epoch), `${room}: one epoch`)
        let highest = 0
        let ordered = true
        for (const round of inRoom) {
          const offsetsOfRound = round.map((e) => e.result.position.offset)
          if (offsetsOfRound.some((offset) => offset <= highest)) ordered = false
          highest = Math.max(highest, ...offsetsOfRound)
        }
        t.ok(ordered, `${room}: an append made after another resolved has a higher offset`)
        for (const store of [0, 1]) {
          const own = all.filter((e) => e.store === store).map((e) => e.result.position.offset)
          t.same(own, [...own].sort((x, y) => x - y), `${room}: store ${store}'s appends in its call order`)
        }
        const byOffset = [...all].sort((x, y) => x.result.position.offset - y.result.position.offset).map((e) => e.result.message.id)
        for (const store of [0, 1]) {
          const read = await stores[store].readAfter(room, first - 1, 1000)
          t.same(read.messages.map((e) => e.message.id), byOffset, `${room}: store ${store} reads the same history in that order`)
        }
      }
    })
  })
}

messageStoreContract('SqliteMessageStore', (dir) => new SqliteMessageStore({ path: join(dir, 'messages.db') }), { shared: true })
messageStoreContract('MemoryMessageStore', () => new MemoryMessageStore(), { shared: false })

t.test('PostgreSQL', async (t) => {
  const up = await postgresAvailable()
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return
  // A schema per test directory and run: stores opened on one directory share it, runs never do.
  t.teardown(() => dropRunSchemas())
  messageStoreContract('PostgresMessageStore', (dir) => new PostgresMessageStore({ connectionString: postgresUrl, schema: schemaFor(dir), maxConnections: 4 }), { shared: true }, t)
})
