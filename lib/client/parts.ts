import { ClientErrorCodes, VixClientError, codeOf } from './errors.js'
import { withQuery } from './url.js'

/**
 * What the modules the client loads with `import()` (the HTTP transports,
 * the tokens) use of the rest of it, handed to them rather than imported:
 * the browser bundle makes each of those modules a chunk of its own, and a
 * chunk importing these would make esbuild move them to a third file that
 * the entry would then load too. Those modules import types only.
 */
export interface ClientParts {
  VixClientError: typeof VixClientError
  ClientErrorCodes: typeof ClientErrorCodes
  codeOf: typeof codeOf
  withQuery: typeof withQuery
}

export const clientParts: ClientParts = { VixClientError, ClientErrorCodes, codeOf, withQuery }

/**
 * A module loaded on first use: `get()` asks for it once and keeps the
 * promise; after a failure (a page offline) the next `get()` asks again.
 * `loaded()` is the module once it arrived.
 *
 * @example
 * const tokens = lazyModule(async () => await import('./tokens.js'))
 * const { Tokens } = await tokens.get()
 */
export function lazyModule<T> (load: () => Promise<T>): { get: () => Promise<T>, loaded: () => T | undefined } {
  let loading: Promise<T> | undefined
  let module: T | undefined
  return {
    get: () => {
      if (loading !== undefined) return loading
      const current = loading = load().then((value) => (module = value))
      current.catch(() => { if (loading === current) loading = undefined })
      return current
    },
    loaded: () => module
  }
}
