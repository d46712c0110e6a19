/** A rate: `rate` tokens a second, at most `burst` saved up. */
export interface Rate {
  /** Tokens added per second (messages per second). */
  rate: number
  /** Bucket size: how many may arrive at once after a quiet spell (default: `rate` rounded up, at least 1). */
  burst?: number
}

/**
 * A token bucket, refilled lazily from the clock on each `take`: no timer,
 * two numbers of state, O(1). Full at start.
 *
 * @example
 * const bucket = new TokenBucket({ rate: 20, burst: 40 }, performance.now())
 * if (!bucket.take(performance.now())) refuse(bucket.retryAfter())
 */
export class TokenBucket {
  private tokens: number
  private last: number
  private readonly perMs: number
  private readonly burst: number

  constructor (rate: Required<Rate> | Rate, now: number) {
    this.burst = rate.burst ?? Math.max(1, Math.ceil(rate.rate))
    this.perMs = rate.rate / 1000
    this.tokens = this.burst
    this.last = now
  }

  /** Take one token at `now` (ms); false when the bucket is empty (nothing is taken). */
  take (now: number): boolean {
    this.refill(now)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Has the bucket refilled completely (the client has been quiet long enough)? */
  full (now: number): boolean {
    this.refill(now)
    return this.tokens >= this.burst
  }

  /** Whole seconds until the next token (for `Retry-After`; at least 1). */
  retryAfter (): number {
    return Math.max(1, Math.ceil((1 - this.tokens) / this.perMs / 1000))
  }

  private refill (now: number): void {
    const elapsed = now - this.last
    this.last = now
    if (elapsed > 0) this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perMs)
  }
}

/**
 * One bucket per key (a client IP), at most `maxKeys` of them: past it the
 * oldest is forgotten (Map order), so a spray of addresses costs bounded
 * memory; a forgotten key simply starts again with a full bucket.
 *
 * @example
 * const perIp = new KeyedBuckets({ rate: 5, burst: 10 }, 10_000)
 * if (!perIp.take(request.ip, performance.now())) refuse(perIp.retryAfter(request.ip))
 */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>()

  constructor (private readonly rate: Rate, private readonly maxKeys: number) {}

  get size (): number {
    return this.buckets.size
  }

  /** Take one token of `key`'s bucket; false when it is empty. */
  take (key: string, now: number): boolean {
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string)
      bucket = new TokenBucket(this.rate, now)
      this.buckets.set(key, bucket)
    }
    return bucket.take(now)
  }

  /** Seconds until `key` may try again. */
  retryAfter (key: string): number {
    return this.buckets.get(key)?.retryAfter() ?? 1
  }
}
