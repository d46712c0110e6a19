// The browser bundle's size budget (issue 24): the file GET /ws/client.js
// serves, and @vix-realtime/client ships as `@vix-realtime/client/browser`,
// built by the real build script into a directory of the test's own (with the
// package's module beside it, as the script writes them).
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'

const root = resolve(import.meta.dirname, '..')
/**
 * The size may not grow past this ratchet. The budget of issue 24 is 10 KB gzipped (what a phone
 * downloads before the first message); the bundle is over it (13,274 B after SSE and tokens), and
 * the work to get there (the HTTP transports loaded only when used, about 1.6 KB of it, and more) is
 * open in issue 24. Lower this number whenever the bundle shrinks; never raise it without a reason.
 */
const ceiling = 13_500

t.test('the browser bundle, minified and gzipped, does not grow past its ratchet', async (t) => {
  const out = t.testdir({})
  await promisify(execFile)(process.execPath, [join(root, 'scripts/build-client.mjs'), '--out', out])
  const bundle = readFileSync(join(out, 'dist/browser/vix-client.js'))
  const gzipped = gzipSync(bundle, { level: 9 }).length
  t.comment(`browser bundle: ${bundle.length} B minified, ${gzipped} B gzipped (ratchet ${ceiling} B)`)
  t.ok(gzipped <= ceiling, `${gzipped} B gzipped <= ${ceiling} B: no growth past the ratchet`)
  t.ok(!bundle.includes('sourceMappingURL'), 'no source map reference')
  t.match(bundle.toString(), /export\s*\{[^}]*VixClient/, 'an ES module exporting VixClient')
  t.same(readFileSync(join(out, 'packages/client/dist/browser/vix-client.js')), bundle, 'the package ships the same bytes')
  t.match(readFileSync(join(out, 'packages/client/dist/index.js'), 'utf8'), /export \{[^}]*VixClient/, 'and its module, readable, beside them')
})
