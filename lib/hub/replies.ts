import type { DispatchError } from './types.js'

/** How a request ended: its reply, or the error its requester was answered with. */
export type ReplyOutcome = { ok: true, reply: unknown } | DispatchError

interface CachedReply {
  /** Settled: the outcome; in flight: what its duplicates wait for. */
  outcome: ReplyOutcome | Promise<ReplyOutcome>
  /** When it stops answering duplicates (ms on the cache's clock): set once it settles. */
  expiresAt: number
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
 * Bounded: a Map in insertion order, the oldest entry evicted past `size`;
 * an entry older than `ttl` is dropped when looked up.
 *
 * Contract: `begin` returns undefined exactly once per live key — the caller
 * runs the request and must `settle` it; every other caller gets the outcome
 * (or the promise of it, while the first execution is in flight).
 *
 * @example
 * const cache = new ReplyCache({ size: 10_000, ttl: 60_000 })
 * const earlier = cache.begin(key)
 * if (earlier !== undefined) return earlier
 * cache.settle(key, { ok: true, reply })
 */
export class ReplyCache {
  private readonly entries = new Map<string, CachedReply>()
  private readonly waiting = new Map<string, (outcome: ReplyOutcome) => void>()

  constructor (private readonly options: ReplyCacheOptions, private readonly now: () => number = Date.now) {}

  /** The key of request `id` from a sender scope (`Session.senderScope`). */
  static keyOf (scope: string, id: string): string {
    return `${scope}\u0000${id}`
  }

  get size (): number {
    return this.entries.size
  }

  /** The earlier outcome of `key` (or its promise), or undefined: then the caller runs it and settles it. */
  begin (key: string): ReplyOutcome | Promise<ReplyOutcome> | undefined {
    const cached = this.entries.get(key)
    if (cached !== undefined) {
      if (cached.outcome instanceof Promise || cached.expiresAt > this.now()) return cached.outcome
      this.entries.delete(key)
    }
    const outcome = new Promise<ReplyOutcome>((resolve) => { this.waiting.set(key, resolve) })
    this.remember(key, { outcome, expiresAt: Infinity })
    return undefined
  }

  /** The first execution of `key` ended: duplicates waiting get `outcome`, later ones too until the TTL. */
  settle (key: string, outcome: ReplyOutcome): void {
    this.waiting.get(key)?.(outcome)
    this.waiting.delete(key)
    // Evicted while in flight: nothing to answer later duplicates with.
    if (!this.entries.has(key)) return
    this.entries.delete(key)
    this.remember(key, { outcome, expiresAt: this.now() + this.options.ttl })
  }

  private remember (key: string, entry: CachedReply): void {
    this.entries.set(key, entry)
    if (this.entries.size <= this.options.size) return
    const oldest = this.entries.keys().next().value as string
    this.entries.delete(oldest)
  }
}
