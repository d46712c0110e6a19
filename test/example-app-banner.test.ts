import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { addressInUseHint, baseUrlOf, brokerOf, startBanner, storeOf } from '../example-app/banner.js'
import { bundleForChild, startNode } from './helpers/child.js'
import { waitFor } from './helpers/wait.js'

const serverFile = fileURLToPath(new URL('../example-app/server.ts', import.meta.url))

t.test('the banner names where to go, the store and the broker', async (t) => {
  const banner = startBanner('http://127.0.0.1:8080', {})
  for (const url of ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080/docs', 'http://127.0.0.1:8080/docs/asyncapi.json', 'http://127.0.0.1:8080/metrics']) t.match(banner, url)
  t.match(banner, /store\s+SQLite \.\/data\/messages\.db/)
  t.match(banner, /broker\s+in process/)
  t.match(storeOf({ VIX_STORE_PATH: '/tmp/x.db' }), /^SQLite \/tmp\/x\.db/)
  t.match(storeOf({ DATABASE_URL: 'postgres://app:s3cret@db:5432/chat', VIX_PG_SCHEMA: 'chat' }), /^PostgreSQL postgres:\/\/app:\*\*\*@db:5432\/chat, schema chat/)
  t.match(storeOf({ DATABASE_URL: 'postgres://db/chat' }), 'schema public')
  t.match(brokerOf({ REDIS_URL: 'redis://:pw@cache:6379', VIX_REDIS_PREFIX: 'chat:' }), /^Redis redis:\/\/:\*\*\*@cache:6379, prefix chat:/)
  t.notMatch(startBanner('http://x', { DATABASE_URL: 'postgres://a:s3cret@h/d', REDIS_URL: 'redis://:pw2@h' }), /s3cret|pw2/, 'no password printed')
  t.equal(baseUrlOf('0.0.0.0', 80), 'http://localhost:80', 'a wildcard host is reached as localhost')
  t.equal(baseUrlOf('::1', 80), 'http://[::1]:80')
  t.match(addressInUseHint('127.0.0.1', 8080), /8080.*in use.*PORT=8081 npm start/)
})

t.test('npm start prints the banner; on a port in use it prints a hint naming PORT and exits 1', async (t) => {
  const dir = join(t.testdir(), 'app')
  const bundle = await bundleForChild(serverFile, t.testdir())
  const first = await startNode(t, bundle, 'first', { VIX_STORE_PATH: join(dir, 'first.db') })
  await waitFor(() => first.output().includes('broker'), { timeout: 10_000, interval: 50, message: () => `no banner: ${first.output()}` })
  const port = new URL(first.base).port
  t.match(first.output(), `example app listening on ${first.base}`)
  t.match(first.output(), `${first.base}/docs`)
  t.match(first.output(), /store\s+SQLite .*first\.db/)

  const second = spawn(process.execPath, [bundle], { env: { ...process.env, HOST: '127.0.0.1', PORT: port, VIX_STORE_PATH: join(dir, 'second.db') }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (second.exitCode === null) second.kill('SIGKILL') })
  let output = ''
  second.stdout.on('data', (chunk) => { output += chunk })
  second.stderr.on('data', (chunk) => { output += chunk })
  const code = await new Promise((resolve) => second.on('exit', resolve))
  t.equal(code, 1, 'exits 1')
  t.match(output, `Port ${port} on 127.0.0.1 is already in use`)
  t.match(output, `PORT=${Number(port) + 1} npm start`, 'names PORT')
  t.notMatch(output, 'example app listening', 'no banner')
  t.notMatch(output, '"stack"', 'no stack trace')
})
