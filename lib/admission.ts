import { ErrorCodes, ForbiddenError, ShuttingDownError, TokenExpiredError, UnauthorizedError, codedError, isVixError, type VixError } from './errors.js'
import { unwrapIdentity } from './identity.js'
import type { Maybe } from './hub/maybe.js'
import type { ErrorReason } from './hub/types.js'
import type { ConnectionSlot, Limits } from './limits/limits.js'
import { SENDER_KEY, Session, type Transport } from './session.js'

/** What admission needs from the hub. */
export interface AdmissionParts {
  stopping: () => boolean
  goingAwayRetryAfter: number
  authenticate?: ((request: unknown) => unknown) | undefined
  identityKey: (identity: unknown) => string | undefined
  report: (reason: ErrorReason) => void
  limits: Limits
  /** Throws `VIX_ERR_FORBIDDEN` when the `authorizeJoin` option denies `session` the room. */
  authorizeJoin: (session: Session, room: string) => Maybe<void>
  /** The clock `expiresAt` is compared with (ms since the epoch). */
  now: () => number
}

/** Per-transport policy of one admission. */
export interface AdmissionPolicy {
  /** Transport asking: `websocket` (before the 101), `long-polling` (a new session) or `sse` (a new stream). */
  transport: 'websocket' | 'long-polling' | 'sse' | 'http'
  /** Allowed `Origin` values (WebSocket): unset allows any. */
  allowedOrigins?: ReadonlySet<string>
  /** The request's `Origin` header. */
  origin?: string
  /** The client's IP (Fastify's `request.ip`, so `trustProxy` applies): the per-IP cap and rate. */
  ip?: string
  /** The `client_key` query parameter as sent: absent, or a sender key (`SENDER_KEY`), else the request is refused 400. */
  senderKey?: unknown
}

/** Who was let in. */
export interface Admitted {
  identity: unknown
  identityKey: string | undefined
  /**
   * Its place in the connection counts: pass it to `openSession` (released
   * when the session closes), or `release()` it if no session follows.
   */
  slot: ConnectionSlot
  /** The client's sender key, when it sent one: pass it to `openSession`. */
  senderKey?: string
  /** When its token expires (ms since the epoch), when `authenticate` said so: pass it to `openSession`. */
  expiresAt?: number
}

/** A `client_key` as sent: absent, or a sender key; anything else is the 400 `VIX_ERR_INVALID_REQUEST`. */
function checkSenderKey (value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' && SENDER_KEY.test(value)) return value
  throw codedError(ErrorCodes.INVALID_REQUEST, 'querystring/client_key: expected 16 to 128 characters of A-Z, a-z, 0-9, - and _', { path: '/client_key' })
}

/**
 * The one door of every transport, in order: shutting down → 503 with
 * `Retry-After`; the origin policy → 403; a long-poll creation over the
 * per-IP rate → 429 `VIX_ERR_RATE_LIMITED`; a full server → 503
 * `VIX_ERR_SERVER_FULL`, a full IP → 429 `VIX_ERR_LIMIT_EXCEEDED` (checked
 * before `authenticate`, which may be costly); `authenticate` → 401; a full
 * identity → 429. A WebSocket is refused before its `101`, a long-poll
 * client before it gets a session.
 *
 * @example
 * const { identity } = await admission.admit(request, { transport: 'long-polling' })
 */
export class Admission {
  constructor (private readonly parts: AdmissionParts) {}

  /** Throws the coded refusal (with `retryAfter` in seconds for a 503). */
  async admit (request: unknown, policy: AdmissionPolicy): Promise<Admitted> {
    if (this.parts.stopping()) throw this.shuttingDown()
    if (policy.allowedOrigins !== undefined && (policy.origin === undefined || !policy.allowedOrigins.has(policy.origin))) {
      this.parts.report('forbidden')
      throw new ForbiddenError(`origin ${policy.origin ?? '(none)'} is not allowed`)
    }
    const senderKey = checkSenderKey(policy.senderKey)
    const { limits } = this.parts
    if (policy.transport === 'long-polling' || policy.transport === 'sse') limits.takeIp(policy.ip)
    limits.checkConnections(policy.ip)
    const { identity, expiresAt } = await this.authenticateToken(request)
    if (expiresAt !== undefined && expiresAt <= this.parts.now()) {
      this.parts.report('unauthorized')
      throw new TokenExpiredError()
    }
    const identityKey = this.parts.identityKey(identity)
    // Checked again: other clients may have been admitted while authenticate ran.
    const admitted: Admitted = { identity, identityKey, slot: limits.reserve(policy.ip, identityKey) }
    if (senderKey !== undefined) admitted.senderKey = senderKey
    if (expiresAt !== undefined) admitted.expiresAt = expiresAt
    return admitted
  }

  /** The 503 of a stopping server; clients retry after the same delay `server.going_away` tells them. */
  shuttingDown (): VixError {
    const error = new ShuttingDownError() as VixError
    error.retryAfter = Math.max(1, Math.ceil(this.parts.goingAwayRetryAfter / 1000))
    return error
  }

  /**
   * Resolve a client's identity for any transport or route. A rejection (a
   * throw, or `null` / `undefined` / `false`) is counted as `unauthorized` and
   * thrown as the coded 401 `VIX_ERR_UNAUTHORIZED`.
   */
  async authenticate (request: unknown): Promise<unknown> {
    return (await this.authenticateToken(request)).identity
  }

  /** `authenticate`, with the token's expiry when it returned `{ identity, expiresAt }` (see `unwrapIdentity`). */
  async authenticateToken (request: unknown): Promise<{ identity: unknown, expiresAt: number | undefined }> {
    const authenticate = this.parts.authenticate
    if (authenticate === undefined) return { identity: undefined, expiresAt: undefined }
    let identity: unknown
    try {
      identity = await authenticate(request)
    } catch (error) {
      this.parts.report('unauthorized')
      throw new UnauthorizedError((error as Error).message)
    }
    if (identity === null || identity === undefined || identity === false) {
      this.parts.report('unauthorized')
      throw new UnauthorizedError('rejected by authenticate')
    }
    return unwrapIdentity(identity)
  }

  /**
   * Who may read a room over HTTP (its history, later its presence): whoever
   * may join it. The request is checked as a detached session (not in the
   * hub, sends dropped) against `authenticate` (401) and `authorizeJoin` (403).
   */
  async authorizeRead (request: unknown, room: string): Promise<void> {
    const identity = await this.authenticate(request)
    const reader = new Session(detachedTransport, { identity, identityKey: this.parts.identityKey(identity), maxBufferedAmount: Number.MAX_SAFE_INTEGER })
    try {
      await this.parts.authorizeJoin(reader, room)
    } catch (error) {
      if (!isVixError(error) || error.code !== ErrorCodes.FORBIDDEN) throw error
      this.parts.report('forbidden')
      throw new ForbiddenError(`may not read room "${room}"`)
    }
  }
}

const ignore = (): void => {}
const detachedTransport: Transport = { name: 'http', send: ignore, bufferedAmount: () => 0, close: ignore, terminate: ignore }
