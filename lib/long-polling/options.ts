import type { LongPollingEnvOptions } from '../config.js'
import { InvalidOptionError } from '../errors.js'
import { checkInteger, checkOptionalFunction, checkPath } from '../options.js'
import type { RecipientIdResolver } from './bridge.js'

/** Long-polling transport options (times in milliseconds). */
export interface LongPollingOptions extends LongPollingEnvOptions {
  /** Routes live under it: `${prefix}/poll` and `${prefix}/send` (default `/ws`). */
  prefix?: string
  /** A session not polled for this long is swept (default 60000; env `LONGPOLL_SESSION_TTL`, seconds). */
  sessionTtl?: number
  /** Frames queued per session; overflow drops the oldest and reports `dropped` (default 1024; env `LONGPOLL_MAX_BUFFER`). */
  maxBuffer?: number
  /** How long a poll is held when nothing is queued, unless the client asks for less (default 25000; env `LONGPOLL_WAIT`, seconds). */
  wait?: number
  /** Upper bound of a client's `wait` (default: the larger of `wait` and 30000). */
  maxWait?: number
  /** Largest `POST /send` body, in bytes (default 65536, like WebSocket frames). */
  maxMessageSize?: number
  /** Extra long-poll recipients of a room message, besides its members (see `RecipientIdResolver`). */
  resolveRecipients?: RecipientIdResolver
  /** Comparable form of an identity, to bind sessions to it (default `JSON.stringify`). */
  identityKey?: (identity: unknown) => string | undefined
}

export type ResolvedLongPollingOptions = Required<Omit<LongPollingOptions, 'resolveRecipients' | 'identityKey'>> & Pick<LongPollingOptions, 'resolveRecipients' | 'identityKey'>

export const longPollingDefaults = {
  prefix: '/ws',
  sessionTtl: 60_000,
  maxBuffer: 1024,
  wait: 25_000,
  maxMessageSize: 65536
} as const

/** Resolve defaults in one spread and check every option; a bad one throws `VIX_ERR_INVALID_OPTION`. */
export function resolveLongPollingOptions (options: LongPollingOptions): ResolvedLongPollingOptions {
  const merged = { ...longPollingDefaults, ...options }
  const resolved = { ...merged, maxWait: merged.maxWait ?? Math.max(merged.wait, 30_000) }
  checkPath('prefix', resolved.prefix)
  if (resolved.prefix.endsWith('/')) throw new InvalidOptionError('prefix', `must not end with "/", got ${JSON.stringify(resolved.prefix)}`)
  checkInteger('sessionTtl', resolved.sessionTtl, 1)
  checkInteger('maxBuffer', resolved.maxBuffer, 1)
  checkInteger('wait', resolved.wait, 0)
  checkInteger('maxWait', resolved.maxWait, resolved.wait)
  checkInteger('maxMessageSize', resolved.maxMessageSize, 1)
  checkOptionalFunction('resolveRecipients', resolved.resolveRecipients)
  checkOptionalFunction('identityKey', resolved.identityKey)
  return resolved
}
