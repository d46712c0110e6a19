import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import { clientScriptPlugin } from '../plugins/index.js'
import { matchesEtag, packageRoot, resolveClientScriptOptions } from '../lib/client-script.js'
import { build } from './helpers/app.js'
import { assertFullyDocumented, documentedOperations } from './helpers/openapi.js'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

t.test('GET /ws/client.js serves the client as one ES module that exports VixClient', async (t) => {
  const app = await build(t)
  const response = await app.inject('/ws/client.js')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'text/javascript; charset=utf-8')
  t.equal(response.headers['cache-control'], 'public, max-age=3600')
  const etag = response.headers.etag as string
  t.match(etag, new RegExp(`^"vix-${version.replace(/\./g, '\\.')}-[A-Za-z0-9_-]{16}"$`), 'the ETag holds the version and a content hash')
  t.notMatch(response.body, /sourceMappingURL/, 'no source map pointing at files that are not there')
  t.notMatch(response.body, /\bfrom\s*["'](node:|ws|fastify)/, 'imports nothing')

  // The served bytes, as a browser would load them: an ES module.
  const module = await import(`data:text/javascript;base64,${Buffer.from(response.body).toString('base64')}`)
  t.equal(typeof module.VixClient, 'function', 'exports VixClient')
  t.equal(typeof module.VixClientError, 'function', 'exports VixClientError')
  t.equal(module.ClientErrorCodes.INVALID_OPTION, 'VIX_ERR_INVALID_OPTION')
  const client = new module.VixClient({ url: 'http://127.0.0.1:1/ws', longPolling: false, WebSocket: class {} })
  t.equal(client.state, 'closed')
  t.equal(client.transport, 'websocket')
  t.throws(() => new module.VixClient({ url: 'nope' }), { code: 'VIX_ERR_INVALID_OPTION' }, 'the bundled option checks work')

  const head = await app.inject({ method: 'HEAD', url: '/ws/client.js' })
  t.equal(head.statusCode, 200)
  t.equal(head.headers.etag, etag)
})

t.test('If-None-Match with the current ETag answers 304; another tag gets the module', async (t) => {
  const app = await build(t, { docs: false })
  const { etag } = (await app.inject('/ws/client.js')).headers as { etag: string }
  for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const response = await app.inject({ url: '/ws/client.js', headers: { 'if-none-match': header } })
    t.equal(response.statusCode, 304, header)
    t.equal(response.body, '')
    t.equal(response.headers.etag, etag)
    t.equal(response.headers['cache-control'], 'public, max-age=3600')
  }
  const stale = await app.inject({ url: '/ws/client.js', headers: { 'if-none-match': '"vix-0.0.0-old"' } })
  t.equal(stale.statusCode, 200)
  t.ok(stale.body.length > 1000)
  t.equal(matchesEtag(undefined, etag), false)
})

t.test('clientScript: false leaves the route out; path and maxAge move and retune it', async (t) => {
  const off = await build(t, { docs: false, clientScript: false })
  t.equal((await off.inject('/ws/client.js')).statusCode, 404)

  const moved = await build(t, { docs: false, clientScript: { path: '/assets/vix.js', maxAge: 60 } })
  t.equal((await moved.inject('/ws/client.js')).statusCode, 404)
  const response = await moved.inject('/assets/vix.js')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'public, max-age=60')

  for (const [option, code] of [[{ path: 'client.js' }, 'VIX_ERR_INVALID_OPTION'], [{ maxAge: -1 }, 'VIX_ERR_INVALID_OPTION'], [{ file: '' }, 'VIX_ERR_INVALID_OPTION']] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(clientScriptPlugin, option as never).ready() }, { code }, JSON.stringify(option))
  }
})

t.test('a bundle never built: a coded 503 that says how to build it, logged, and picked up once built', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'vix-client.js')
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  await app.register(clientScriptPlugin, { file })
  await app.ready()
  t.ok(lines.some((line) => line.includes('npm run build') && line.includes(file)), 'the boot log says how to build it')

  const missing = await app.inject('/ws/client.js')
  t.equal(missing.statusCode, 503)
  t.match(missing.json(), { statusCode: 503, code: 'VIX_ERR_CLIENT_SCRIPT_MISSING', message: /npm run build/ })
  t.equal(lines.filter((line) => line.includes('npm run build')).length, 2, 'the request is logged too')

  writeFileSync(file, 'export const built = true\n')
  const found = await app.inject('/ws/client.js')
  t.equal(found.statusCode, 200)
  t.equal(found.body, 'export const built = true\n')

  // Not a missing file but an unreadable one: boot fails, naming it.
  const broken = Fastify()
  t.teardown(() => broken.close())
  await t.rejects(async () => { await broken.register(clientScriptPlugin, { file: dir }).ready() }, { code: 'VIX_ERR_INVALID_OPTION', message: /clientScript\.file.*EISDIR/ })
})

t.test('the package root is found walking up from the module, from the sources or from dist/', async (t) => {
  const dir = t.testdir({ pkg: { 'package.json': '{"name":"x"}', dist: { lib: { 'client-script.js': '' } } } })
  const from = pathToFileURL(join(dir, 'pkg', 'dist', 'lib', 'client-script.js')).href
  t.equal(packageRoot(from), join(dir, 'pkg'))
  const resolved = resolveClientScriptOptions({}, from)
  t.same(resolved, { path: '/ws/client.js', maxAge: 3600, file: join(dir, 'pkg', 'dist', 'browser', 'vix-client.js'), version: '0.0.0' }, 'no version: 0.0.0')
  t.throws(() => packageRoot('/'), { code: 'VIX_ERR_INVALID_OPTION' })
})

t.test('GET /ws/client.js is documented like the other routes', async (t) => {
  const app = await build(t)
  const document = (await app.inject('/docs/json')).json()
  const operation = documentedOperations(document).get('GET /ws/client.js')
  t.ok(operation, 'documented')
  t.ok(operation.responses['200'].content['text/javascript'], 'the module is text/javascript')
  t.ok(operation.responses['304'])
  t.equal(operation.responses['503'].content['application/json'].schema.$ref, '#/components/schemas/VixErrorResponse')
  assertFullyDocumented(t, { paths: { '/ws/client.js': { get: operation } } })
})
