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
