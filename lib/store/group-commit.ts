/** Runs `run` later and returns what cancels it; the default waits one turn of the event loop (`setImmediate`). */
export type Defer = (run: () => void) => () => void

export interface GroupCommitOptions<T, R> {
  /**
   * Commits one batch in one transaction and returns one result per item, in
   * the batch's order. Synchronous (better-sqlite3) or asynchronous (pg): a
   * throw or a rejection fails exactly this batch.
   */
  commit: (batch: T[]) => R[] | Promise<R[]>
  /** The error an `add` after `close` rejects with (it names the store). */
  closedError: () => Error
  /** Most items in one batch (default: no limit, every waiting item goes in one). */
  maxBatch?: number
  /**
   * The key an item's order is kept by (a store: the room). With it, up to
   * `maxInFlight` asynchronous batches commit at once, no two holding the
   * same key; without it, one batch at a time.
   */
  key?: (item: T) => string
  /** Most asynchronous batches in flight at once, with `key` (default 1). */
  maxInFlight?: number
  /** When the first batch of a burst is committed (default: after one `setImmediate`); tests pass a manual one. */
  defer?: Defer
}

const nextTurn: Defer = (run) => {
  const immediate = setImmediate(run)
  return () => { clearImmediate(immediate) }
}

/**
 * A group-commit queue: items added one by one are committed in batches, one
 * transaction per batch, and each `add` resolves with its item's result only
 * once its batch has committed. Both SQL stores queue their appends here.
 *
 * The contract:
 * - **Call order.** Items are committed in the order they were added: a batch
 *   holds consecutive items, and a batch starts only after the one before it
 *   has settled, so an item never commits before one added earlier. With a
 *   `key`, that order is kept per key: a batch holds the waiting items, in
 *   order, whose keys no batch in flight holds (an item whose key is held waits,
 *   and so do the later items of its key), so an item never commits before one
 *   of its key added earlier, while items of other keys go ahead in a batch of
 *   their own, up to `maxInFlight` batches at once.
 * - **Batching.** When the queue is idle, the first `add` defers the commit by
 *   one turn of the event loop, so every item added in that turn (from any
 *   socket's I/O callback) joins one batch. While an asynchronous commit is in
 *   flight, new items wait and go in the next batch, which starts as soon as
 *   that commit settles (with a `key`: as soon as their keys are free and
 *   fewer than `maxInFlight` batches are in flight, in the same deferred way
 *   as on an idle queue). A synchronous commit is never in flight, so items of
 *   a later turn start a new batch. A batch holds at most `maxBatch` items; the
 *   rest follow in further batches.
 * - **Failure.** A commit that throws (or rejects) rejects every item of its
 *   batch with that error, and only those: the next batch still runs.
 * - **Close.** `close` takes no new items (a later `add` rejects with
 *   `closedError()`) and commits every item already waiting — none is dropped
 *   or rejected because of the close — resolving once they have all settled.
 *
 * @example
 * const appends = new GroupCommit<string, number>({
 *   commit: (batch) => db.transaction(() => batch.map((text) => insert.run(text).lastInsertRowid as number)).immediate(),
 *   closedError: () => new Error('store is closed')
 * })
 * const [a, b] = await Promise.all([appends.add('a'), appends.add('b')]) // one transaction
 */
export class GroupCommit<T, R> {
  /** Batches committed (a failed one does not count). */
  commits = 0
  // Three parallel arrays instead of one wrapper object per item.
  private items: T[] = []
  private resolves: Array<(result: R) => void> = []
  private rejects: Array<(error: Error) => void> = []
  private cancelDeferred: (() => void) | undefined
  /** Batches in flight, settling. */
  private readonly inFlight = new Set<Promise<void>>()
  /** With a key: the keys the batches in flight hold (a key is held by one batch at most). */
  private readonly held = new Set<string>()
  private isClosed = false
  private readonly commit: (batch: T[]) => R[] | Promise<R[]>
  private readonly closedError: () => Error
  private readonly maxBatch: number
  private readonly key: ((item: T) => string) | undefined
  private readonly maxInFlight: number
  private readonly defer: Defer

  constructor (options: GroupCommitOptions<T, R>) {
    this.commit = options.commit
    this.closedError = options.closedError
    this.maxBatch = options.maxBatch ?? Infinity
    this.key = options.key
    this.maxInFlight = options.key === undefined ? 1 : options.maxInFlight ?? 1
    this.defer = options.defer ?? nextTurn
  }

  /** Whether `close` has been called. */
  get closed (): boolean {
    return this.isClosed
  }

  /** Queue `item`; resolves with its result once its batch has committed, rejects with the error that failed its batch. */
  add (item: T): Promise<R> {
    if (this.isClosed) return Promise.reject(this.closedError())
    return new Promise((resolve, reject) => {
      this.items.push(item)
      this.resolves.push(resolve)
      this.rejects.push(reject)
      // An item whose key a batch in flight holds waits for that batch to settle (which drains again): nothing to defer for it.
      if (this.cancelDeferred === undefined && this.inFlight.size < this.maxInFlight && !this.isHeld(item)) this.cancelDeferred = this.defer(this.startNow)
    })
  }

  /** Commits what is waiting without waiting for the deferred turn; resolves once every item added so far has settled. */
  async flush (): Promise<void> {
    this.startNow()
    while (this.inFlight.size > 0) await Promise.all(this.inFlight)
  }

  /** Takes no new items, commits those waiting (see the contract); idempotent. */
  async close (): Promise<void> {
    this.isClosed = true
    await this.flush()
  }

  private readonly startNow = (): void => {
    if (this.cancelDeferred !== undefined) {
      this.cancelDeferred()
      this.cancelDeferred = undefined
    }
    this.drain()
  }

  /** Commits batch after batch until none waits or `maxInFlight` are in flight (each drains on once it settles). */
  private drain (): void {
    while (this.items.length > 0 && this.inFlight.size < this.maxInFlight) {
      const batch = this.takeBatch()
      if (batch.items.length === 0) return
      let results: R[] | Promise<R[]>
      try {
        results = this.commit(batch.items)
      } catch (error) {
        this.release(batch)
        fail(batch, error)
        continue
      }
      if (!Array.isArray(results)) {
        const settling: Promise<void> = this.settleLater(batch, results).finally(() => {
          this.inFlight.delete(settling)
          this.release(batch)
          this.drain()
        })
        this.inFlight.add(settling)
        continue
      }
      this.release(batch)
      this.commits++
      settle(batch, results)
    }
  }

  private async settleLater (batch: Batch<T, R>, pending: Promise<R[]>): Promise<void> {
    try {
      const results = await pending
      this.commits++
      settle(batch, results)
    } catch (error) {
      fail(batch, error)
    }
  }

  private isHeld (item: T): boolean {
    return this.key !== undefined && this.held.has(this.key(item))
  }

  /** A batch settled: its keys are free for the items waiting on them. */
  private release (batch: Batch<T, R>): void {
    for (const key of batch.keys ?? []) this.held.delete(key)
  }

  /** The waiting items the next batch takes: with a key, those whose keys are free (see the contract); else the oldest `maxBatch`. */
  private takeBatch (): Batch<T, R> {
    return this.key === undefined ? this.takeOldest() : this.takeFree(this.key)
  }

  /**
   * In order, every waiting item whose key no batch in flight holds, up to
   * `maxBatch`: what can commit goes in one batch (as few transactions as
   * possible), and only the keys held by batches in flight wait. A key held
   * stays blocked for the rest of the scan, so its items keep their order.
   * The batch's keys are held until it settles.
   */
  private takeFree (keyOf: (item: T) => string): Batch<T, R> {
    const keys = new Set<string>()
    const batch: Batch<T, R> = { items: [], resolves: [], rejects: [], keys }
    let kept = 0
    for (let i = 0; i < this.items.length; i++) {
      const item = this.items[i]
      const key = keyOf(item)
      if (batch.items.length < this.maxBatch && (keys.has(key) || !this.held.has(key))) {
        keys.add(key)
        batch.items.push(item)
        batch.resolves.push(this.resolves[i])
        batch.rejects.push(this.rejects[i])
        continue
      }
      this.items[kept] = item
      this.resolves[kept] = this.resolves[i]
      this.rejects[kept] = this.rejects[i]
      kept++
    }
    this.items.length = kept
    this.resolves.length = kept
    this.rejects.length = kept
    for (const key of keys) this.held.add(key)
    return batch
  }

  /** The oldest `maxBatch` waiting items (all of them, without a copy, when they fit). */
  private takeOldest (): Batch<T, R> {
    if (this.items.length <= this.maxBatch) {
      const batch = { items: this.items, resolves: this.resolves, rejects: this.rejects }
      this.items = []
      this.resolves = []
      this.rejects = []
      return batch
    }
    return { items: this.items.splice(0, this.maxBatch), resolves: this.resolves.splice(0, this.maxBatch), rejects: this.rejects.splice(0, this.maxBatch) }
  }
}

interface Batch<T, R> {
  items: T[]
  resolves: Array<(result: R) => void>
  rejects: Array<(error: Error) => void>
  /** With a key: the keys this batch holds while in flight. */
  keys?: Set<string>
}

function settle<T, R> (batch: Batch<T, R>, results: R[]): void {
  for (let i = 0; i < batch.resolves.length; i++) batch.resolves[i](results[i])
}

function fail<T, R> (batch: Batch<T, R>, error: unknown): void {
  for (const reject of batch.rejects) reject(error as Error)
}
