import { AuthRefreshPayload } from '../../schemas/session.js'
import { compileValidator } from '../codec.js'
import { ErrorCodes, TokenExpiredError, UnauthorizedError, isVixError } from '../errors.js'
import { ackFrame, systemFrame, type RealtimeMessage } from '../frames.js'
import { unwrapIdentity } from '../identity.js'
import type { Session } from '../session.js'
import type { Maybe } from './maybe.js'
import { payloadError } from './router.js'
import type { DispatchOk, ErrorReason, InboundMessage } from './types.js'

/**
 * The request the default `refresh` hands `authenticate`: the token as a
 * WebSocket URL or a poll carries it, in the `token` query parameter and as an
 * `Authorization: Bearer` header, with `refresh: true` and the session.
 */
export interface RefreshRequest {
  headers: { authorization: string }
  query: { token: string }
  refresh: true
  session: Session
}

/** What the refresh needs from the hub. */
export interface RefreshParts {
  /** The `refresh` option, or the default: `authenticate` on a `RefreshRequest`. */
  refresh: (session: Session, token: string) => unknown
  identityKey: (identity: unknown) => string | undefined
  now: () => number
  /** Restart the session's token clock from its new `expiresAt`. */
  track: (session: Session) => void
  /** Throws `VIX_ERR_FORBIDDEN` when `authorizeJoin` denies. */
  authorizeJoin: (session: Session, room: string) => Maybe<void>
  leave: (session: Session, room: string) => boolean
  send: (session: Session, frame: RealtimeMessage) => boolean
  report: (reason: ErrorReason) => void
}

/** The request a token is checked as by default (see `RefreshRequest`). */
export function refreshRequestOf (session: Session, token: string): RefreshRequest {
  return { headers: { authorization: `Bearer ${token}` }, query: { token }, refresh: true, session }
}

/**
 * `auth.refresh` `{ token }`: the token is checked by `refresh` (a throw or a
 * rejection is `VIX_ERR_UNAUTHORIZED`, a past `expiresAt` is
 * `VIX_ERR_TOKEN_EXPIRED`, and it must name the same client: the same
 * identity key); the session keeps its connection and rooms, takes the new
 * identity and expiry, and leaves, with a `room.left` frame
 * (`VIX_ERR_FORBIDDEN`), each room `authorizeJoin` now refuses it. Acked with
 * `{ expiresAt }` (null: it no longer expires). A refused token leaves the
 * session as it was: it still closes when its old token's grace ends.
 */
export class TokenRefresh {
  private readonly validator = compileValidator(AuthRefreshPayload)

  constructor (private readonly parts: RefreshParts) {}

  readonly refresh = async (session: Session, message: InboundMessage): Promise<DispatchOk> => {
    if (!this.validator.check(message.payload)) throw payloadError(this.validator, message.payload)
    const { identity, expiresAt } = await this.check(session, message.payload.token as string)
    session.renew(identity, expiresAt)
    this.parts.track(session)
    for (const room of [...session.rooms]) await this.recheck(session, room)
    this.parts.send(session, ackFrame('auth.refresh', { id: message.id }, { expiresAt: expiresAt ?? null }))
    return message.id === undefined ? { ok: true } : { ok: true, id: message.id }
  }

  private async check (session: Session, token: string): Promise<{ identity: unknown, expiresAt: number | undefined }> {
    let result: unknown
    try {
      result = await this.parts.refresh(session, token)
    } catch (error) {
      this.parts.report('unauthorized')
      throw isVixError(error) && error.code === ErrorCodes.UNAUTHORIZED ? error : new UnauthorizedError((error as Error).message)
    }
    if (result === null || result === undefined || result === false) {
      this.parts.report('unauthorized')
      throw new UnauthorizedError('token refused')
    }
    const renewed = unwrapIdentity(result)
    if (this.parts.identityKey(renewed.identity) !== session.identityKey) {
      this.parts.report('unauthorized')
      throw new UnauthorizedError('the token is another identity\'s')
    }
    if (renewed.expiresAt !== undefined && renewed.expiresAt <= this.parts.now()) {
      this.parts.report('unauthorized')
      throw new TokenExpiredError()
    }
    return renewed
  }

  private async recheck (session: Session, room: string): Promise<void> {
    try {
      await this.parts.authorizeJoin(session, room)
    } catch (error) {
      if (!isVixError(error) || error.code !== ErrorCodes.FORBIDDEN) throw error
      if (!this.parts.leave(session, room)) return
      const frame = systemFrame('room.left', { room, code: ErrorCodes.FORBIDDEN, message: `Forbidden: the refreshed identity may not stay in room "${room}"` })
      frame.room = room
      this.parts.send(session, frame)
    }
  }
}
