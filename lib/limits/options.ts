import { InvalidOptionError } from '../errors.js'
import { checkInteger, checkOptionKeys, type OptionShape } from '../options.js'
import type { Rate } from './token-bucket.js'

/** The inbound rate of one session, and when a session that keeps going is closed. */
export interface SessionRate extends Rate {
  /**
   * Frames refused for the rate, counted until the session has been quiet
   * long enough to refill its bucket; past this many it is closed 1008
   * (default 1000).
   */
  closeAfter?: number
}

/**
 * Caps and rates (hub option `limits`). Every one is off unless given: open
 * is right for a laptop; the README's security section says what to set
 * before a server faces the internet.
 *
 * @example
 * await app.register(vixRealtime, {
 *   limits: { maxConnectionsPerIp: 50, sessionRate: { rate: 20, burst: 40 }, ipRate: { rate: 10, burst: 20 } }
 * })
 */
export interface LimitsOptions {
  /** Sessions (WebSocket and long-poll) at once; past it a new one is refused 503 `VIX_ERR_SERVER_FULL`. */
  maxConnections?: number
  /** Sessions per client IP (`request.ip`, so Fastify's `trustProxy` applies); 429 `VIX_ERR_LIMIT_EXCEEDED`. */
  maxConnectionsPerIp?: number
  /** Sessions per identity (the hub's `identityKey`; anonymous clients are not counted); 429 `VIX_ERR_LIMIT_EXCEEDED`. */
  maxConnectionsPerIdentity?: number
  /** Inbound frames per session (WebSocket frames and `POST /ws/send` alike): `VIX_ERR_RATE_LIMITED`. */
  sessionRate?: SessionRate
  /** Per client IP: long-poll session creations and server-side HTTP publishes: 429 `VIX_ERR_RATE_LIMITED`. */
  ipRate?: Rate
  /** Rooms one session may be in; a join past it gets `VIX_ERR_LIMIT_EXCEEDED`. */
  maxRoomsPerSession?: number
  /** Members of one room on this node; a join past it gets `VIX_ERR_LIMIT_EXCEEDED`. */
  maxMembersPerRoom?: number
  /** Client IPs whose `ipRate` bucket is kept (default 10000; the oldest is forgotten past it). */
  maxTrackedIps?: number
}

export interface ResolvedLimits {
  maxConnections: number
  maxConnectionsPerIp: number
  maxConnectionsPerIdentity: number
  sessionRate: Required<SessionRate> | undefined
  ipRate: Required<Rate> | undefined
  maxRoomsPerSession: number
  maxMembersPerRoom: number
  maxTrackedIps: number
}

const OFF = Number.POSITIVE_INFINITY

const defaults = {
  maxConnections: OFF,
  maxConnectionsPerIp: OFF,
  maxConnectionsPerIdentity: OFF,
  maxRoomsPerSession: OFF,
  maxMembersPerRoom: OFF,
  maxTrackedIps: 10_000
}

const rateShape = { rate: true, burst: true } as const satisfies OptionShape & Record<keyof Rate, true>

/** The keys of `LimitsOptions` and of its rates: any other fails boot. */
export const limitsOptionShape = {
  maxConnections: true,
  maxConnectionsPerIp: true,
  maxConnectionsPerIdentity: true,
  sessionRate: { ...rateShape, closeAfter: true },
  ipRate: rateShape,
  maxRoomsPerSession: true,
  maxMembersPerRoom: true,
  maxTrackedIps: true
} as const satisfies OptionShape & Record<keyof LimitsOptions, unknown>

function cap (name: string, value: number): number {
  return value === OFF ? OFF : checkInteger(`limits.${name}`, value, 1)
}

/** Check a `{ rate, burst }` (for `limits.*` and per-type declarations); a bad one throws `VIX_ERR_INVALID_OPTION`. */
export function resolveRate (name: string, value: Rate): Required<Rate> {
  if (typeof value !== 'object' || value === null) throw new InvalidOptionError(name, 'expected { rate, burst? }')
  if (typeof value.rate !== 'number' || !Number.isFinite(value.rate) || value.rate <= 0) {
    throw new InvalidOptionError(`${name}.rate`, `expected a positive number (per second), got ${JSON.stringify(value.rate)}`)
  }
  const burst = value.burst ?? Math.max(1, Math.ceil(value.rate))
  checkInteger(`${name}.burst`, burst, 1)
  return { rate: value.rate, burst }
}

/** Resolve defaults in one spread and check every limit; a bad one throws `VIX_ERR_INVALID_OPTION`. */
export function resolveLimits (options: LimitsOptions = {}): ResolvedLimits {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('limits', 'expected an object')
  checkOptionKeys(options, limitsOptionShape, 'limits', 'limit')
  const merged = { ...defaults, ...options }
  let sessionRate: Required<SessionRate> | undefined
  if (merged.sessionRate !== undefined) {
    const closeAfter = merged.sessionRate.closeAfter ?? 1000
    checkInteger('limits.sessionRate.closeAfter', closeAfter, 1)
    sessionRate = { ...resolveRate('limits.sessionRate', merged.sessionRate), closeAfter }
  }
  return {
    maxConnections: cap('maxConnections', merged.maxConnections),
    maxConnectionsPerIp: cap('maxConnectionsPerIp', merged.maxConnectionsPerIp),
    maxConnectionsPerIdentity: cap('maxConnectionsPerIdentity', merged.maxConnectionsPerIdentity),
    sessionRate,
    ipRate: merged.ipRate === undefined ? undefined : resolveRate('limits.ipRate', merged.ipRate),
    maxRoomsPerSession: cap('maxRoomsPerSession', merged.maxRoomsPerSession),
    maxMembersPerRoom: cap('maxMembersPerRoom', merged.maxMembersPerRoom),
    maxTrackedIps: checkInteger('limits.maxTrackedIps', merged.maxTrackedIps, 1)
  }
}
