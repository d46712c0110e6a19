import type { DispatchError } from './types.js'

/** How a request ended: its reply, or the error its requester was answered with. */
export type ReplyOutcome = { ok: true, reply: unknown } | DispatchError

interface CachedReply {
  scope: string
  id: string
  outcome: ReplyOutcome
  /** When it stops answering duplicates (ms on the cache's clock). */
  expiresAt: number
  /** Its place in the cache-wide ring. */
  slot: number
  /** Forgotten already (by its sender's ring, the cache-wide ring, its TTL or a newer answer to the same id). */
  gone: boolean
}

/** One sender's last answers: by id, and in the order they came (a ring of at most `perSender`). */
interface SenderReplies {
  byId: Map<string, CachedReply>
  ring: CachedReply[]
  next: number
}

/** A request running now; the promise its duplicates wait on is made only when one comes. */
interface Running {
  waiting?: { outcome: Promise<ReplyOutcome>, resolve: (outcome: ReplyOutcome) => void }
}

/** The `replyCache` hub option, resolved. */
export interface ReplyCacheOptions {
  /** Requests remembered at most in all; past it the oldest is forgotten. */
  size: number
  /** Requests remembered at most per sender (identity or client key); past it that sender's oldest is forgotten. */
  perSender: number
  /** How long a settled reply answers a repeated id, in ms. */
  ttl: number
}

/**
 * The replies of recent requests, keyed by the sender's scope and the
 * request id, so a request resent after a reconnect (same identity or
 * `client_key`, new session) is answered again and never executed twice.
 * A client resends only the requests it had in flight, so each sender keeps
 * only its own last `perSender` answers: a sender's answer is not pushed out
 * by other senders' requests before `size` answers are held in all, and on a
 * server with few busy senders few answers are kept for long, which spares
 * the garbage collector (an answer that outlives the young generation costs
 * a full collection's work). Bounded in all by `size`: past it the oldest
 * answer of all is forgotten, found in a ring of slots (never through a
 * Map's own order: a Map iterator walks every entry deleted before it). An answer
 * older than `ttl` is dropped when looked up. Requests still running are
 * kept apart and never evicted.
 *
 * Contract: when `lookup` returns undefined the caller runs the request and
 * must `settle` it, with `markRunning` first if the run goes asynchronous;
 * every other caller gets the outcome (or the promise of it, while the first
 * execution is in flight).
 *
 * @example
 * const cache = new ReplyCache({ size: 10_000, perSender: 128, ttl: 60_000 })
 * const earlier = cache.lookup(key)
 * if (earlier !== undefined) return earlier
 * const reply = handler()
 * if (reply instanceof Promise) cache.markRunning(key) // then settle once it resolves
 * else cache.settle(key, { ok: true, reply })
 */
export class ReplyCache {
  private readonly senders = new Map<string, SenderReplies>()
  /** Every answer remembered, oldest first from `next` on: the slot `next` is the one the next answer takes. */
  private readonly order: Array<CachedReply | undefined>
  private next = 0
  private count = 0
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
    return this.count
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
    const cut = key.indexOf('\u0000')
    const cached = this.senders.get(key.slice(0, cut))?.byId.get(key.slice(cut + 1))
    if (cached === undefined) return undefined
    if (cached.expiresAt > this.now()) return cached.outcome
    this.forget(cached)
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
    const cut = key.indexOf('\u0000')
    this.remember({ scope: key.slice(0, cut), id: key.slice(cut + 1), outcome, expiresAt: this.now() + this.options.ttl, slot: this.next, gone: false })
  }

  private remember (entry: CachedReply): void {
    let sender = this.senders.get(entry.scope)
    if (sender === undefined) {
      sender = { byId: new Map(), ring: [], next: 0 }
      this.senders.set(entry.scope, sender)
    }
    // An answer to the same id (its earlier one expired): the newer replaces it.
    const earlier = sender.byId.get(entry.id)
    if (earlier !== undefined) this.forget(earlier)
    if (sender.ring.length < this.options.perSender) {
      sender.ring.push(entry)
    } else {
      this.forget(sender.ring[sender.next])
      sender.ring[sender.next] = entry
      sender.next = (sender.next + 1) % this.options.perSender
    }
    sender.byId.set(entry.id, entry)
    // The slot may hold an answer forgotten already: forgetting is once.
    const oldest = this.order[this.next]
    if (oldest !== undefined) this.forget(oldest)
    this.order[this.next] = entry
    this.next = (this.next + 1) % this.order.length
    this.count++
    // A sender whose answers were all forgotten (the cache-wide ring) may have been dropped meanwhile.
    if (!this.senders.has(entry.scope)) this.senders.set(entry.scope, sender)
  }

  /** Forget `entry` (once): from its sender (the sender too once it has nothing left) and from its slot. */
  private forget (entry: CachedReply): void {
    if (entry.gone) return
    entry.gone = true
    this.count--
    if (this.order[entry.slot] === entry) this.order[entry.slot] = undefined
    const sender = this.senders.get(entry.scope)
    if (sender === undefined || sender.byId.get(entry.id) !== entry) return
    sender.byId.delete(entry.id)
    if (sender.byId.size === 0) this.senders.delete(entry.scope)
  }
}
