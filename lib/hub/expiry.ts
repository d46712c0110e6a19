import { CloseCodes, ErrorCodes } from '../errors.js'
import { systemFrame, type RealtimeMessage } from '../frames.js'
import type { Session } from '../session.js'

/** Time as the expiry reads it; replace it with a fake clock in tests (the `clock` hub option). */
export interface Clock {
  /** Milliseconds since the epoch. */
  now: () => number
  setTimeout: (callback: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

/** Real time; the timers are unref'd, so a session waiting to expire never keeps the process alive. */
export const systemClock: Clock = {
  now: Date.now,
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => { clearTimeout(handle as NodeJS.Timeout) }
}

/** `session.expiring` is sent this long before `expiresAt` (or halfway there, when the token lives less than twice this). */
export const EXPIRING_NOTICE = 30_000
/** setTimeout fires at once past 2^31 - 1 ms: a longer wait is taken in steps. */
const MAX_DELAY = 2_147_483_647

/** What the expiry needs from the hub. */
export interface ExpiryParts {
  clock: Clock
  /** How long past `expiresAt` a session waits for an `auth.refresh` before it is closed (the `tokenGrace` option, ms). */
  grace: number
  send: (session: Session, frame: RealtimeMessage) => boolean
}

/** The frame before a close by the server: why (`code`, and `error`, a `VIX_ERR_*` code, when there is one) and whether the client should reconnect. */
export function closedFrame (code: number, reason: string, reconnect: boolean, error?: string): RealtimeMessage {
  return systemFrame('session.closed', error === undefined ? { code, reason, reconnect } : { code, error, reason, reconnect })
}

/**
 * The token clocks of sessions whose `authenticate` (or last `auth.refresh`)
 * returned an `expiresAt`: `session.expiring` shortly before it, then, past
 * `expiresAt` plus the grace without a refresh, `session.closed` and the close
 * `4001` (`VIX_ERR_TOKEN_EXPIRED`). One timer per such session, replaced by
 * each refresh, cleared when it closes. Works as a hub observer.
 *
 * @example
 * const expiry = new Expiry({ clock: systemClock, grace: 25_000, send })
 * hub.addObserver(expiry) // sessionOpened tracks session.expiresAt, sessionClosed forgets it
 */
export class Expiry {
  private readonly timers = new Map<Session, unknown>()

  constructor (private readonly parts: ExpiryParts) {}

  readonly sessionOpened = (session: Session): void => { this.track(session) }
  readonly sessionClosed = (session: Session): void => { this.forget(session) }

  /** (Re)start the session's clock from its `expiresAt`; a session without one has none. */
  track (session: Session): void {
    this.forget(session)
    const expiresAt = session.expiresAt
    if (expiresAt === undefined || session.closed) return
    const now = this.parts.clock.now()
    const notice = expiresAt - Math.min(EXPIRING_NOTICE, Math.max(0, (expiresAt - now) / 2))
    this.at(session, notice, () => { this.expiring(session, expiresAt) })
  }

  /** Stop the session's clock (it closed). */
  forget (session: Session): void {
    const handle = this.timers.get(session)
    if (handle === undefined) return
    this.parts.clock.clearTimeout(handle)
    this.timers.delete(session)
  }

  private expiring (session: Session, expiresAt: number): void {
    const closesAt = expiresAt + this.parts.grace
    this.parts.send(session, systemFrame('session.expiring', { expiresAt, closesAt }))
    this.at(session, closesAt, () => { this.expire(session) })
  }

  private expire (session: Session): void {
    this.timers.delete(session)
    const reason = 'token expired'
    this.parts.send(session, closedFrame(CloseCodes.TOKEN_EXPIRED, reason, true, ErrorCodes.TOKEN_EXPIRED))
    session.close(CloseCodes.TOKEN_EXPIRED, `${ErrorCodes.TOKEN_EXPIRED}: ${reason}`)
  }

  /** Run `fn` at `time` (in steps when it is far). */
  private at (session: Session, time: number, fn: () => void): void {
    const delay = time - this.parts.clock.now()
    const step = Math.min(Math.max(0, delay), MAX_DELAY)
    this.timers.set(session, this.parts.clock.setTimeout(() => {
      if (step < delay) this.at(session, time, fn)
      else fn()
    }, step))
  }
}
