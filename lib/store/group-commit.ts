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
 *   has settled, so an item never commits before one added earlier.
 * - **Batching.** When the queue is idle, the first `add` defers the commit by
 *   one turn of the event loop, so every item added in that turn (from any
 *   socket's I/O callback) joins one batch. While an asynchronous commit is in
 *   flight, new items wait and go in the next batch, which starts as soon as
 *   that commit settles. A synchronous commit is never in flight, so items of a
 *   later turn start a new batch. A batch holds at most `maxBatch` items; the
 *   rest follow in further batches, one after the other.
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
  private inFlight: Promise<void> | undefined
  private isClosed = false
  private readonly commit: (batch: T[]) => R[] | Promise<R[]>
  private readonly closedError: () => Error
  private readonly maxBatch: number
  private readonly defer: Defer

  constructor (options: GroupCommitOptions<T, R>) {
    this.commit = options.commit
    this.closedError = options.closedError
    this.maxBatch = options.maxBatch ?? Infinity
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
      if (this.cancelDeferred === undefined && this.inFlight === undefined) this.cancelDeferred = this.defer(this.startNow)
    })
  }

  /** Commits what is waiting without waiting for the deferred turn; resolves once every item added so far has settled. */
  async flush (): Promise<void> {
    this.startNow()
    while (this.inFlight !== undefined) await this.inFlight
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
    if (this.inFlight === undefined) this.drain()
  }

  /** Commits batch after batch until none waits; returns when one is in flight (it drains on once that settles). */
  private drain (): void {
    while (this.items.length > 0) {
      const batch = this.takeBatch()
      let results: R[] | Promise<R[]>
      try {
        results = this.commit(batch.items)
      } catch (error) {
        fail(batch, error)
        continue
      }
      if (!Array.isArray(results)) {
        this.inFlight = this.settleLater(batch, results)
        return
      }
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
    this.inFlight = undefined
    this.drain()
  }

  /** The oldest `maxBatch` waiting items (all of them, without a copy, when they fit). */
  private takeBatch (): Batch<T, R> {
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
}

function settle<T, R> (batch: Batch<T, R>, results: R[]): void {
  for (let i = 0; i < batch.resolves.length; i++) batch.resolves[i](results[i])
}

function fail<T, R> (batch: Batch<T, R>, error: unknown): void {
  for (const reject of batch.rejects) reject(error as Error)
}
