import { ErrorCodes, codedError, type VixError } from '../errors.js'
import type { Session } from '../session.js'
import type { ResolvedLimits } from './options.js'
import { KeyedBuckets, TokenBucket, type Rate } from './token-bucket.js'

/** Which limit refused something: the `limit` label of `vix_limit_rejections_total`, a fixed set. */
export type LimitName = 'connections' | 'connections_per_ip' | 'connections_per_identity' | 'session_rate' | 'ip_rate' |
  'inbound_queue' | 'rooms_per_session' | 'members_per_room' | 'type_rate' | 'type_size'

/** Every value of the `limit` label. */
export const limitNames: readonly LimitName[] = [
  'connections', 'connections_per_ip', 'connections_per_identity', 'session_rate', 'ip_rate',
  'inbound_queue', 'rooms_per_session', 'members_per_room', 'type_rate', 'type_size'
]

/** What the session rate says about one inbound frame: accept it, refuse it, or close the session. */
export type Verdict = 'accept' | 'refuse' | 'close'

interface SessionState {
  bucket: TokenBucket | undefined
  /** Frames refused since the bucket was last full. */
  strikes: number
  types: Map<string, TokenBucket> | undefined
}

/**
 * One admitted client's place in the connection counts. Released exactly
 * once, whichever comes first: its session closes, or the socket of an
 * upgrade that never completed goes away (so a failed upgrade leaks nothing).
 */
export class ConnectionSlot {
  private released = false

  constructor (private readonly counts: ConnectionCounts, readonly ip: string | undefined, readonly identityKey: string | undefined) {}

  release (): void {
    if (this.released) return
    this.released = true
    this.counts.remove(this)
  }
}

/** Sessions in total, per IP and per identity: incremented on admission, decremented on release. O(1). */
class ConnectionCounts {
  total = 0
  readonly perIp = new Map<string, number>()
  readonly perIdentity = new Map<string, number>()

  add (slot: ConnectionSlot): void {
    this.total++
    if (slot.ip !== undefined) this.perIp.set(slot.ip, (this.perIp.get(slot.ip) ?? 0) + 1)
    if (slot.identityKey !== undefined) this.perIdentity.set(slot.identityKey, (this.perIdentity.get(slot.identityKey) ?? 0) + 1)
  }

  remove (slot: ConnectionSlot): void {
    this.total--
    decrement(this.perIp, slot.ip)
    decrement(this.perIdentity, slot.identityKey)
  }
}

function decrement (counts: Map<string, number>, key: string | undefined): void {
  if (key === undefined) return
  const count = (counts.get(key) ?? 1) - 1
  if (count <= 0) counts.delete(key)
  else counts.set(key, count)
}

/**
 * The hub's caps and rates (hub option `limits`): connection counts checked
 * at admission, the per-session inbound bucket checked where a frame enters
 * its inbox, the per-IP bucket of HTTP session creation and publish, and the
 * per-type buckets of `on(type, { rate })`. Each refusal is reported by limit.
 *
 * @example
 * const slot = hub.limits.reserve(request.ip, identityKey) // throws 503 / 429
 * hub.openSession(transport, identity, undefined, slot)    // released on closeSession
 */
export class Limits {
  private readonly counts = new ConnectionCounts()
  private readonly ipBuckets: KeyedBuckets | undefined
  private readonly states = new WeakMap<Session, SessionState>()
  private readonly slots = new WeakMap<Session, ConnectionSlot>()

  constructor (readonly options: ResolvedLimits, private readonly report: (limit: LimitName) => void, private readonly now: () => number = () => performance.now()) {
    this.ipBuckets = options.ipRate === undefined ? undefined : new KeyedBuckets(options.ipRate, options.maxTrackedIps)
  }

  /** Admitted sessions now (and upgrades under way). */
  get connections (): number {
    return this.counts.total
  }

  /** Admitted sessions of one client IP. */
  connectionsOf (ip: string): number {
    return this.counts.perIp.get(ip) ?? 0
  }

  /** Client IPs with at least one admitted session. */
  get trackedIps (): number {
    return this.counts.perIp.size
  }

  /** Before `authenticate` (it may be costly): refuse a full server or IP at once. Throws the coded refusal. */
  checkConnections (ip: string | undefined): void {
    const { maxConnections, maxConnectionsPerIp } = this.options
    if (this.counts.total >= maxConnections) throw this.refuse('connections', codedError(ErrorCodes.SERVER_FULL, `Server is full (${maxConnections} connections): retry later or on another node`, { retryAfter: 1 }))
    if (ip !== undefined && this.connectionsOf(ip) >= maxConnectionsPerIp) {
      throw this.refuse('connections_per_ip', codedError(ErrorCodes.LIMIT_EXCEEDED, `Limit exceeded: at most ${maxConnectionsPerIp} connections per client IP`))
    }
  }

  /** After `authenticate`: check every cap again and take a place in the counts. Throws the coded refusal. */
  reserve (ip: string | undefined, identityKey: string | undefined): ConnectionSlot {
    this.checkConnections(ip)
    const { maxConnectionsPerIdentity } = this.options
    if (identityKey !== undefined && (this.counts.perIdentity.get(identityKey) ?? 0) >= maxConnectionsPerIdentity) {
      throw this.refuse('connections_per_identity', codedError(ErrorCodes.LIMIT_EXCEEDED, `Limit exceeded: at most ${maxConnectionsPerIdentity} connections per identity`))
    }
    const slot = new ConnectionSlot(this.counts, ip, identityKey)
    this.counts.add(slot)
    return slot
  }

  /** The session now holds `slot`: closing it releases the slot. */
  bind (session: Session, slot: ConnectionSlot): void {
    this.slots.set(session, slot)
  }

  /** A session closed: give its place back. */
  release (session: Session): void {
    this.slots.get(session)?.release()
  }

  /** One long-poll session creation or server-side HTTP publish from `ip`; over `ipRate` throws 429 `VIX_ERR_RATE_LIMITED` with `retryAfter`. */
  takeIp (ip: string | undefined): void {
    const buckets = this.ipBuckets
    if (buckets === undefined || ip === undefined || buckets.take(ip, this.now())) return
    throw this.refuse('ip_rate', codedError(ErrorCodes.RATE_LIMITED, `Rate limit exceeded: more than ${(this.options.ipRate as Rate).rate} requests/s from this client IP`, { retryAfter: buckets.retryAfter(ip) }))
  }

  /**
   * One inbound frame of `session` (checked as it enters the inbox): accepted,
   * refused for the rate, or the session kept going past `closeAfter` refusals
   * without ever letting its bucket refill, and is to be closed 1008.
   */
  frame (session: Session): Verdict {
    const rate = this.options.sessionRate
    if (rate === undefined) return 'accept'
    const state = this.state(session)
    const now = this.now()
    state.bucket ??= new TokenBucket(rate, now)
    if (state.strikes > 0 && state.bucket.full(now)) state.strikes = 0
    if (state.bucket.take(now)) return 'accept'
    this.report('session_rate')
    return ++state.strikes > rate.closeAfter ? 'close' : 'refuse'
  }

  /** The refusal of a frame over the session rate (error frame, or 429 with `Retry-After`). */
  rateLimited (session: Session): VixError {
    const rate = this.options.sessionRate as Required<Rate>
    return codedError(ErrorCodes.RATE_LIMITED, `Rate limit exceeded: more than ${rate.rate} messages/s (burst ${rate.burst}) on this session`, { retryAfter: this.states.get(session)?.bucket?.retryAfter() ?? 1 })
  }

  /** One frame of a type declared with `rate`; over it throws `VIX_ERR_RATE_LIMITED`. */
  takeType (session: Session, type: string, rate: Required<Rate>): void {
    const state = this.state(session)
    state.types ??= new Map()
    let bucket = state.types.get(type)
    const now = this.now()
    if (bucket === undefined) {
      bucket = new TokenBucket(rate, now)
      state.types.set(type, bucket)
    }
    if (bucket.take(now)) return
    throw this.refuse('type_rate', codedError(ErrorCodes.RATE_LIMITED, `Rate limit exceeded: more than ${rate.rate} "${type}" messages/s (burst ${rate.burst}) on this session`, { retryAfter: bucket.retryAfter() }))
  }

  /** Throws `VIX_ERR_LIMIT_EXCEEDED` when `session` may not join `room` for a cap (rooms per session, members per room). */
  checkJoin (session: Session, room: string, members: number): void {
    if (session.rooms.has(room)) return
    const { maxRoomsPerSession, maxMembersPerRoom } = this.options
    if (session.rooms.size >= maxRoomsPerSession) {
      throw this.refuse('rooms_per_session', codedError(ErrorCodes.LIMIT_EXCEEDED, `Limit exceeded: at most ${maxRoomsPerSession} rooms per session`))
    }
    if (members >= maxMembersPerRoom) {
      throw this.refuse('members_per_room', codedError(ErrorCodes.LIMIT_EXCEEDED, `Limit exceeded: room "${room}" has ${maxMembersPerRoom} members, its most`))
    }
  }

  /** Count a refusal made elsewhere (the inbox bound, a type's `maxSize`). */
  refused (limit: LimitName): void {
    this.report(limit)
  }

  private refuse (limit: LimitName, error: VixError): VixError {
    this.report(limit)
    return error
  }

  private state (session: Session): SessionState {
    let state = this.states.get(session)
    if (state === undefined) {
      state = { bucket: undefined, strikes: 0, types: undefined }
      this.states.set(session, state)
    }
    return state
  }
}
