import type { DispatchError } from './types.js'

/** How a request ended: its reply, or the error its requester was answered with. */
export type ReplyOutcome = { ok: true, reply: unknown } | DispatchError

interface CachedReply {
  key: string
  outcome: ReplyOutcome
  /** When it stops answering duplicates (ms on the cache's clock). */
  expiresAt: number
}

/** A request running now; the promise its duplicates wait on is made only when one comes. */
interface Running {
  waiting?: { outcome: Promise<ReplyOutcome>, resolve: (outcome: ReplyOutcome) => void }
}

/** The `replyCache` hub option, resolved. */
export interface ReplyCacheOptions {
  /** Requests remembered at most; past it the oldest is forgotten. */
  size: number
  /** How long a settled reply answers a repeated id, in ms. */
  ttl: number
}

/**
 * The replies of recent requests, keyed by the sender's scope and the
 * request id, so a request resent after a reconnect (same identity or
 * `client_key`, new session) is answered again and never executed twice.
 * Bounded: past `size` the oldest answer is evicted, found in a ring of the
 * answers in the order they came (not through the Map's own order: a Map
 * iterator first walks over every entry deleted before it, and a Map used as
 * a queue piles them up at its front — at 10,000 answers that scan was most
 * of a request's cost); an answer older than `ttl` is dropped when looked
 * up. Requests still running are kept apart and never evicted.
 *
 * Contract: when `lookup` returns undefined the caller runs the request and
 * must `settle` it, with `markRunning` first if the run goes asynchronous;
 * every other caller gets the outcome (or the promise of it, while the first
 * execution is in flight).
 *
 * @example
 * const cache = new ReplyCache({ size: 10_000, ttl: 60_000 })
 * const earlier = cache.lookup(key)
 * if (earlier !== undefined) return earlier
 * const reply = handler()
 * if (reply instanceof Promise) cache.markRunning(key) // then settle once it resolves
 * else cache.settle(key, { ok: true, reply })
 */
export class ReplyCache {
  private readonly entries = new Map<string, CachedReply>()
  /** The answers remembered, oldest first from `next` on: the slot `next` is the one the next answer takes. */
  private readonly order: Array<CachedReply | undefined>
  private next = 0
  /** Requests running now: never evicted (bounded by the frames in flight), so a duplicate always waits for its first run. */
  private readonly runs = new Map<string, Running>()

  constructor (private readonly options: ReplyCacheOptions, private readonly now: () => number = Date.now) {
    this.order = new Array<CachedReply | undefined>(options.size)
  }

  /** The key of request `id` from a sender scope (`Session.senderScope`). */
  static keyOf (scope: string, id: string): string {
    return `${scope}\u0000${id}`
  }

  /** Answers remembered (requests still running not counted). */
  get size (): number {
    return this.entries.size
  }

  /**
   * The earlier outcome of `key` (or its promise, while its first run is
   * still going), or undefined: then the caller runs it and, before anything
   * else can run (before its first await), settles it or marks it running (`markRunning`).
   */
  lookup (key: string): ReplyOutcome | Promise<ReplyOutcome> | undefined {
    const running = this.runs.get(key)
    if (running !== undefined) {
      if (running.waiting === undefined) {
        let answer!: (outcome: ReplyOutcome) => void
        const outcome = new Promise<ReplyOutcome>((resolve) => { answer = resolve })
        running.waiting = { outcome, resolve: answer }
      }
      return running.waiting.outcome
    }
    const cached = this.entries.get(key)
    if (cached === undefined) return undefined
    if (cached.expiresAt > this.now()) return cached.outcome
    this.entries.delete(key)
    return undefined
  }

  /**
   * The run of `key` went asynchronous: until it settles, a duplicate waits
   * for it. (A run that ends synchronously needs no mark: no duplicate can
   * come before it settles.)
   */
  markRunning (key: string): void {
    this.runs.set(key, {})
  }

  /** The first execution of `key` ended: duplicates waiting get `outcome`, later ones too until the TTL. */
  settle (key: string, outcome: ReplyOutcome): void {
    if (this.runs.size !== 0) {
      this.runs.get(key)?.waiting?.resolve(outcome)
      this.runs.delete(key)
    }
    this.remember({ key, outcome, expiresAt: this.now() + this.options.ttl })
  }

  private remember (entry: CachedReply): void {
    const oldest = this.order[this.next]
    // The slot's answer may be gone already (expired, then run again under a newer entry): only its own entry is evicted.
    if (oldest !== undefined && this.entries.get(oldest.key) === oldest) this.entries.delete(oldest.key)
    this.order[this.next] = entry
    this.next = (this.next + 1) % this.order.length
    this.entries.set(entry.key, entry)
  }
}
