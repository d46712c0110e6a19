import { InvalidOptionError } from './errors.js'

/**
 * Register-time option checks shared by every plugin. Each throws
 * `VIX_ERR_INVALID_OPTION` naming the option, so a bad option fails boot.
 */
export function checkInteger (name: string, value: unknown, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `expected an integer between ${min} and ${max}, got ${JSON.stringify(value)}`)
  }
  return value
}

export function checkBoolean (name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, `expected a boolean, got ${JSON.stringify(value)}`)
  return value
}

export function checkPath (name: string, value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) throw new InvalidOptionError(name, `expected a path starting with "/", got ${JSON.stringify(value)}`)
  return value
}

export function checkOptionalFunction (name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(name, `expected a function, got ${typeof value}`)
}

export function checkStringList (name: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item.length > 0)) {
    throw new InvalidOptionError(name, 'expected an array of non-empty strings')
  }
  return value
}

/** Where each-entry shapes hang in an `OptionShape` (e.g. `retention.rooms`: one rule per room name). */
export const EACH = Symbol('vix.options.each')

/**
 * The keys an options object may hold, level by level: `true` is a value
 * whose own keys are not checked (a function, an array, a schema, a store or
 * a pool, a map of names the application chooses); a nested shape is an
 * object whose keys are checked in turn when it is a plain object. `[EACH]`
 * gives the shape of every entry of a map with arbitrary keys.
 */
export interface OptionShape {
  readonly [key: string]: true | OptionShape
  readonly [EACH]?: OptionShape
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** Optimal string alignment distance (Levenshtein with adjacent swaps), case-insensitive. */
function distance (a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  const rows: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i])
  for (let j = 1; j <= t.length; j++) rows[0][j] = j
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1)
    }
  }
  return rows[s.length][t.length]
}

/** The known key nearest to `key`, when it is near enough to be a typo of it. */
export function nearestKey (key: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of known) {
    const d = distance(key, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  const tolerance = Math.max(2, Math.floor(key.length / 3))
  const prefixed = best !== undefined && (best.toLowerCase().startsWith(key.toLowerCase()) || key.toLowerCase().startsWith(best.toLowerCase()))
  return bestDistance <= tolerance || (prefixed && key.length >= 3) ? best : undefined
}

/**
 * Refuse keys `shape` does not know, at every level of `options`: a typo
 * (`relayType`, `store.pth`) fails boot with `VIX_ERR_INVALID_OPTION` naming
 * the key's path and the nearest known key, instead of being ignored. Keys
 * whose value is undefined are let through (an option left out by a spread).
 * `what` names the kind of key in the message (e.g. `limit`).
 *
 * @example
 * checkOptionKeys({ relayType: ['chat'] }, { relayTypes: true })
 * // throws: Invalid option "relayType": unknown option; did you mean "relayTypes"?
 */
export function checkOptionKeys (options: unknown, shape: OptionShape, path = '', what = 'option'): void {
  if (!isPlainObject(options)) return
  const known = Object.keys(shape)
  const each = shape[EACH]
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue
    const name = path === '' ? key : `${path}.${key}`
    const child = each ?? shape[key]
    if (child === undefined) {
      const near = nearestKey(key, known)
      const where = path === '' ? '' : `${path}.`
      const hint = near !== undefined ? `did you mean "${where}${near}"?` : `known: ${known.join(', ')}`
      throw new InvalidOptionError(name, `unknown ${what}; ${hint}`)
    }
    if (child !== true) checkOptionKeys(value, child, name)
  }
}
