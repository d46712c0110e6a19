// The chunks of the browser client (SSE and long polling, tokens) that GET /ws/client.js
// loads with import() only when needed: served beside it, as the entry names them,
// cacheable for a year (their names hold a hash of their content), and nothing else under
// that prefix. Then the served files as a page gets them: the entry, on long polling,
// loads its chunk from beside itself and talks to the server.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import { clientScriptPlugin } from '../plugins/index.js'
import { chunkRoute } from '../lib/client-script.js'
import { baseUrl, build } from './helpers/app.js'

/** The chunks an entry loads with import(), by file name. */
function lazyChunks (entry: string): string[] {
  return [...entry.matchAll(/\bimport\s*\(\s*"\.\/([^"]+)"\s*\)/g)].map((match) => match[1])
}

async function served (app: FastifyInstance, path: string): Promise<{ entry: string, chunks: string[] }> {
  const entry = (await app.inject(path)).body
  return { entry, chunks: lazyChunks(entry) }
}

t.test('each chunk the entry names is served beside it: JavaScript, cached for a year, with an ETag and 304', async (t) => {
  const app = await build(t, { docs: false })
  const { chunks } = await served(app, '/ws/client.js')
  t.same(chunks.map((name) => name.replace(/-[A-Z0-9]+\.js$/, '')).sort(), ['vix-client-http-transports', 'vix-client-tokens'])
  for (const name of chunks) {
    const response = await app.inject(`/ws/${name}`)
    t.equal(response.statusCode, 200, name)
    t.equal(response.headers['content-type'], 'text/javascript; charset=utf-8')
    t.equal(response.headers['cache-control'], 'public, max-age=31536000, immutable', 'its name changes with its content')
    t.match(response.headers.etag, /^"vix-[\d.]+-[A-Za-z0-9_-]{16}"$/)
    t.notMatch(response.body, /\bimport\s*[{*]|\bfrom\s*["']/, 'a chunk imports nothing: what it needs of the client is handed to it')
    const again = await app.inject({ url: `/ws/${name}`, headers: { 'if-none-match': response.headers.etag as string } })
    t.equal(again.statusCode, 304)
    t.equal(again.body, '')
  }
})

t.test('any other name under the prefix is the app\'s own 404: no other file is reachable', async (t) => {
  const app = await build(t, { docs: false })
  for (const url of ['/ws/vix-client-nope.js', '/ws/vix-client-', '/ws/vix-client-../package.json', '/ws/vix-client-%2E%2E%2Fpackage.json', '/ws/vix-client-a/b.js', '/ws/vix-client-x.ts']) {
    const response = await app.inject(url)
    t.equal(response.statusCode, 404, url)
    t.match(response.json(), { statusCode: 404, error: 'Not Found' })
  }
})

t.test('the chunks follow the entry when it moves, and stay out of the OpenAPI document', async (t) => {
  t.equal(chunkRoute('/ws/client.js'), '/ws/vix-client-*')
  t.equal(chunkRoute('/client.js'), '/vix-client-*')
  const moved = await build(t, { clientScript: { path: '/assets/vix.js' } })
  const { chunks } = await served(moved, '/assets/vix.js')
  t.equal((await moved.inject(`/assets/${chunks[0]}`)).statusCode, 200, 'beside the moved entry')
  t.equal((await moved.inject(`/ws/${chunks[0]}`)).statusCode, 404, 'not where it was')
  const document = (await moved.inject('/docs/json')).json() as { paths: Record<string, unknown> }
  t.same(Object.keys(document.paths).filter((path) => path.includes('vix-client')), [], 'not an operation')
})

t.test('a bundle never built: its chunks are 404 too', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(clientScriptPlugin, { file: join(t.testdir(), 'vix-client.js') })
  t.equal((await app.inject('/ws/vix-client-http-transports-ABC.js')).statusCode, 404)
})

t.test('the served entry, saved with its chunks as a page gets them, falls back to long polling through its chunk', async (t) => {
  const app = await build(t, { docs: false })
  const { entry, chunks } = await served(app, '/ws/client.js')
  const dir = t.testdir({})
  writeFileSync(join(dir, 'client.js'), entry)
  for (const name of chunks) writeFileSync(join(dir, name), (await app.inject(`/ws/${name}`)).rawPayload)
  const { VixClient } = await import(pathToFileURL(join(dir, 'client.js')).href) as typeof import('../lib/client/index.js')
  const client = new VixClient({ url: `${baseUrl(app)}/ws`, WebSocket: null, transports: ['polling'], longPolling: { wait: 200 }, autoUnref: true })
  t.teardown(() => { client.close() })
  await client.connect()
  t.equal(client.transport, 'long-polling')
  const ack = await client.join('general')
  t.equal(ack.room, 'general', 'joined over long polling: the chunk was loaded and works')
})
