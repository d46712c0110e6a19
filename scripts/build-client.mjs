// Bundle the browser client (lib/client, dependency-free TypeScript) into one
// ES module at dist/browser/vix-client.js, which GET /ws/client.js serves.
// Run by `npm run build` and `npm run build:client` (and so by `prepare`).
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const outfile = `${root}dist/browser/vix-client.js`

await build({
  absWorkingDir: root,
  entryPoints: ['lib/client/index.ts'],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  // No source map: the .ts sources are not shipped, a map would point at nothing.
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning'
})
console.error(`vix-realtime: browser client written to ${outfile}`)
