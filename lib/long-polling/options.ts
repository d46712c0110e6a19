import { InvalidOptionError } from '../errors.js'
import type { RealtimeMessage } from '../frames.js'
import type { InboundMessage } from '../hub/types.js'
import { checkInteger, checkOptionalFunction, checkOptionKeys, checkPath, type OptionShape } from '../options.js'
import { websocketDefaults } from '../websocket/options.js'

/**
 * Names the long-poll sessions that should get a room message besides the
 * room's members (which always get it). Return session ids; unknown ids and
 * sessions that are not long-poll sessions are ignored.
 */
export type RecipientIdResolver = (message: RealtimeMessage) => Iterable<string> | undefined

/**
 * Who may publish over `POST /ws/send` without a `session_id` (a server-side
 * publish): a bearer `key` (`Authorization: Bearer <key>`), an `authorize`
 * callback, or both (then both must agree). Unset: nobody, the route answers 403.
 */
export interface ServerPublishOptions {
  /** The shared secret of `Authorization: Bearer <key>` (at least 16 characters). */
  key?: string
  /** Decide from the request and the decoded message; false or a throw refuses (403). */
  authorize?: (request: unknown, message: InboundMessage) => boolean | Promise<boolean>
}

/** Long-polling transport options (times in milliseconds). */
export interface LongPollingOptions {
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
  /** Server-side publish over `POST /send` without `session_id`: off unless given. */
  serverPublish?: ServerPublishOptions
}

export type ResolvedLongPollingOptions = Required<Omit<LongPollingOptions, 'resolveRecipients' | 'serverPublish'>> & Pick<LongPollingOptions, 'resolveRecipients' | 'serverPublish'>

export const longPollingDefaults = {
  prefix: '/ws',
  sessionTtl: 60_000,
  maxBuffer: 1024,
  wait: 25_000,
  maxMessageSize: websocketDefaults.maxMessageSize
} as const

/** The keys of `LongPollingOptions`, `serverPublish` included: any other fails boot. */
export const longPollingOptionShape = {
  prefix: true,
  sessionTtl: true,
  maxBuffer: true,
  wait: true,
  maxWait: true,
  maxMessageSize: true,
  resolveRecipients: true,
  serverPublish: { key: true, authorize: true }
} as const satisfies OptionShape & Record<keyof LongPollingOptions, unknown>

/** Resolve defaults in one spread and check every option; a bad one throws `VIX_ERR_INVALID_OPTION`. */
export function resolveLongPollingOptions (options: LongPollingOptions): ResolvedLongPollingOptions {
  checkOptionKeys(options, longPollingOptionShape)
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
  checkServerPublish(resolved.serverPublish)
  return resolved
}

function checkServerPublish (value: ServerPublishOptions | undefined): void {
  if (value === undefined) return
  if (typeof value !== 'object' || value === null) throw new InvalidOptionError('serverPublish', 'expected { key?, authorize? }')
  if (value.key !== undefined && (typeof value.key !== 'string' || value.key.length < 16)) {
    throw new InvalidOptionError('serverPublish.key', 'expected a string of at least 16 characters')
  }
  checkOptionalFunction('serverPublish.authorize', value.authorize)
  if (value.key === undefined && value.authorize === undefined) throw new InvalidOptionError('serverPublish', 'give a key, an authorize callback, or both')
}
