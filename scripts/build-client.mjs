// Bundle the browser client (lib/client, dependency-free TypeScript) from its
// one source, lib/client/index.ts, into:
// - dist/browser/vix-client.js: one minified ES module, which GET /ws/client.js serves, and beside it
//   the chunks it loads with import() only when needed (vix-client-http-transports-<hash>.js: SSE, long
//   polling and the fallback; vix-client-tokens-<hash>.js: getToken's), which the same route's
//   directory serves (GET /ws/vix-client-*.js);
// - packages/client/dist/browser/: the same files, in @vix-realtime/client (`@vix-realtime/client/browser`);
// - packages/client/dist/index.js (and its chunks in dist/chunks/): @vix-realtime/client's module
//   (readable, for bundlers and Node).
// The entry imports nothing statically: the WebSocket path is that one file. A chunk takes what it
// needs of the client as arguments (see ClientParts in lib/client/http-types.ts), so esbuild never
// moves shared code into a third file.
// `--out <dir>` writes the same files under <dir> instead of the repository (the size test measures them there).
// Run by `npm run build`, `npm run build:client` (and so by `prepare` and `pretest`) and the
// client package's `build` (whose tsc then writes its typings).
import { build } from 'esbuild'
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values } = parseArgs({ options: { out: { type: 'string' } } })

const common = {
  absWorkingDir: root,
  entryPoints: ['lib/client/index.ts'],
  bundle: true,
  splitting: true,
  format: 'esm',
  target: 'es2022',
  // No source map: the .ts sources are not shipped, a map would point at nothing.
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning'
}

const base = values.out ?? root
const browserDir = join(base, 'dist/browser')
// Chunk names carry a hash of their content: an entry never loads a chunk of another build.
await rm(browserDir, { recursive: true, force: true })
await build({
  ...common,
  outdir: browserDir,
  entryNames: 'vix-client',
  chunkNames: 'vix-client-[name]-[hash]',
  platform: 'browser',
  minify: true,
  // Private members end in `_` (a convention of lib/client): the bundle gives them short names.
  mangleProps: /[^_]_$/,
  // Fields assigned in the constructor, not declared again on the class: the same objects, fewer bytes.
  tsconfigRaw: { compilerOptions: { useDefineForClassFields: false, verbatimModuleSyntax: true } }
})
console.error(`vix-realtime: browser client written to ${browserDir}`)

const packageDist = join(base, 'packages/client/dist')
await rm(join(packageDist, 'browser'), { recursive: true, force: true })
await rm(join(packageDist, 'chunks'), { recursive: true, force: true })
await mkdir(join(packageDist, 'browser'), { recursive: true })
for (const file of await readdir(browserDir)) await copyFile(join(browserDir, file), join(packageDist, 'browser', file))
await build({ ...common, outdir: packageDist, entryNames: 'index', chunkNames: 'chunks/[name]-[hash]', platform: 'neutral' })
console.error(`vix-realtime: @vix-realtime/client written to ${packageDist}`)
