import { InvalidOptionError } from '../errors.js'
import { checkInteger, checkOptionKeys, checkPath, type OptionShape } from '../options.js'

/** Server-Sent Events transport options (times in milliseconds). */
export interface SseOptions {
  /** The stream lives at `${prefix}/sse`; its sends go to `${prefix}/send` (default `/ws`). */
  prefix?: string
  /** A comment line (`:`) on every stream this often, so proxies keep it open (default 15000; 0: never). */
  heartbeat?: number
  /** The `retry:` sent first: how long EventSource waits before it reconnects (default 2000). */
  retry?: number
}

export type ResolvedSseOptions = Required<SseOptions>

export const sseDefaults = { prefix: '/ws', heartbeat: 15_000, retry: 2000 } as const

/** The keys of `SseOptions`: any other fails boot. */
export const sseOptionShape = { prefix: true, heartbeat: true, retry: true } as const satisfies OptionShape & Record<keyof SseOptions, unknown>

/** Defaults filled in and every option checked; a bad one throws `VIX_ERR_INVALID_OPTION`. */
export function resolveSseOptions (options: SseOptions): ResolvedSseOptions {
  checkOptionKeys(options, sseOptionShape)
  const resolved = { ...sseDefaults, ...options }
  checkPath('prefix', resolved.prefix)
  if (resolved.prefix.endsWith('/')) throw new InvalidOptionError('prefix', `must not end with "/", got ${JSON.stringify(resolved.prefix)}`)
  checkInteger('heartbeat', resolved.heartbeat, 0, 2_147_483_647)
  checkInteger('retry', resolved.retry, 0, 2_147_483_647)
  return resolved
}
