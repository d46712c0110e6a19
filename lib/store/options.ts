import { InvalidOptionError } from '../errors.js'
import { checkInteger, checkOptionKeys, checkPath, checkStringList, EACH, type OptionShape } from '../options.js'
import type { PersistFilter } from './persistence.js'
import { defaultHoldOptions, type HoldOptions } from './room-streams.js'
import type { RetentionOptions } from './retention.js'
import type { SynchronousMode } from './sqlite.js'
import type { MessageStore, RetentionRule } from './types.js'
import type { Pool } from 'pg'

export interface MessageStoreOptions {
  /** SQLite database file (default `./data/messages.db`); its directory is created when missing. */
  path?: string
  /** A store instance to use instead of opening `path`; the app keeps ownership and closes it. */
  store?: MessageStore
  /** PostgreSQL instead of SQLite, for history shared by several nodes: a `postgres://` URL, or a `pg` Pool of the app's (left open on close). */
  postgres?: string | Pool
  /** The PostgreSQL schema of the tables (default `public`); created when missing. */
  schema?: string
  /**
   * PostgreSQL: learn of messages published in transactions (`publishIn`, by any process) through `LISTEN` on a
   * connection of its own: `true` connects like the store, a `postgres://` URL connects there (a direct one when
   * `postgres` goes through a transaction-mode pooler, where LISTEN does not work). Default off.
   */
  listen?: boolean | string
  /** SQLite durability: NORMAL (default) survives a process crash, FULL also power loss. */
  synchronous?: SynchronousMode
  /** How long opening waits for a lock held by another connection, in ms (default 5000). */
  busyTimeout?: number
  /** Most messages one `room.join` replays (default 1000); further back answers `recovered: false`. */
  replayLimit?: number
  /** Retention per room; default keeps everything. */
  retention?: RetentionOptions
  /** Which messages are stored (default every room message). */
  persist?: PersistFilter
  /** Route of the history endpoint (default `/ws/history`). */
  historyPath?: string
  /** How a stored room's later messages are held while a hole in it cannot be read from the store (defaults: `maxHeld` 10000, `maxHoldMs` 30000, `retryMin` 50, `retryMax` 2000, `checkInterval` 10000). */
  hold?: Partial<HoldOptions>
}

export const messageStoreDefaults = { path: './data/messages.db', synchronous: 'NORMAL' as SynchronousMode, busyTimeout: 5000, replayLimit: 1000, historyPath: '/ws/history' }

const retentionRuleShape = { maxMessages: true, maxAge: true } as const satisfies OptionShape & Record<keyof RetentionRule, true>

/**
 * The keys of `MessageStoreOptions` and of its nested objects: any other fails
 * boot. `store` (an instance) and `postgres` (a Pool) are not looked into;
 * `retention.rooms` maps the application's room names, each to a rule.
 */
export const messageStoreOptionShape = {
  path: true,
  store: true,
  postgres: true,
  schema: true,
  listen: true,
  synchronous: true,
  busyTimeout: true,
  replayLimit: true,
  retention: { ...retentionRuleShape, rooms: { [EACH]: retentionRuleShape }, interval: true, batchSize: true },
  persist: { rooms: true, types: true },
  historyPath: true,
  hold: { maxHeld: true, maxHoldMs: true, retryMin: true, retryMax: true, checkInterval: true }
} as const satisfies OptionShape & Record<keyof MessageStoreOptions, unknown>

function checkRule (name: string, rule: RetentionRule): void {
  if (rule.maxMessages !== undefined) checkInteger(`${name}.maxMessages`, rule.maxMessages, 1)
  if (rule.maxAge !== undefined) checkInteger(`${name}.maxAge`, rule.maxAge, 1)
}

export function resolveMessageStoreOptions (options: MessageStoreOptions): typeof messageStoreDefaults & MessageStoreOptions {
  checkOptionKeys(options, messageStoreOptionShape)
  const resolved = { ...messageStoreDefaults, ...options }
  if (typeof resolved.path !== 'string' || resolved.path.length === 0) throw new InvalidOptionError('path', 'expected a non-empty file path')
  if (resolved.synchronous !== 'NORMAL' && resolved.synchronous !== 'FULL') throw new InvalidOptionError('synchronous', `expected "NORMAL" or "FULL", got ${JSON.stringify(resolved.synchronous)}`)
  checkInteger('busyTimeout', resolved.busyTimeout, 0)
  checkInteger('replayLimit', resolved.replayLimit, 1)
  checkPath('historyPath', resolved.historyPath)
  if (resolved.store !== undefined && (typeof resolved.store !== 'object' || typeof resolved.store.append !== 'function')) {
    throw new InvalidOptionError('store', 'expected a MessageStore instance')
  }
  const postgres = resolved.postgres as unknown
  if (postgres !== undefined && !(typeof postgres === 'string' && /^postgres(ql)?:\/\//.test(postgres)) && !(typeof postgres === 'object' && postgres !== null && typeof (postgres as Partial<Pool>).connect === 'function')) {
    throw new InvalidOptionError('postgres', 'expected a postgres:// URL or a pg Pool')
  }
  if (postgres !== undefined && resolved.store !== undefined) throw new InvalidOptionError('postgres', 'give either store or postgres, not both')
  const listen = resolved.listen as unknown
  if (listen !== undefined && typeof listen !== 'boolean' && !(typeof listen === 'string' && /^postgres(ql)?:\/\//.test(listen))) {
    throw new InvalidOptionError('listen', 'expected true, false or a postgres:// URL')
  }
  if (listen !== undefined && listen !== false && postgres === undefined && resolved.store === undefined) throw new InvalidOptionError('listen', 'is for the PostgreSQL store (give postgres too)')
  if (resolved.schema !== undefined && (typeof resolved.schema !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(resolved.schema))) {
    throw new InvalidOptionError('schema', 'expected an SQL identifier (letters, digits, _)')
  }
  const persist = resolved.persist
  if (persist !== undefined && typeof persist !== 'function') {
    if (typeof persist !== 'object' || persist === null) throw new InvalidOptionError('persist', 'expected a function or { rooms?, types? }')
    if (persist.rooms !== undefined) checkStringList('persist.rooms', persist.rooms)
    if (persist.types !== undefined) checkStringList('persist.types', persist.types)
  }
  for (const [name, value] of Object.entries(resolved.hold ?? {})) {
    if (!(name in defaultHoldOptions)) throw new InvalidOptionError(`hold.${name}`, `unknown; expected one of ${Object.keys(defaultHoldOptions).join(', ')}`)
    checkInteger(`hold.${name}`, value, name === 'checkInterval' ? 0 : 1)
  }
  const retention = resolved.retention
  if (retention !== undefined) {
    checkRule('retention', retention)
    if (retention.interval !== undefined) checkInteger('retention.interval', retention.interval, 1)
    if (retention.batchSize !== undefined) checkInteger('retention.batchSize', retention.batchSize, 1)
    for (const [room, rule] of Object.entries(retention.rooms ?? {})) checkRule(`retention.rooms.${room}`, rule)
  }
  return resolved
}
