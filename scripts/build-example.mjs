// Bundle the example's React chat page (example-app/react/chat.ts, with React and
// @vix-realtime/react from their sources) into example-app/public/build/react-chat.js,
// which the example app serves at /react-chat.js for /react. Run by `npm start` and `npm test`
// (their pre-scripts) and `npm run build:example`.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const outfile = `${root}example-app/public/build/react-chat.js`

await build({
  absWorkingDir: root,
  entryPoints: ['example-app/react/chat.ts'],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  conditions: ['@vix-realtime/source'],
  define: { 'process.env.NODE_ENV': '"production"' },
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning'
})
console.error(`vix-realtime: example React page written to ${outfile}`)
