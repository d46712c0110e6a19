import { InvalidOptionError } from '../errors.js'
import { checkInteger, checkOptionalFunction, checkOptionKeys, checkStringList, type OptionShape } from '../options.js'
import type { Identity, Session } from '../session.js'

/** The hub option `presence`: which rooms track their members, what each member shows, and the cluster timings. */
export interface PresenceOptions {
  /** Rooms with presence: `'all'` (default), a list of names, or a predicate. */
  rooms?: 'all' | string[] | ((room: string) => boolean)
  /** What a member shows others (e.g. a display name), from its identity; taken from its first connection (default `{}`). */
  meta?: (identity: Identity, session: Session) => Record<string, unknown>
  /** Diffs of one room are coalesced over this window, in ms (default 100). */
  window?: number
  /** How often a node announces its members to the others, in ms (default 5000). */
  heartbeat?: number
  /** A node silent for this long is gone (a crash): its members leave everyone's view, in ms (default 15000). */
  ttl?: number
  /** On graceful shutdown others keep a node's members this long, so clients reconnecting elsewhere do not flap the list, in ms (default 5000). */
  grace?: number
}

export interface ResolvedPresenceOptions {
  isPresenceRoom: (room: string) => boolean
  meta: ((identity: Identity, session: Session) => Record<string, unknown>) | undefined
  window: number
  heartbeat: number
  ttl: number
  grace: number
}

/** The keys of `PresenceOptions`: any other fails boot. */
export const presenceOptionShape = { rooms: true, meta: true, window: true, heartbeat: true, ttl: true, grace: true } as const satisfies OptionShape & Record<keyof PresenceOptions, true>

const defaults = { rooms: 'all' as PresenceOptions['rooms'], window: 100, heartbeat: 5000, ttl: 15_000, grace: 5000 }

/**
 * Resolve the `presence` hub option (undefined or false: presence off); a bad
 * value throws `VIX_ERR_INVALID_OPTION` naming it.
 *
 * @example
 * const presence = resolvePresenceOptions({ rooms: ['lobby'], meta: (user) => ({ name: user.name }) })
 */
export function resolvePresenceOptions (option: unknown): ResolvedPresenceOptions | undefined {
  if (option === undefined || option === false) return undefined
  if (typeof option !== 'object' || option === null) throw new InvalidOptionError('presence', 'expected { rooms?, meta?, window?, heartbeat?, ttl?, grace? }')
  checkOptionKeys(option, presenceOptionShape, 'presence')
  const resolved = { ...defaults, ...(option as PresenceOptions) }
  checkInteger('presence.window', resolved.window, 1, 60_000)
  checkInteger('presence.heartbeat', resolved.heartbeat, 10)
  checkInteger('presence.ttl', resolved.ttl, resolved.heartbeat + 1)
  checkInteger('presence.grace', resolved.grace, 0)
  checkOptionalFunction('presence.meta', resolved.meta)
  return { isPresenceRoom: roomsPredicate(resolved.rooms), meta: resolved.meta, window: resolved.window, heartbeat: resolved.heartbeat, ttl: resolved.ttl, grace: resolved.grace }
}

function roomsPredicate (rooms: unknown): (room: string) => boolean {
  if (rooms === 'all') return () => true
  if (typeof rooms === 'function') return rooms as (room: string) => boolean
  if (!Array.isArray(rooms)) throw new InvalidOptionError('presence.rooms', 'expected "all", a list of room names or a predicate')
  const names = new Set(checkStringList('presence.rooms', rooms))
  return (room) => names.has(room)
}
