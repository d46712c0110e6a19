import t from 'tap'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { build } from './helpers/app.js'
import { PollClient } from './helpers/poll-client.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { requireService } from './helpers/services.js'
import { TcpProxy } from './helpers/tcp-proxy.js'
import { delay } from './helpers/wait.js'
import { connect } from './helpers/ws-client.js'
import { hubOf } from '../lib/hub/realtime.js'

const up = await postgresAvailable()

/** The test database's URL through `proxy`. */
function through (proxy: TcpProxy): string {
  const url = new URL(postgresUrl)
  url.host = `127.0.0.1:${proxy.port}`
  return url.toString()
}

t.test('PostgreSQL cut: publishes that need the store get VIX_ERR_STORE_UNAVAILABLE, nothing unstored is acked or delivered, and it recovers by itself', async (t) => {
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return
  t.teardown(() => dropRunSchemas())
  const proxy = await TcpProxy.start(Number(new URL(postgresUrl).port || 5432))
  t.teardown(() => proxy.close())
  const app = await build(t, { relayTypes: ['chat'], docs: false, store: { postgres: through(proxy), schema: schemaFor(t.fullname) } })
  const writer = await connect(app)
  const reader = await connect(app)
  t.teardown(() => { writer.close(); reader.close() })
  await writer.join('r')
  await reader.join('r')
  const poller = await PollClient.create(app)
  await poller.join('r')

  writer.send({ type: 'chat', id: 'ok-1', room: 'r', payload: {} })
  await writer.waitFor((f) => f.kind === 'ack' && f.id === 'ok-1')

  proxy.cut()
  writer.send({ type: 'chat', id: 'lost-ws', room: 'r', payload: {} })
  const refused = await writer.waitFor((f) => f.kind === 'error' && f.id === 'lost-ws', 10_000)
  t.equal(refused.payload.code, 'VIX_ERR_STORE_UNAVAILABLE', 'an error frame with the code')
  const http = await poller.send({ type: 'chat', id: 'lost-http', room: 'r', payload: {} })
  t.same([http.statusCode, http.body.code], [503, 'VIX_ERR_STORE_UNAVAILABLE'], 'POST /ws/send answers 503 with the code')
  await t.rejects(app.realtime.publish({ id: 'lost-server', room: 'r', type: 'chat', payload: {} }), { code: 'VIX_ERR_STORE_UNAVAILABLE', statusCode: 503 })
  t.notOk(writer.frames.some((f: any) => f.kind === 'ack' && f.id === 'lost-ws'), 'not acked')
  const history = await app.inject({ url: '/ws/history?room=r' })
  t.same([history.statusCode, history.json().code], [503, 'VIX_ERR_STORE_UNAVAILABLE'], 'GET /ws/history answers 503 too')

  proxy.restore()
  writer.send({ type: 'chat', id: 'ok-2', room: 'r', payload: {} })
  await writer.waitFor((f) => f.kind === 'ack' && f.id === 'ok-2', 10_000)
  await reader.waitFor((f) => f.kind === 'event' && f.id === 'ok-2')
  await delay(50)
  const delivered = reader.frames.filter((f: any) => f.kind === 'event').map((f: any) => f.id)
  t.same(delivered, ['ok-1', 'ok-2'], 'nothing that was not stored was delivered')
  const stored = await app.inject({ url: '/ws/history?room=r' })
  t.same(stored.json().messages.map((m: { id: string }) => m.id), ['ok-1', 'ok-2'], 'and the store has exactly the acked ones')
})

t.test('PostgreSQL unreachable at boot fails boot only with failFast (VIX_ERR_DEPENDENCY_UNAVAILABLE); a bad option fails with VIX_ERR_INVALID_OPTION', async (t) => {
  const proxy = await TcpProxy.start(1)
  t.teardown(() => proxy.close())
  proxy.cut()
  await t.rejects(build(t, { docs: false, failFast: true, store: { postgres: `postgres://postgres@127.0.0.1:${proxy.port}/test` } }), { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', message: /PostgreSQL unreachable \(store\.postgres/ })
  const app = await build(t, { docs: false, store: { postgres: `postgres://postgres@127.0.0.1:${proxy.port}/test` } })
  t.equal(hubOf(app.realtime).health.readiness().dependencies.postgres, 'down', 'without failFast the node boots, PostgreSQL down')
  await t.rejects(build(t, { docs: false, store: { postgres: 'mysql://x' } }), { code: 'VIX_ERR_INVALID_OPTION', message: /"postgres"/ })
  await t.rejects(build(t, { docs: false, store: { postgres: 'postgres://x', store: new PostgresMessageStore({ connectionString: 'postgres://x' }) } }), { code: 'VIX_ERR_INVALID_OPTION', message: /"postgres"/ })
  await t.rejects(build(t, { docs: false, store: { postgres: 'postgres://x', schema: 'bad-name' } }), { code: 'VIX_ERR_INVALID_OPTION', message: /"schema"/ })
})
