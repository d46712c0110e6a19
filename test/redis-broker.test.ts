import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { RedisBroker } from '../lib/broker/redis.js'
import { resolveBrokerOption } from '../lib/broker/options.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { TcpProxy } from './helpers/tcp-proxy.js'
import type { MessageStore } from '../lib/store/types.js'
import { build } from './helpers/app.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { PrivateRedis, redisAvailable, redisUrl, uniquePrefix } from './helpers/redis.js'
import { requireService } from './helpers/services.js'
import { delay, waitFor } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { hubOf } from '../lib/hub/realtime.js'

const up = await redisAvailable()

async function node (t: Test, redis: string, prefix: string, store: MessageStore, persist?: { rooms: string[] }): Promise<FastifyInstance> {
  return await build(t, { relayTypes: ['chat'], docs: false, broker: { redis, prefix }, store: { store, persist } })
}

async function member (t: Test, app: FastifyInstance, room: string): Promise<TestClient> {
  const client = await connect(app)
  t.teardown(() => { client.close() })
  await client.join(room)
  return client
}

const events = (client: TestClient, room?: string): string[] => client.frames
  .filter((f): f is Record<string, any> => typeof f === 'object' && f.kind === 'event' && (room === undefined || f.room === room))
  .map((f) => f.id)

async function numsub (redis: Redis, channel: string): Promise<number> {
  const reply = await redis.pubsub('NUMSUB', channel) as [string, number]
  return Number(reply[1])
}

t.test('broker option', async (t) => {
  t.throws(() => resolveBrokerOption('redis://x'), { code: 'VIX_ERR_INVALID_OPTION', message: /"broker"/ })
  t.throws(() => resolveBrokerOption({ redis: 'http://x' }), { code: 'VIX_ERR_INVALID_OPTION', message: /"broker\.redis"/ })
  t.throws(() => resolveBrokerOption({ redis: 'redis://x', prefix: '' }), { code: 'VIX_ERR_INVALID_OPTION', message: /"broker\.prefix"/ })
  const own = { start () {}, publish () {}, subscribe () {}, unsubscribe () {}, close () {} }
  t.equal(resolveBrokerOption(own), own, 'a Broker is kept as it is')
  t.equal(resolveBrokerOption(undefined), undefined)
  const broker = resolveBrokerOption({ redis: 'redis://127.0.0.1:1', prefix: 'p:' }) as RedisBroker
  t.equal(broker.roomChannel('r'), 'p:room:r')
  t.equal(broker.broadcastChannel, 'p:all')
  await broker.close()
  await t.rejects(build(t, { broker: { redis: 'redis://127.0.0.1:1' }, docs: false, failFast: true }), { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', message: /Redis unreachable \(broker\.redis/ }, 'with failFast, Redis unreachable at boot fails boot')
  const app = await build(t, { broker: { redis: 'redis://127.0.0.1:1' }, docs: false })
  t.equal(hubOf(app.realtime).health.readiness().dependencies.redis, 'down', 'without it the node boots, Redis down')
})

t.test('two nodes over the shared Redis', async (t) => {
  if (!requireService(t, 'redis', up.ok, up.reason)) return
  const prefix = uniquePrefix()
  const store = new MemoryMessageStore()
  const a = await node(t, redisUrl, prefix, store, { rooms: ['stored'] })
  const b = await node(t, redisUrl, prefix, store, { rooms: ['stored'] })
  const admin = new Redis(redisUrl)
  t.teardown(() => { admin.disconnect() })

  t.equal(await numsub(admin, `${prefix}all`), 2, 'every node subscribes to broadcasts')
  t.equal(await numsub(admin, `${prefix}room:stored`), 0, 'no member, no subscription')
  const onA = await member(t, a, 'stored')
  t.equal(await numsub(admin, `${prefix}room:stored`), 1, 'a join is acked once its room is subscribed')
  const onB = [await member(t, b, 'stored'), await member(t, b, 'stored')]
  t.equal(await numsub(admin, `${prefix}room:stored`), 2, 'one subscription per node, not per member')

  for (let i = 0; i < 5; i++) {
    onA.send({ type: 'chat', id: `a${i}`, room: 'stored', payload: {} })
    onB[0].send({ type: 'chat', id: `b${i}`, room: 'stored', payload: {} })
  }
  await a.realtime.publish({ id: 'srv', room: 'stored', type: 'chat', payload: {} })
  for (const client of [onA, ...onB]) await client.waitForCount((f) => f.kind === 'event', 11)
  const history = (await store.listByRoom('stored', { limit: 100 })).messages.map((m) => m.message.id)
  for (const client of [onA, ...onB]) t.same(events(client), history, 'each message once, in the one stored order')

  // A room that is not persisted: no offsets, at-most-once, in per-publisher order.
  const plainA = await member(t, a, 'plain')
  const plainB = await member(t, b, 'plain')
  for (let i = 0; i < 5; i++) plainA.send({ type: 'chat', id: `p${i}`, room: 'plain', payload: {} })
  await plainB.waitForCount((f) => f.kind === 'event' && f.room === 'plain', 5)
  await delay(50)
  t.same(events(plainB, 'plain'), ['p0', 'p1', 'p2', 'p3', 'p4'], 'not stored: reaches the other node once, in order')
  t.same(events(plainA, 'plain'), ['p0', 'p1', 'p2', 'p3', 'p4'], 'and the publisher\'s node once (its own echo ignored)')

  // Room-less broadcasts reach every session of every node.
  await b.realtime.publish({ type: 'news', payload: { n: 1 } })
  await onA.waitFor((f) => f.kind === 'event' && f.type === 'news')
  await plainA.waitFor((f) => f.kind === 'event' && f.type === 'news')

  // Another app with another prefix on the same Redis hears nothing of this one.
  const other = await node(t, redisUrl, uniquePrefix(), new MemoryMessageStore())
  const stranger = await member(t, other, 'stored')
  await a.realtime.publish({ id: 'srv2', room: 'stored', type: 'chat', payload: {} })
  await onB[1].waitFor((f) => f.id === 'srv2')
  await delay(50)
  t.same(events(stranger), [], 'prefixes keep apps apart')

  // The last member leaving unsubscribes the node.
  for (const client of onB) client.send({ type: 'room.leave', payload: { room: 'stored' } })
  await waitFor(async () => await numsub(admin, `${prefix}room:stored`) === 1, { message: 'node B unsubscribed' })
})

t.test('a client of the app is used to publish and duplicated to subscribe; it stays open after close', async (t) => {
  if (!requireService(t, 'redis', up.ok, up.reason)) return
  const client = new Redis(redisUrl)
  t.teardown(() => { client.disconnect() })
  const prefix = uniquePrefix()
  const received: unknown[] = []
  const broker = new RedisBroker({ redis: client, prefix })
  const peer = new RedisBroker({ redis: redisUrl, prefix })
  const events = { resync () {}, connection () {}, error () {} }
  await broker.start(() => {}, events)
  await peer.start((envelope) => { received.push(envelope) }, events)
  await peer.subscribe('r')
  await broker.publish({ node: 'x', room: 'r', message: { kind: 'event', type: 'chat', room: 'r', id: '1', ts: 'now', payload: {} } })
  const admin = new Redis(redisUrl)
  t.teardown(() => { admin.disconnect() })
  await admin.publish(`${prefix}room:r`, 'not json')
  await admin.publish(`${prefix}room:r`, '{"node":1}')
  await waitFor(() => received.length === 1, { message: 'the envelope arrived' })
  await delay(30)
  t.equal(received.length, 1, 'what is not an envelope is dropped')
  await broker.close()
  await peer.close()
  t.equal(client.status, 'ready', 'the app\'s client is left open')
})

t.test('the subscriber\'s Redis goes away mid-stream: local delivery goes on, the gap is repaired from the store when it is back', async (t) => {
  const redis = await PrivateRedis.start().catch((error: Error) => error)
  if (!requireService(t, 'redis-server', !(redis instanceof Error), `cannot start redis-server (${String(redis)})`)) return
  const privateRedis = redis as PrivateRedis
  t.teardown(() => privateRedis.stop())
  const prefix = uniquePrefix()
  const store = new MemoryMessageStore()
  const a = await node(t, privateRedis.url, prefix, store)
  const b = await node(t, privateRedis.url, prefix, store)
  const onA = await member(t, a, 'r')
  const onB = await member(t, b, 'r')
  await a.realtime.publish({ id: 'before', room: 'r', type: 'chat', payload: {} })
  await onB.waitFor((f) => f.id === 'before')
  t.equal((await scrapeMetrics(b)).value('vix_broker_connected'), 1)

  await privateRedis.stop()
  await waitFor(async () => (await scrapeMetrics(b)).value('vix_broker_connected') === 0, { message: 'node B sees the outage' })
  const during = ['d1', 'd2', 'd3']
  for (const id of during) await a.realtime.publish({ id, room: 'r', type: 'chat', payload: {} })
  await onA.waitForCount((f) => f.kind === 'event', 4)
  t.same(events(onA), ['before', ...during], 'local delivery goes on during the outage')
  t.ok((await scrapeMetrics(a)).value('vix_broker_errors_total') > 0, 'failures are counted')
  t.same(events(onB), ['before'], 'the other node missed them')

  await privateRedis.start()
  await onB.waitForCount((f) => f.kind === 'event', 4, 10_000)
  t.same(events(onB), ['before', ...during], 'once back, the gap is read from the store, in order')
  const metrics = await scrapeMetrics(b)
  t.ok(metrics.value('vix_broker_gaps_repaired_total') >= 1, 'and counted as a repaired gap')
  t.equal(metrics.value('vix_broker_connected'), 1)
  await waitFor(async () => (await scrapeMetrics(a)).value('vix_broker_connected') === 1, { message: 'node A reconnected' })
  await a.realtime.publish({ id: 'after', room: 'r', type: 'chat', payload: {} })
  await onB.waitFor((f) => f.id === 'after')
  await delay(50)
  t.same(events(onB), ['before', ...during, 'after'], 'exactly once each')
})

t.test('one node\'s subscriber cut from Redis mid-stream: the other publishes on, and the gap is read from PostgreSQL once it is back', async (t) => {
  if (!requireService(t, 'redis', up.ok, up.reason)) return
  const pgUp = await postgresAvailable()
  if (!requireService(t, 'postgresql', pgUp.ok, pgUp.reason)) return
  t.teardown(() => dropRunSchemas())
  const proxy = await TcpProxy.start(Number(new URL(redisUrl).port || 6379))
  t.teardown(() => proxy.close())
  const prefix = uniquePrefix()
  const schema = schemaFor(t.fullname)
  const stores = [0, 1].map(() => new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 4 }))
  t.teardown(() => Promise.all(stores.map((store) => store.close())))
  const a = await node(t, redisUrl, prefix, stores[0])
  const b = await node(t, `redis://127.0.0.1:${proxy.port}`, prefix, stores[1])
  const onA = await member(t, a, 'r')
  const onB = [await member(t, b, 'r'), await member(t, b, 'r')]
  onA.send({ type: 'chat', id: 'm0', room: 'r', payload: {} })
  for (const client of onB) await client.waitFor((f) => f.id === 'm0')

  proxy.cut()
  await waitFor(async () => (await scrapeMetrics(b)).value('vix_broker_connected') === 0, { message: 'node B sees its connection gone' })
  const during = Array.from({ length: 20 }, (_, i) => `m${i + 1}`)
  for (const id of during) onA.send({ type: 'chat', id, room: 'r', payload: {} })
  await onA.waitForCount((f) => f.kind === 'event', 21)
  t.same(events(onA), ['m0', ...during], 'node A delivers on')
  t.same(events(onB[0]), ['m0'], 'node B got none of them meanwhile')

  proxy.restore()
  for (const client of onB) await client.waitForCount((f) => f.kind === 'event', 21, 10_000)
  onA.send({ type: 'chat', id: 'm21', room: 'r', payload: {} })
  for (const client of onB) await client.waitFor((f) => f.id === 'm21')
  await delay(50)
  const all = ['m0', ...during, 'm21']
  for (const client of onB) t.same(events(client), all, 'every message exactly once, in order, the gap from PostgreSQL')
  t.ok((await scrapeMetrics(b)).value('vix_broker_gaps_repaired_total') >= 1, 'vix_broker_gaps_repaired_total says so')
  t.ok((await scrapeMetrics(b)).value('vix_broker_errors_total') >= 1, 'the dropped connection was counted')
})

t.test('an outage is logged once, every failure counted, and each reconnect resubscribes then asks for a resync', async (t) => {
  const redis = await PrivateRedis.start().catch((error: Error) => error)
  if (!requireService(t, 'redis-server', !(redis instanceof Error), `cannot start redis-server (${String(redis)})`)) return
  const privateRedis = redis as PrivateRedis
  t.teardown(() => privateRedis.stop())
  const logged: unknown[] = []
  const logger = { debug () {}, warn () {}, error (obj: unknown) { logged.push(obj) } }
  const prefix = uniquePrefix()
  const broker = new RedisBroker({ redis: privateRedis.url, prefix, logger, retryDelay: { min: 10, max: 50 } })
  t.teardown(() => broker.close())
  const seen = { errors: 0, resyncs: 0, states: [] as boolean[] }
  const received: string[] = []
  await broker.start((envelope) => { received.push(envelope.message.id as string) }, {
    resync: () => { seen.resyncs++ },
    connection: (up) => { seen.states.push(up) },
    error: () => { seen.errors++ }
  })
  await broker.subscribe('r')
  for (let outage = 1; outage <= 2; outage++) {
    const before = seen.errors
    await privateRedis.stop()
    await waitFor(() => seen.errors >= before + 3 && seen.states.at(-1) === false, { message: () => `errors: ${seen.errors}` })
    await t.rejects(broker.publish({ node: 'n', room: 'r', message: { kind: 'event', type: 'chat', room: 'r', id: 'x', ts: 'now', payload: {} } }), 'a publish while disconnected fails at once, not queued')
    await broker.subscribe('later')
    t.equal(logged.length, outage, `outage ${outage}: logged once, however many failures (${seen.errors})`)
    await privateRedis.start()
    await waitFor(() => seen.resyncs === outage, { timeout: 10_000, message: 'a resync after the reconnect' })
    t.same(seen.states.slice(-2), [false, true], 'down, then up')
  }
  // Both rooms, the one joined during the outage too, are subscribed again.
  const admin = new Redis(privateRedis.url)
  t.teardown(() => { admin.disconnect() })
  for (const room of ['r', 'later']) await admin.publish(`${prefix}room:${room}`, JSON.stringify({ node: 'other', room, message: { kind: 'event', type: 'chat', room, id: room, ts: 'now', payload: {} } }))
  await waitFor(() => received.length === 2, { message: () => `received ${received.join(',')}` })
  t.same(received.sort(), ['later', 'r'])
  await broker.unsubscribe('later')
  await broker.close()
  await broker.close()
  t.equal(logged.length, 2, 'closing logs nothing')
})
