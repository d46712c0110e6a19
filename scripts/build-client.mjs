// Bundle the browser client (lib/client, dependency-free TypeScript) from its
// one source, lib/client/index.ts, into:
// - dist/browser/vix-client.js: one minified ES module, which GET /ws/client.js serves;
// - packages/client/dist/browser/vix-client.js: the same bytes, in @vix-realtime/client
//   (`@vix-realtime/client/browser`);
// - packages/client/dist/index.js: @vix-realtime/client's module (readable, for bundlers and Node).
// `--out <dir>` writes the same files under <dir> instead of the repository (the size test measures them there).
// Run by `npm run build`, `npm run build:client` (and so by `prepare` and `pretest`) and the
// client package's `build` (whose tsc then writes its typings).
import { build } from 'esbuild'
import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values } = parseArgs({ options: { out: { type: 'string' } } })

const common = {
  absWorkingDir: root,
  entryPoints: ['lib/client/index.ts'],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  // No source map: the .ts sources are not shipped, a map would point at nothing.
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning'
}

const base = values.out ?? root
const browserFile = join(base, 'dist/browser/vix-client.js')
await build({ ...common, outfile: browserFile, platform: 'browser', minify: true })
console.error(`vix-realtime: browser client written to ${browserFile}`)

const packageDist = join(base, 'packages/client/dist')
await mkdir(join(packageDist, 'browser'), { recursive: true })
await copyFile(browserFile, join(packageDist, 'browser/vix-client.js'))
await build({ ...common, outfile: join(packageDist, 'index.js'), platform: 'neutral' })
console.error(`vix-realtime: @vix-realtime/client written to ${packageDist}`)
