import type { DispatchError } from './types.js'

/** How a request ended: its reply, or the error its requester was answered with. */
export type ReplyOutcome = { ok: true, reply: unknown } | DispatchError

interface CachedReply {
  outcome: ReplyOutcome
  /** When it stops answering duplicates (ms on the cache's clock). */
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
 * Bounded: a Map in insertion order, the oldest answer evicted past `size`;
 * an answer older than `ttl` is dropped when looked up. Requests still
 * running are kept apart and never evicted.
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
  /** Requests running now: never evicted (bounded by the frames in flight), so a duplicate always waits for its first run. */
  private readonly running = new Map<string, { outcome: Promise<ReplyOutcome>, resolve: (outcome: ReplyOutcome) => void }>()

  constructor (private readonly options: ReplyCacheOptions, private readonly now: () => number = Date.now) {}

  /** The key of request `id` from a sender scope (`Session.senderScope`). */
  static keyOf (scope: string, id: string): string {
    return `${scope}\u0000${id}`
  }

  /** Answers remembered (requests still running not counted). */
  get size (): number {
    return this.entries.size
  }

  /** The earlier outcome of `key` (or its promise), or undefined: then the caller runs it and settles it. */
  begin (key: string): ReplyOutcome | Promise<ReplyOutcome> | undefined {
    const running = this.running.get(key)
    if (running !== undefined) return running.outcome
    const cached = this.entries.get(key)
    if (cached !== undefined) {
      if (cached.expiresAt > this.now()) return cached.outcome
      this.entries.delete(key)
    }
    let answer!: (outcome: ReplyOutcome) => void
    const outcome = new Promise<ReplyOutcome>((resolve) => { answer = resolve })
    this.running.set(key, { outcome, resolve: answer })
    return undefined
  }

  /** The first execution of `key` ended: duplicates waiting get `outcome`, later ones too until the TTL. */
  settle (key: string, outcome: ReplyOutcome): void {
    this.running.get(key)?.resolve(outcome)
    this.running.delete(key)
    this.remember(key, { outcome, expiresAt: this.now() + this.options.ttl })
  }

  private remember (key: string, entry: CachedReply): void {
    this.entries.set(key, entry)
    if (this.entries.size <= this.options.size) return
    const oldest = this.entries.keys().next().value as string
    this.entries.delete(oldest)
  }
}
