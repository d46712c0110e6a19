import { Expiry, type Clock } from './expiry.js'
import { refreshRequestOf, TokenRefresh, type RefreshParts } from './refresh.js'
import type { HubOptions } from './options.js'

/** What the hub hands `sessionTokens`: its options (`clock`, `tokenGrace`, `refresh`, `authenticate`, `identityKey`) and the session operations a refresh uses. */
export type TokenParts = Pick<RefreshParts, 'identityKey' | 'authorizeJoin' | 'leave' | 'send' | 'report'> &
  Pick<HubOptions, 'refresh' | 'authenticate'> & { clock: Clock, tokenGrace: number }

/**
 * Tokens that expire and refresh in-band: the expiry clocks (a hub observer:
 * add it) and the `auth.refresh` handler (the dispatcher's `refresh`). The
 * default `refresh` is `authenticate` on the request `refreshRequestOf` builds.
 */
export function sessionTokens (parts: TokenParts): { expiry: Expiry, refresh: TokenRefresh['refresh'] } {
  const { clock, authenticate } = parts
  const expiry = new Expiry({ clock, grace: parts.tokenGrace, send: parts.send })
  const tokens = new TokenRefresh({
    ...parts,
    refresh: parts.refresh ?? (async (session, token) => await authenticate?.(refreshRequestOf(session, token))),
    now: clock.now,
    track: (session) => { expiry.track(session) }
  })
  return { expiry, refresh: tokens.refresh }
}
