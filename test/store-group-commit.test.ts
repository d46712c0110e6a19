import t from 'tap'
import { GroupCommit, type Defer } from '../lib/store/group-commit.js'

/** A manual turn of the event loop: the deferred commit runs only on `turn()`. */
class ManualTurns {
  private waiting: Array<() => void> = []
  defer: Defer = (run) => {
    this.waiting.push(run)
    return () => { this.waiting = this.waiting.filter((r) => r !== run) }
  }

  get scheduled (): number {
    return this.waiting.length
  }

  turn (): void {
    const due = this.waiting
    this.waiting = []
    for (const run of due) run()
  }
}

/** An asynchronous commit that settles only when the test says so, recording each batch. */
class HeldCommits {
  readonly batches: string[][] = []
  private readonly held: Array<{ resolve: (results: string[]) => void, reject: (error: Error) => void }> = []

  commit = (batch: string[]): Promise<string[]> => {
    this.batches.push([...batch])
    return new Promise((resolve, reject) => { this.held.push({ resolve, reject }) })
  }

  get inFlight (): number {
    return this.held.length
  }

  /** Commit the oldest held batch: each item's result is `item!`. */
  release (): void {
    const batch = this.batches[this.batches.length - this.held.length]
    this.held.shift()?.resolve(batch.map((item) => `${item}!`))
  }

  fail (error: Error): void {
    this.held.shift()?.reject(error)
  }
}

/** Lets settled promises run their callbacks. */
const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }

/** Records how each add settled, in the order they settled. */
function track (outcomes: string[], item: string, promise: Promise<string>): void {
  promise.then((result) => { outcomes.push(`${item} ok ${result}`) }, (error: Error) => { outcomes.push(`${item} failed ${error.message}`) })
}

const closedError = (): Error => new Error('queue is closed')

t.test('items of one turn go in one batch, committed only on the deferred turn; a later turn is a new batch', async (t) => {
  const turns = new ManualTurns()
  const batches: string[][] = []
  const queue = new GroupCommit<string, string>({ commit: (batch) => { batches.push([...batch]); return batch.map((item) => item.toUpperCase()) }, closedError, defer: turns.defer })
  const first = ['a', 'b', 'c'].map((item) => queue.add(item))
  t.equal(turns.scheduled, 1, 'one deferred commit for the whole turn')
  t.same(batches, [], 'nothing committed before the turn')
  turns.turn()
  t.same(await Promise.all(first), ['A', 'B', 'C'], 'each add gets its own item\'s result')
  const later = queue.add('d')
  turns.turn()
  t.equal(await later, 'D')
  t.same(batches, [['a', 'b', 'c'], ['d']])
  t.equal(queue.commits, 2)
})

t.test('maxBatch splits a turn into consecutive batches, committed one after the other in call order', async (t) => {
  const turns = new ManualTurns()
  const commits = new HeldCommits()
  const queue = new GroupCommit<string, string>({ commit: commits.commit, closedError, maxBatch: 2, defer: turns.defer })
  const outcomes: string[] = []
  for (const item of ['a', 'b', 'c', 'd', 'e']) track(outcomes, item, queue.add(item))
  turns.turn()
  t.same(commits.batches, [['a', 'b']], 'the first batch holds the first maxBatch items')
  t.equal(commits.inFlight, 1, 'the next batch waits for this one')
  commits.release()
  await settle()
  t.same(outcomes, ['a ok a!', 'b ok b!'])
  t.same(commits.batches, [['a', 'b'], ['c', 'd']], 'the next batch starts once the first settled')
  commits.release()
  await settle()
  commits.release()
  await settle()
  t.same(commits.batches, [['a', 'b'], ['c', 'd'], ['e']])
  t.same(outcomes, ['a ok a!', 'b ok b!', 'c ok c!', 'd ok d!', 'e ok e!'], 'settled in call order')
  t.equal(turns.scheduled, 0, 'no deferral between batches of one burst')
})

t.test('items added while a commit is in flight wait and go in the next batch, without a deferred turn', async (t) => {
  const turns = new ManualTurns()
  const commits = new HeldCommits()
  const queue = new GroupCommit<string, string>({ commit: commits.commit, closedError, defer: turns.defer })
  const outcomes: string[] = []
  track(outcomes, 'a', queue.add('a'))
  turns.turn()
  track(outcomes, 'b', queue.add('b'))
  track(outcomes, 'c', queue.add('c'))
  t.equal(turns.scheduled, 0, 'nothing deferred while a commit is in flight')
  t.same(commits.batches, [['a']], 'b and c are not committed beside a')
  commits.release()
  await settle()
  t.same(commits.batches, [['a'], ['b', 'c']], 'both join the next batch as soon as a committed')
  commits.release()
  await settle()
  t.same(outcomes, ['a ok a!', 'b ok b!', 'c ok c!'])
})

t.test('a failing commit rejects exactly its batch; the next batch still runs', async (t) => {
  const turns = new ManualTurns()
  const commits = new HeldCommits()
  const queue = new GroupCommit<string, string>({ commit: commits.commit, closedError, maxBatch: 2, defer: turns.defer })
  const outcomes: string[] = []
  for (const item of ['a', 'b', 'c', 'd']) track(outcomes, item, queue.add(item))
  turns.turn()
  commits.fail(new Error('disk full'))
  await settle()
  t.same(outcomes, ['a failed disk full', 'b failed disk full'], 'only the failed batch is rejected')
  t.same(commits.batches, [['a', 'b'], ['c', 'd']], 'the next batch runs after the failure')
  commits.release()
  await settle()
  t.same(outcomes.slice(2), ['c ok c!', 'd ok d!'])
  t.equal(queue.commits, 1, 'a failed batch is not counted as a commit')
})

t.test('a synchronous commit that throws rejects its batch; the queue keeps working', async (t) => {
  const turns = new ManualTurns()
  const queue = new GroupCommit<string, string>({
    commit: (batch) => {
      if (batch.includes('bad')) throw new Error('constraint failed')
      return batch.map((item) => `${item}!`)
    },
    closedError,
    maxBatch: 2,
    defer: turns.defer
  })
  const outcomes: string[] = []
  for (const item of ['a', 'bad', 'c']) track(outcomes, item, queue.add(item))
  turns.turn()
  await settle()
  t.same(outcomes, ['a failed constraint failed', 'bad failed constraint failed', 'c ok c!'])
  track(outcomes, 'd', queue.add('d'))
  turns.turn()
  await settle()
  t.same(outcomes.slice(3), ['d ok d!'])
})

t.test('flush commits what waits without waiting for the deferred turn, and waits for a commit in flight', async (t) => {
  const turns = new ManualTurns()
  const commits = new HeldCommits()
  const queue = new GroupCommit<string, string>({ commit: commits.commit, closedError, defer: turns.defer })
  const outcomes: string[] = []
  track(outcomes, 'a', queue.add('a'))
  let flushed = false
  const flushing = queue.flush().then(() => { flushed = true })
  t.equal(turns.scheduled, 0, 'the deferred turn is cancelled')
  t.same(commits.batches, [['a']], 'committed at once')
  track(outcomes, 'b', queue.add('b'))
  commits.release()
  await settle()
  t.notOk(flushed, 'b was added before a settled: flush waits for it too')
  commits.release()
  await flushing
  t.same(outcomes, ['a ok a!', 'b ok b!'])
})

t.test('close commits every waiting item, then later adds reject; close is idempotent', async (t) => {
  const turns = new ManualTurns()
  const commits = new HeldCommits()
  const queue = new GroupCommit<string, string>({ commit: commits.commit, closedError, maxBatch: 2, defer: turns.defer })
  const outcomes: string[] = []
  for (const item of ['a', 'b', 'c']) track(outcomes, item, queue.add(item))
  let closed = false
  const closing = queue.close().then(() => { closed = true })
  t.ok(queue.closed)
  await t.rejects(queue.add('late'), /queue is closed/, 'an add after close rejects at once')
  commits.release()
  await settle()
  t.notOk(closed, 'close waits for the batches still to commit')
  commits.release()
  await closing
  t.same(outcomes, ['a ok a!', 'b ok b!', 'c ok c!'], 'no waiting item is dropped or rejected by the close')
  t.same(commits.batches, [['a', 'b'], ['c']])
  await queue.close()
  t.equal(turns.scheduled, 0, 'nothing left deferred')
})

t.test('by default the first batch waits one setImmediate: appends from several callbacks of one turn share it', async (t) => {
  const batches: number[][] = []
  const queue = new GroupCommit<number, number>({ commit: (batch) => { batches.push([...batch]); return batch }, closedError })
  const results = await new Promise<number[]>((resolve) => {
    const adds: Array<Promise<number>> = []
    // Two immediates queued together run in one check phase; one queued while it runs waits for the next.
    // (Two timers of 0 ms are not sure to share a turn: created a millisecond apart, they fall in two.)
    setImmediate(() => { adds.push(queue.add(1)) })
    setImmediate(() => { adds.push(queue.add(2)); resolve(Promise.all(adds)) })
  })
  t.same(results, [1, 2])
  t.same(batches, [[1, 2]])
})

/** Items `<key>:<name>`: the key is what comes before the colon. */
const keyOf = (item: string): string => item.slice(0, item.indexOf(':'))

/** Held commits released in any order, by the index of the batch. */
class HeldByIndex {
  readonly batches: string[][] = []
  private readonly pending = new Map<number, { resolve: (results: string[]) => void, reject: (error: Error) => void }>()

  commit = (batch: string[]): Promise<string[]> => {
    const index = this.batches.push([...batch]) - 1
    return new Promise((resolve, reject) => { this.pending.set(index, { resolve, reject }) })
  }

  get inFlight (): number {
    return this.pending.size
  }

  release (index: number): void {
    this.pending.get(index)?.resolve(this.batches[index].map((item) => `${item}!`))
    this.pending.delete(index)
  }

  fail (index: number, error: Error): void {
    this.pending.get(index)?.reject(error)
    this.pending.delete(index)
  }
}

t.test('with a key, batches on other keys commit beside one in flight; a key\'s items wait for its batch, in order', async (t) => {
  const turns = new ManualTurns()
  const commits = new HeldByIndex()
  const queue = new GroupCommit<string, string>({ commit: commits.commit, closedError, key: keyOf, maxInFlight: 4, defer: turns.defer })
  const outcomes: string[] = []
  track(outcomes, 'a:1', queue.add('a:1'))
  turns.turn()
  t.same(commits.batches, [['a:1']])
  track(outcomes, 'a:0', queue.add('a:0'))
  t.equal(turns.scheduled, 0, 'an item of a held key defers nothing: it goes once its key\'s batch settles')
  for (const item of ['a:2', 'b:1', 'a:3', 'c:1', 'b:2']) track(outcomes, item, queue.add(item))
  t.equal(turns.scheduled, 1, 'fewer than maxInFlight in flight: the next batches are deferred a turn, as on an idle queue')
  turns.turn()
  t.same(commits.batches, [['a:1'], ['b:1', 'c:1', 'b:2']], 'the free keys go ahead in one batch, in order; a\'s items wait behind its batch')
  t.equal(commits.inFlight, 2)
  commits.release(1)
  await settle()
  t.same(outcomes, ['b:1 ok b:1!', 'c:1 ok c:1!', 'b:2 ok b:2!'], 'a later batch on other keys settles first')
  t.equal(commits.batches.length, 2, 'a is still held: its waiting items do not start')
  track(outcomes, 'b:3', queue.add('b:3'))
  turns.turn()
  t.same(commits.batches[2], ['b:3'], 'b is free again')
  commits.release(0)
  await settle()
  t.same(commits.batches[3], ['a:0', 'a:2', 'a:3'], 'a\'s waiting items start, in call order, once its batch settled')
  for (const index of [3, 2]) commits.release(index)
  await settle()
  t.same(outcomes.filter((o) => o.startsWith('a:')), ['a:1 ok a:1!', 'a:0 ok a:0!', 'a:2 ok a:2!', 'a:3 ok a:3!'], 'each key settles in call order')
  t.equal(queue.commits, 4)
})

t.test('with a key, what can commit goes in one batch: several free keys are one transaction, not one each', async (t) => {
  const turns = new ManualTurns()
  const commits = new HeldByIndex()
  const queue = new GroupCommit<string, string>({ commit: commits.commit, closedError, key: keyOf, maxInFlight: 3, defer: turns.defer })
  const adds = ['a:1', 'b:1', 'c:1', 'a:2'].map((item) => queue.add(item))
  turns.turn()
  t.same(commits.batches, [['a:1', 'b:1', 'c:1', 'a:2']])
  commits.release(0)
  t.same(await Promise.all(adds), ['a:1!', 'b:1!', 'c:1!', 'a:2!'])
})

t.test('with a key, at most maxInFlight batches are in flight; the rest start as batches settle; flush waits for all', async (t) => {
  const turns = new ManualTurns()
  const commits = new HeldByIndex()
  const queue = new GroupCommit<string, string>({ commit: commits.commit, closedError, key: keyOf, maxInFlight: 2, maxBatch: 1, defer: turns.defer })
  const outcomes: string[] = []
  for (const item of ['a:1', 'b:1', 'c:1', 'd:1']) track(outcomes, item, queue.add(item))
  turns.turn()
  t.same(commits.batches, [['a:1'], ['b:1']], 'two batches, one item each (maxBatch)')
  track(outcomes, 'e:1', queue.add('e:1'))
  t.equal(turns.scheduled, 0, 'nothing deferred while maxInFlight batches are in flight')
  let flushed = false
  const flushing = queue.flush().then(() => { flushed = true })
  commits.release(1)
  await settle()
  t.same(commits.batches.slice(2), [['c:1']], 'one settled, one more starts')
  commits.fail(0, new Error('deadlock'))
  await settle()
  t.same(commits.batches.slice(3), [['d:1']], 'a failed batch frees its place too')
  t.ok(outcomes.includes('a:1 failed deadlock'), 'only the failed batch is rejected')
  commits.release(2)
  commits.release(3)
  await settle()
  t.notOk(flushed, 'e is still to commit')
  commits.release(4)
  await flushing
  t.same(outcomes.filter((o) => o.includes(' ok ')).sort(), ['b:1 ok b:1!', 'c:1 ok c:1!', 'd:1 ok d:1!', 'e:1 ok e:1!'])
  t.equal(commits.inFlight, 0)
})

t.test('with a key and a synchronous commit, a throw frees the batch\'s keys: the key commits again', async (t) => {
  const turns = new ManualTurns()
  const queue = new GroupCommit<string, string>({
    commit: (batch) => {
      if (batch.includes('a:bad')) throw new Error('constraint failed')
      return batch.map((item) => `${item}!`)
    },
    closedError,
    key: keyOf,
    maxInFlight: 3,
    defer: turns.defer
  })
  const outcomes: string[] = []
  track(outcomes, 'a:bad', queue.add('a:bad'))
  turns.turn()
  await settle()
  track(outcomes, 'a:2', queue.add('a:2'))
  turns.turn()
  await settle()
  t.same(outcomes, ['a:bad failed constraint failed', 'a:2 ok a:2!'])
})
