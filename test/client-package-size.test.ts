// The browser bundle's size budget (issue 24): what a page loads before its
// first message over WebSocket — the module GET /ws/client.js serves, which
// @vix-realtime/client ships as `@vix-realtime/client/browser`, and any chunk
// it imports statically — built by the real build script into a directory of
// the test's own (with the package's module beside it, as the script writes them).
// The chunks it loads with import() only when it needs them (SSE and long
// polling, with the fallback; tokens) are reported, and must be there.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'

const root = resolve(import.meta.dirname, '..')
/** The budget of issue 24: 10 KB gzipped (what a phone downloads before the first message). */
const budget = 10_240

/** The files a module names in `import … from "./x.js"` / `import "./x.js"` (static) and in `import("./x.js")` (lazy). */
function importsOf (code: string): { eager: string[], lazy: string[] } {
  const eager = [...code.matchAll(/(?:\bfrom|\bimport)\s*["']\.\/([^"']+)["']/g)].map((match) => match[1])
  const lazy = [...code.matchAll(/\bimport\s*\(\s*["']\.\/([^"']+)["']\s*\)/g)].map((match) => match[1])
  return { eager, lazy }
}

const gzipped = (bytes: Buffer): number => gzipSync(bytes, { level: 9 }).length

t.test('the browser bundle, minified and gzipped, stays within its budget on the WebSocket path', async (t) => {
  const out = t.testdir({})
  await promisify(execFile)(process.execPath, [join(root, 'scripts/build-client.mjs'), '--out', out])
  const dir = join(out, 'dist/browser')
  const read = (file: string): Buffer => readFileSync(join(dir, file))

  // Everything the entry needs before it runs: itself and its static imports, transitively.
  const eager = ['vix-client.js']
  const lazy = new Set<string>()
  for (let i = 0; i < eager.length; i++) {
    const found = importsOf(read(eager[i]).toString())
    for (const file of found.eager) if (!eager.includes(file)) eager.push(file)
    for (const file of found.lazy) lazy.add(file)
  }
  const sizes = eager.map((file) => ({ file, raw: read(file).length, gzip: gzipped(read(file)) }))
  const total = sizes.reduce((sum, size) => sum + size.gzip, 0)
  for (const size of sizes) t.comment(`eager ${size.file}: ${size.raw} B minified, ${size.gzip} B gzipped`)
  t.comment(`WebSocket path: ${total} B gzipped (budget ${budget} B)`)
  t.ok(total <= budget, `${total} B gzipped <= ${budget} B: within the budget`)
  t.same(eager, ['vix-client.js'], 'the entry imports nothing statically: one file, one request')

  for (const file of lazy) {
    // A lazy chunk may import another; none of them counts on the WebSocket path.
    for (const next of importsOf(read(file).toString()).eager) lazy.add(next)
    t.comment(`lazy ${file}: ${read(file).length} B minified, ${gzipped(read(file))} B gzipped`)
  }
  const names = [...lazy].map((file) => file.replace(/-[A-Z0-9]+\.js$/, '')).sort()
  t.same(names, ['vix-client-http-transports', 'vix-client-tokens'], 'SSE, long polling and the fallback are a chunk, tokens another, each loaded with import() when used')
  t.same(readdirSync(dir).sort(), [...eager, ...lazy].sort(), 'every file written is the entry or a chunk of it, named vix-client-*')

  const entry = read('vix-client.js')
  t.ok(!entry.includes('sourceMappingURL'), 'no source map reference')
  t.match(entry.toString(), /export\s*\{[^}]*VixClient/, 'an ES module exporting VixClient')
  for (const file of readdirSync(dir)) t.same(readFileSync(join(out, 'packages/client/dist/browser', file)), read(file), `the package ships the same bytes: ${file}`)
  t.same(readdirSync(join(out, 'packages/client/dist/browser')).sort(), readdirSync(dir).sort(), 'and no other file')

  // The package's module, readable, for bundlers and Node: its lazy chunk is there too.
  const module = readFileSync(join(out, 'packages/client/dist/index.js'), 'utf8')
  t.match(module, /export \{[^}]*VixClient/, 'and its module, readable, beside them')
  const chunks = importsOf(module).lazy.sort()
  t.match(chunks, [/^chunks\/http-transports-[A-Z0-9]+\.js$/, /^chunks\/tokens-[A-Z0-9]+\.js$/], 'whose HTTP transports and tokens are chunks loaded with import()')
  // What a bundler or Node gets when the client falls back or has tokens: modules that load on their own.
  const http = await import(pathToFileURL(join(out, 'packages/client/dist', chunks[0])).href) as Record<string, unknown>
  t.same(Object.keys(http).sort(), ['changeTransport', 'openHttpTransport', 'upgradeProbe'], 'the HTTP transports and the fallback, beside it')
  const tokens = await import(pathToFileURL(join(out, 'packages/client/dist', chunks[1])).href) as Record<string, unknown>
  t.same(Object.keys(tokens), ['Tokens'], 'the tokens too')
})
