import t from 'tap'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { Health, environmentVariableOf } from '../lib/health.js'
import { redactCredentials } from '../lib/redact.js'
import { build } from './helpers/app.js'
import { bundleForChild, startNode } from './helpers/child.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { freePort, PrivateRedis } from './helpers/redis.js'
import { requireService } from './helpers/services.js'
import { TcpProxy } from './helpers/tcp-proxy.js'
import { waitFor } from './helpers/wait.js'
import { connectUrl } from './helpers/ws-client.js'

const serverFile = fileURLToPath(new URL('../example-app/server.ts', import.meta.url))
const redisServer = spawnSync('redis-server', ['--version']).status === 0
const pg = await postgresAvailable()
const KEY = 'deps-test-publish-key-0123456789'

t.jobs = 2

/** The lines of `output` that carry the dependency code. */
function codedLines (output: string): Array<Record<string, any>> {
  return output.split('\n').filter((line) => line.includes('VIX_ERR_DEPENDENCY_UNAVAILABLE')).map((line) => JSON.parse(line))
}

async function ready (base: string): Promise<{ status: number, body: any }> {
  const response = await fetch(`${base}/ws/ready`)
  return { status: response.status, body: await response.json() }
}

t.test('a password in a URL is never logged; the variable holding a URL is found', async (t) => {
  t.equal(redactCredentials('postgres://app:s3cr@t@db:5432/app'), 'postgres://app:[redacted]@db:5432/app')
  t.equal(redactCredentials('redis://:pw@127.0.0.1:6379/0'), 'redis://:[redacted]@127.0.0.1:6379/0')
  t.equal(redactCredentials('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379', 'nothing to redact')
  t.equal(redactCredentials('postgres://db/app?password=x&sslmode=require'), 'postgres://db/app?password=[redacted]&sslmode=require')
  const env = { OTHER: 'redis://x', REDIS_URL: 'redis://x', PG: 'postgres://y' }
  t.equal(environmentVariableOf('redis://x', ['REDIS_URL'], env), 'REDIS_URL', 'the conventional name first')
  t.equal(environmentVariableOf('postgres://y', ['DATABASE_URL'], env), 'PG', 'else whichever holds it')
  t.equal(environmentVariableOf('postgres://z', [], env), undefined)
  t.equal(environmentVariableOf('redis://b:6379', [], { REDIS_URLS: 'redis://a:6379, redis://b:6379' }), 'REDIS_URLS', 'or a comma-separated list that holds it (REDIS_URLS)')
  t.equal(environmentVariableOf('redis://b', [], { REDIS_URLS: 'redis://b:6379,redis://c' }), undefined, 'a whole item, not a part of one')
})

t.test('Health: one log line per outage, readiness, shutting down', async (t) => {
  const lines: Array<{ level: string, obj: any, msg?: string }> = []
  const logger = {
    debug () {},
    warn: (obj: unknown, msg?: string) => { lines.push({ level: 'warn', obj, msg }) },
    error: (obj: unknown, msg?: string) => { lines.push({ level: 'error', obj, msg }) }
  }
  let stopping = false
  const health = new Health({ logger, stopping: () => stopping })
  t.same(health.readiness(), { ready: true, shuttingDown: false, dependencies: {} }, 'nothing to wait for: ready')
  const redis = health.add({ name: 'redis', label: 'Redis', option: 'broker.redis', url: 'redis://:pw@127.0.0.1:1' })
  t.same(health.readiness().dependencies, { redis: 'down' }, 'down until reached')
  for (let i = 0; i < 5; i++) redis.down(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))
  t.equal(lines.length, 1, 'one line for five failures')
  t.equal(lines[0].obj.code, 'VIX_ERR_DEPENDENCY_UNAVAILABLE')
  t.match(lines[0].msg, /Redis unreachable \(broker\.redis = redis:\/\/:\[redacted\]@127\.0\.0\.1:1\): connect ECONNREFUSED/)
  t.notMatch(JSON.stringify(lines), /:pw@/, 'no password anywhere')
  redis.up()
  t.same(health.readiness(), { ready: true, shuttingDown: false, dependencies: { redis: 'up' } })
  redis.down(new Error('again'))
  t.equal(redis.outages, 2, 'a second outage counts again')
  t.equal(lines.filter((line) => line.level === 'error').length, 2, 'and is logged again')
  redis.up()
  stopping = true
  t.same(health.readiness(), { ready: false, shuttingDown: true, dependencies: { redis: 'up' } }, 'not ready while shutting down')
})

t.test('GET /ws/health and /ws/ready on a single node; readiness goes 503 on requestStop', async (t) => {
  const app = await build(t, { docs: false, health: { readyPath: '/ready' } })
  const health = await app.inject('/ws/health')
  t.same([health.statusCode, health.json()], [200, { status: 'ok' }])
  const ok = await app.inject('/ready')
  t.same([ok.statusCode, ok.json()], [200, { status: 'ready', dependencies: {} }], 'no dependency: ready')
  app.realtime.lifecycle.requestStop()
  const stopping = await app.inject('/ready')
  t.equal(stopping.statusCode, 503)
  t.same(stopping.json(), { statusCode: 503, code: 'VIX_ERR_NOT_READY', error: 'Service Unavailable', message: 'Not ready: shutting down', status: 'not_ready', dependencies: {}, shuttingDown: true })
  await t.rejects(build(t, { docs: false, failFast: 'yes' as unknown as boolean }), { code: 'VIX_ERR_INVALID_OPTION', message: /"failFast"/ })
})

t.test('failFast: boot fails with VIX_ERR_DEPENDENCY_UNAVAILABLE naming the option while Redis or PostgreSQL is unreachable', async (t) => {
  const port = await freePort()
  await t.rejects(build(t, { docs: false, failFast: true, broker: { redis: `redis://:hunter2@127.0.0.1:${port}` } }),
    { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', message: new RegExp(`^Redis unreachable \\(broker\\.redis = redis://:\\[redacted\\]@127\\.0\\.0\\.1:${port}\\)`) })
  await t.rejects(build(t, { docs: false, failFast: true, store: { postgres: `postgres://postgres:hunter2@127.0.0.1:${port}/test` } }),
    { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', message: /^PostgreSQL unreachable \(store\.postgres = postgres:\/\/postgres:\[redacted\]@127\.0\.0\.1:\d+\/test\)/ })
})

t.test('the example app with VIX_FAIL_FAST=1 and nothing on REDIS_URL exits 1 with the coded line', async (t) => {
  const dir = t.testdir()
  const bundle = await bundleForChild(serverFile, dir)
  const port = await freePort()
  const result = spawnSync(process.execPath, [bundle], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(await freePort()), VIX_FAIL_FAST: '1', REDIS_URL: `redis://:hunter2@127.0.0.1:${port}`, VIX_STORE_PATH: join(dir, 'm.db') },
    encoding: 'utf8',
    timeout: 60_000
  })
  const output = `${result.stdout}${result.stderr}`
  t.equal(result.status, 1, 'exit 1')
  const lines = codedLines(output)
  t.equal(lines.length, 1, `one coded line: ${output}`)
  t.match(lines[0].msg, new RegExp(`boot failed: Redis unreachable \\(broker\\.redis, REDIS_URL=redis://:\\[redacted\\]@127\\.0\\.0\\.1:${port}\\)`))
  t.notMatch(output, /hunter2/, 'the password is not printed')
})

t.test('REDIS_URL where nothing listens: the node stays up, 503 naming redis, local delivery; 200 within 5 s once Redis is up, and its rooms are subscribed', async (t) => {
  if (!requireService(t, 'redis-server', redisServer, 'redis-server is not installed')) return
  const dir = t.testdir()
  const bundle = await bundleForChild(serverFile, dir)
  const redis = new PrivateRedis(await freePort())
  t.teardown(() => redis.stop())
  const url = `redis://:hunter2@127.0.0.1:${redis.port}`
  const node = await startNode(t, bundle, 'a', { REDIS_URL: url, VIX_STORE_PATH: join(dir, 'a.db'), VIX_PUBLISH_KEY: KEY })

  const down = await ready(node.base)
  t.equal(down.status, 503)
  t.match(down.body, { status: 'not_ready', code: 'VIX_ERR_NOT_READY', dependencies: { redis: 'down' } }, 'names redis')
  t.equal((await fetch(`${node.base}/ws/health`)).status, 200, 'alive')

  const writer = await connectUrl(`${node.ws}?name=ada`)
  const reader = await connectUrl(`${node.ws}?name=bob`)
  t.teardown(() => { writer.close(); reader.close() })
  await writer.join('general')
  await reader.join('general')
  writer.send({ type: 'chat.message', id: 'during-outage', room: 'general', payload: { text: 'redis is down' } })
  await writer.waitFor((f) => f.kind === 'ack' && f.id === 'during-outage', 10_000)
  await reader.waitFor((f) => f.kind === 'event' && f.id === 'during-outage', 10_000)
  t.pass('a message sent meanwhile is stored, acked and delivered locally')

  const lines = codedLines(node.output())
  t.equal(lines.length, 1, 'one coded line for the outage, however many retries')
  t.match(lines[0], { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', dependency: 'redis', option: 'broker.redis', env: 'REDIS_URL' })
  t.match(lines[0].msg, new RegExp(`Redis unreachable \\(broker\\.redis, REDIS_URL=redis://:\\[redacted\\]@127\\.0\\.0\\.1:${redis.port}\\)`))
  t.notMatch(node.output(), /hunter2/, 'the password is never printed')
  const metrics = await (await fetch(`${node.base}/metrics`)).text()
  t.match(metrics, /vix_dependency_errors_total\{dependency="redis"\} 1/, 'counted once')
  t.match(metrics, /vix_dependency_up\{dependency="redis"\} 0/)

  await redis.start()
  const started = Date.now()
  await waitFor(async () => (await ready(node.base)).status === 200, { timeout: 5000, interval: 50, message: () => `not ready within 5 s of Redis starting: ${node.output()}` })
  t.ok(Date.now() - started <= 5000, `ready ${Date.now() - started} ms after Redis came up`)
  t.same((await ready(node.base)).body, { status: 'ready', dependencies: { redis: 'up' } })
  t.equal(node.process.exitCode, null, 'the process stayed up throughout')

  // A second node on the same Redis and the same history (one SQLite file): its message reaches node a's members, so a subscribed 'general' on reconnect.
  const other = await startNode(t, bundle, 'b', { REDIS_URL: url, VIX_STORE_PATH: join(dir, 'a.db'), VIX_PUBLISH_KEY: KEY })
  await waitFor(async () => (await ready(other.base)).status === 200, { timeout: 10_000, interval: 50, message: () => `node b not ready: ${other.output()}` })
  const sent = await fetch(`${other.base}/ws/send`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'chat.message', id: 'from-b', room: 'general', payload: { text: 'across nodes' } })
  })
  t.equal(sent.status, 202)
  await reader.waitFor((f) => f.kind === 'event' && f.id === 'from-b', 10_000)
  t.pass('a message of another node reaches a member that joined while Redis was down')
})

t.test('DATABASE_URL unreachable at boot: the node stays up, 503 naming postgres, stored publishes fail VIX_ERR_STORE_UNAVAILABLE; 200 within 5 s once reachable', async (t) => {
  if (!requireService(t, 'postgresql', pg.ok, pg.reason)) return
  t.teardown(() => dropRunSchemas())
  const proxy = await TcpProxy.start(Number(new URL(postgresUrl).port || 5432))
  t.teardown(() => proxy.close())
  proxy.cut()
  const url = new URL(postgresUrl)
  url.host = `127.0.0.1:${proxy.port}`
  url.password = 'hunter2'
  const dir = t.testdir()
  const node = await startNode(t, await bundleForChild(serverFile, dir), 'pg', { DATABASE_URL: url.toString(), VIX_PG_SCHEMA: schemaFor(t.fullname), VIX_PUBLISH_KEY: KEY })

  const down = await ready(node.base)
  t.equal(down.status, 503)
  t.match(down.body, { status: 'not_ready', code: 'VIX_ERR_NOT_READY', dependencies: { postgres: 'down' } }, 'names postgres')
  const publish = async (id: string): Promise<{ status: number, body: any }> => {
    const response = await fetch(`${node.base}/ws/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'chat.message', id, room: 'general', payload: { text: id } })
    })
    return { status: response.status, body: await response.json() }
  }
  const refused = await publish('while-down')
  t.same([refused.status, refused.body.code], [503, 'VIX_ERR_STORE_UNAVAILABLE'], 'a publish to a stored room fails with the code')

  const lines = codedLines(node.output())
  t.equal(lines.length, 1, 'one coded line for the outage')
  t.match(lines[0], { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', dependency: 'postgres', option: 'store.postgres', env: 'DATABASE_URL' })
  t.match(lines[0].msg, /PostgreSQL unreachable \(store\.postgres, DATABASE_URL=postgres:\/\/postgres:\[redacted\]@127\.0\.0\.1:\d+\/test\)/)
  t.notMatch(node.output(), /hunter2/, 'the password is never printed')

  proxy.restore()
  const restored = Date.now()
  await waitFor(async () => (await ready(node.base)).status === 200, { timeout: 5000, interval: 50, message: () => `not ready within 5 s of PostgreSQL coming back: ${node.output()}` })
  t.ok(Date.now() - restored <= 5000, `ready ${Date.now() - restored} ms after PostgreSQL came back`)
  const accepted = await publish('after')
  t.equal(accepted.status, 202, 'the schema was made once it answered, and a publish is stored')
  const history = await (await fetch(`${node.base}/ws/history?room=general`)).json() as { messages: Array<{ id: string }> }
  t.same(history.messages.map((m) => m.id), ['after'], 'only what was acked is stored')
  t.equal(node.process.exitCode, null, 'the process stayed up throughout')
})
