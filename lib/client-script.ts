import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InvalidOptionError } from './errors.js'
import { checkInteger, checkPath } from './options.js'

/** Options of the browser-client route (`clientScript: {...}` in the umbrella). */
export interface ClientScriptOptions {
  /** Route of the client module (default `/ws/client.js`). */
  path?: string
  /** `Cache-Control: public, max-age=<maxAge>` in seconds (default 3600). */
  maxAge?: number
  /** The bundle to serve (default `dist/browser/vix-client.js` in the package, written by `npm run build`). */
  file?: string
}

export interface ResolvedClientScriptOptions { path: string, maxAge: number, file: string, version: string }

/** The package's root: the first directory holding a package.json, walking up from `from` (a file URL or path). */
export function packageRoot (from: string): string {
  let dir = dirname(from.startsWith('file:') ? fileURLToPath(from) : from)
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new InvalidOptionError('clientScript', `no package.json above ${from}`)
    dir = parent
  }
  return dir
}

/** The version in the package.json of `root` (`0.0.0` when it has none). */
function versionOf (root: string): string {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0'
}

/** Resolve and check the options; the bundle and version are located from this file, in the sources or in `dist/`. */
export function resolveClientScriptOptions (options: ClientScriptOptions = {}, from = import.meta.url): ResolvedClientScriptOptions {
  const root = packageRoot(from)
  const path = checkPath('clientScript.path', options.path ?? '/ws/client.js')
  const maxAge = checkInteger('clientScript.maxAge', options.maxAge ?? 3600, 0)
  if (options.file !== undefined && (typeof options.file !== 'string' || options.file === '')) {
    throw new InvalidOptionError('clientScript.file', `expected a file path, got ${JSON.stringify(options.file)}`)
  }
  return { path, maxAge, file: options.file ?? join(root, 'dist', 'browser', 'vix-client.js'), version: versionOf(root) }
}

/** The bundle as served: its bytes and an ETag of the package version and a hash of the content. */
export interface ClientScript { body: Buffer, etag: string }

/**
 * The browser client bundle, read on first use and kept (a bundle built while
 * the server runs is picked up by the next request after a miss). `load()`
 * resolves to undefined while the file does not exist.
 *
 * @example
 * const script = new ClientScriptFile(resolveClientScriptOptions())
 * const found = await script.load() // { body, etag } or undefined
 */
export class ClientScriptFile {
  private cached: ClientScript | undefined

  constructor (private readonly options: ResolvedClientScriptOptions) {}

  async load (): Promise<ClientScript | undefined> {
    if (this.cached !== undefined) return this.cached
    let body: Buffer
    try {
      body = await readFile(this.options.file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16)
    this.cached = { body, etag: `"vix-${this.options.version}-${hash}"` }
    return this.cached
  }
}

/** Does an `If-None-Match` header name this ETag (a list, weak validators or `*`)? */
export function matchesEtag (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((tag) => {
    const trimmed = tag.trim()
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag
  })
}
