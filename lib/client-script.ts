import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, posix } from 'node:path'
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
 * How the bundle's chunks are named, beside it: `vix-client-<name>-<hash>.js`
 * (the SSE and long-polling transports, the tokens: loaded with `import()` only when used).
 * The entry imports them relative to itself, so they are served from the
 * directory of its route.
 */
export const CHUNK_PREFIX = 'vix-client-'
const chunkRest = /^[A-Za-z0-9_-]+\.js$/

/** The route of the chunks of the bundle served at `path`: `/ws/client.js` → `/ws/vix-client-*`. */
export function chunkRoute (path: string): string {
  return posix.join(posix.dirname(path), `${CHUNK_PREFIX}*`)
}

/**
 * The browser client bundle, read on first use and kept (a bundle built while
 * the server runs is picked up by the next request after a miss). `load()`
 * resolves to undefined while the file does not exist; `chunk(rest)` to one
 * of its chunks, by the part of the name after `vix-client-`, or undefined
 * when it has none of that name.
 *
 * @example
 * const script = new ClientScriptFile(resolveClientScriptOptions())
 * const found = await script.load() // { body, etag } or undefined
 * const chunk = await script.chunk('http-transports-5USSYY5W.js')
 */
export class ClientScriptFile {
  private cached: ClientScript | undefined
  /** Only chunks that exist: a name is at most one file of the build. */
  private readonly chunks = new Map<string, ClientScript>()

  constructor (private readonly options: ResolvedClientScriptOptions) {}

  async load (): Promise<ClientScript | undefined> {
    this.cached ??= await this.read(this.options.file)
    return this.cached
  }

  async chunk (rest: string): Promise<ClientScript | undefined> {
    if (!chunkRest.test(rest)) return undefined
    const cached = this.chunks.get(rest)
    if (cached !== undefined) return cached
    const found = await this.read(join(dirname(this.options.file), `${CHUNK_PREFIX}${rest}`))
    if (found !== undefined) this.chunks.set(rest, found)
    return found
  }

  private async read (file: string): Promise<ClientScript | undefined> {
    let body: Buffer
    try {
      body = await readFile(file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16)
    return { body, etag: `"vix-${this.options.version}-${hash}"` }
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
