import { createRequire } from 'node:module'
import { InvalidOptionError } from './errors.js'

const require = createRequire(import.meta.url)

/**
 * A driver package the server loads only when an option asks for it
 * (better-sqlite3, ioredis, pg), so an app that does not use it need not
 * install it. The returned function loads it on first call; a missing
 * package fails with `VIX_ERR_INVALID_OPTION` naming `option` and the
 * package to install. Any other load error is thrown as it is.
 *
 * @example
 * const ioredis = optionalPackage<typeof import('ioredis')>('ioredis', 'broker.redis')
 * const client = new (ioredis().Redis)(url)
 */
export function optionalPackage<T> (name: string, option: string): () => T {
  let loaded: T | undefined
  return () => {
    if (loaded !== undefined) return loaded
    try {
      loaded = require(name) as T
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException
      if (code === 'MODULE_NOT_FOUND' && message.includes(`'${name}'`)) {
        throw new InvalidOptionError(option, `needs the "${name}" package, which is not installed: npm install ${name}`)
      }
      throw error
    }
    return loaded
  }
}
