/** Reconnection timing (milliseconds). */
export interface ReconnectOptions {
  /** Delay before the first attempt. */
  minDelay: number
  /** Upper bound of any backoff delay. */
  maxDelay: number
  /** Growth per failed attempt. */
  factor: number
  /** 0..1: how much of each delay is randomized, so clients do not reconnect in lockstep. */
  jitter: number
  /** Give up (state `closed`, `VIX_ERR_CLIENT_RECONNECT_FAILED`) after this many failed attempts. */
  maxAttempts: number
}

export const reconnectDefaults: ReconnectOptions = {
  minDelay: 500,
  maxDelay: 10_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity
}

/**
 * The delay before reconnection attempt `attempt` (1-based): exponential,
 * capped at `maxDelay`, then reduced by up to `jitter` of itself. Jitter only
 * ever shortens the delay so `maxDelay` stays a true bound.
 *
 * @example
 * backoffDelay(3, { ...reconnectDefaults, jitter: 0 }) // 2000
 */
export function backoffDelay (attempt: number, options: ReconnectOptions, random: () => number = Math.random): number {
  const exponential = options.minDelay * Math.pow(options.factor, Math.max(0, attempt - 1))
  const capped = Math.min(options.maxDelay, exponential)
  return Math.round(capped * (1 - options.jitter * random()))
}

/**
 * The delay after a `server.going_away`: never earlier than the server asked,
 * spread by up to `jitter` of it so a restarted node is not hit by every
 * client in the same millisecond.
 */
export function goingAwayDelay (retryAfterMs: number, jitter: number, random: () => number = Math.random): number {
  return Math.round(retryAfterMs * (1 + jitter * random()))
}
