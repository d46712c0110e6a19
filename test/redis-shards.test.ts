import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { HashRing } from '../lib/broker/hash-ring.js'
import { resolveBrokerOption } from '../lib/broker/options.js'
import { ShardedRedisBroker } from '../lib/broker/redis-shards.js'
import type { BrokerEvents, Envelope } from '../lib/broker/types.js'
import { brokerFromEnv } from '../lib/config.js'
import { hubOf } from '../lib/hub/realtime.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { build } from './helpers/app.js'
import { membersOn, startExampleCluster, storedOrder } from './helpers/cluster.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { PrivateRedis, uniquePrefix } from './helpers/redis.js'
import { requireService } from './helpers/services.js'
import { TcpProxy } from './helpers/tcp-proxy.js'
import { delay, waitFor } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'

/** Private redis-servers on free ports (never the shared one), stopped at the end of the test; undefined (skipped) without redis-server. */
async function privateServers (t: Test, count: number): Promise<PrivateRedis[] | undefined> {
  const started = await Promise.all(Array.from({ length: count }, async () => await PrivateRedis.start().catch((error: Error) => error)))
  for (const server of started) if (!(server instanceof Error)) t.teardown(() => server.stop())
  const failed = started.find((server): server is Error => server instanceof Error)
  if (!requireService(t, 'redis-server', failed === undefined, `cannot start redis-server (${String(failed)})`)) return undefined
  return started as PrivateRedis[]
}

/** The first room of `room-0`, `room-1`, ... that `ring` puts on each server: rooms known to live apart. */
function roomsApart (ring: HashRing): string[] {
  const rooms: string[] = []
  for (let i = 0; rooms.length < ring.size; i++) {
    const room = `room-${i}`
    if (rooms[ring.owner(room)] === undefined) rooms[ring.owner(room)] = room
    if (rooms.filter(Boolean).length === ring.size) break
  }
  return rooms
}

/** A sharded broker that counts, per room, the envelopes it hands the hub from Redis. */
class CountingBroker extends ShardedRedisBroker {
  readonly delivered = new Map<string, number>()

  override async start (deliver: (envelope: Envelope) => void, events: BrokerEvents): Promise<void> {
    await super.start((envelope) => {
      const room = envelope.room ?? '(all)'
      this.delivered.set(room, (this.delivered.get(room) ?? 0) + 1)
      deliver(envelope)
    }, events)
  }
}

async function member (t: Test, app: FastifyInstance, room: string): Promise<TestClient> {
  const client = await connect(app)
  t.teardown(() => { client.close() })
  await client.join(room)
  return client
}

const eventIds = (client: TestClient, room: string): string[] => client.frames
  .filter((f): f is Record<string, any> => typeof f === 'object' && f.kind === 'event' && f.room === room)
  .map((f) => f.id)

async function storedIds (store: MemoryMessageStore, room: string): Promise<string[]> {
  return (await store.listByRoom(room, { limit: 1000 })).messages.map((m) => m.message.id as string)
}

async function numsub (url: string, channel: string): Promise<number> {
  const admin = new Redis(url)
  try {
    const reply = await admin.pubsub('NUMSUB', channel) as [string, number]
    return Number(reply[1])
  } finally {
    admin.disconnect()
  }
}

t.test('the hash ring: balanced, stable when a server is added, the same on every node', async (t) => {
  const rooms = Array.from({ length: 1000 }, (_, i) => `room-${i}`)
  const three = new HashRing(3)
  const counts = [0, 0, 0]
  for (const room of rooms) counts[three.owner(room)]++
  const mean = rooms.length / 3
  t.ok(Math.max(...counts) <= 1.25 * mean, `1,000 rooms over 3 servers: the busiest carries ${counts.join('/')}, at most 1.25 × the mean`)

  const four = new HashRing(4)
  const moved = rooms.filter((room) => three.owner(room) !== four.owner(room))
  t.ok(moved.length <= 350, `a 4th server moves ${moved.length} of 1,000 rooms (about 1/4)`)
  t.ok(moved.every((room) => four.owner(room) === 3), 'and only to the new server: the others keep theirs')

  const elsewhere = new HashRing(3)
  t.ok(rooms.every((room) => elsewhere.owner(room) === three.owner(room)), 'another node\'s ring puts every room on the same server')
  t.same(rooms.slice(0, 8).map((room) => three.owner(room)), [0, 1, 0, 2, 1, 1, 0, 1], 'and so does another process (fixed points, not a seed)')
  t.equal(new HashRing(1).owner('any'), 0, 'one server owns everything')
})

t.test('options: a list of two or more redis:// URLs or clients, each checked by its path', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ redis: [] }, /"broker\.redis": expected two or more .* got an empty list/],
    [{ redis: ['redis://a'] }, /"broker\.redis": a list of one server: use redis: url/],
    [{ redis: ['redis://a', 'http://b'] }, /"broker\.redis\[1\]": expected a redis:\/\/ or rediss:\/\/ URL or an ioredis client/],
    [{ redis: ['redis://a', 42] }, /"broker\.redis\[1\]"/],
    [{ redis: ['redis://a', 'redis://b', 'redis://a'] }, /"broker\.redis\[2\]": the same server as broker\.redis\[0\]/],
    [{ redis: ['redis://a', 'redis://b'], prefix: '' }, /"broker\.prefix"/]
  ]
  for (const [option, message] of cases) t.throws(() => resolveBrokerOption(option), { code: 'VIX_ERR_INVALID_OPTION', message }, JSON.stringify(option))
  await t.rejects(build(t, { broker: { redis: ['redis://a', 'ftp://b'] }, docs: false }), { code: 'VIX_ERR_INVALID_OPTION', message: /"broker\.redis\[1\]"/ }, 'a bad one fails register')

  const broker = resolveBrokerOption({ redis: ['redis://127.0.0.1:1', 'redis://127.0.0.1:2'], prefix: 'p:' })
  t.ok(broker instanceof ShardedRedisBroker, 'two URLs: a ShardedRedisBroker')
  const sharded = broker as ShardedRedisBroker
  t.same(sharded.servers.map((server) => server.prefix), ['p:', 'p:'], 'one RedisBroker per server, the prefix on each')
  await sharded.close()

  const app = await build(t, { broker: { redis: ['redis://127.0.0.1:1', 'redis://127.0.0.1:2'] }, docs: false })
  const { dependencies } = hubOf(app.realtime).health.readiness()
  t.same([dependencies.redis, dependencies['redis#2']], ['down', 'down'], 'each server is a dependency of its own')
  await t.rejects(build(t, { broker: { redis: ['redis://127.0.0.1:1', 'redis://127.0.0.1:2'] }, docs: false, failFast: true }),
    { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', message: /Redis( #2)? unreachable \(broker\.redis\[[01]\]/ }, 'with failFast, a server unreachable at boot fails boot naming it')
})

t.test('env: REDIS_URLS beside REDIS_URL and NATS_URL, one of them at most', async (t) => {
  t.same(brokerFromEnv({ REDIS_URLS: 'redis://a:6379, redis://b:6379', VIX_REDIS_PREFIX: 'chat:' }), { redis: ['redis://a:6379', 'redis://b:6379'], prefix: 'chat:' })
  t.throws(() => brokerFromEnv({ REDIS_URLS: 'redis://u:s3cret@a:6379' }), {
    code: 'VIX_ERR_INVALID_ENV',
    message: /^Invalid environment variable REDIS_URLS=redis:\/\/u:\[redacted\]@a:6379: expected two or more comma-separated redis:\/\/ URLs \(one server: set REDIS_URL\)$/
  })
  t.throws(() => brokerFromEnv({ REDIS_URLS: 'redis://a,' }), { code: 'VIX_ERR_INVALID_ENV', message: /REDIS_URLS/ }, 'an empty entry')
  t.throws(() => brokerFromEnv({ REDIS_URL: 'redis://a', REDIS_URLS: 'redis://a,redis://u:pw@b' }), {
    code: 'VIX_ERR_INVALID_ENV',
    message: /^Invalid environment variable REDIS_URLS=redis:\/\/a,redis:\/\/u:\[redacted\]@b: REDIS_URL is set too: set one of REDIS_URL \(one Redis\), REDIS_URLS \(several independent Redis servers\), REDIS_CLUSTER \(a Redis Cluster\) or NATS_URL \(NATS\)$/
  })
  t.throws(() => brokerFromEnv({ REDIS_URL: 'redis://a', REDIS_URLS: 'redis://a,redis://b', NATS_URL: 'nats://n' }), { code: 'VIX_ERR_INVALID_ENV', message: /NATS_URL=nats:\/\/n: REDIS_URL and REDIS_URLS are set too/ })
})

t.test('three nodes over three Redis servers: each room on its server, a node receives only its members\' rooms, every message once in order', async (t) => {
  const servers = await privateServers(t, 3)
  if (servers === undefined) return
  const urls = servers.map((server) => server.url)
  const prefix = uniquePrefix()
  const store = new MemoryMessageStore()
  const rooms = Array.from({ length: 12 }, (_, i) => `room-${i}`)
  const ring = new HashRing(3)
  t.same(new Set(rooms.map((room) => ring.owner(room))).size, 3, 'the twelve rooms are spread over all three servers')
  const brokers = [0, 1, 2].map(() => new CountingBroker({ redis: urls, prefix }))
  const [a, b, c] = await Promise.all(brokers.map(async (broker) => await build(t, { relayTypes: ['chat'], docs: false, broker, store: { store } })))
  // Node A has members in every room, B in four, C in two.
  const wanted = { a: rooms, b: rooms.slice(0, 4), c: rooms.slice(4, 6) }
  const onA = await Promise.all(wanted.a.map(async (room) => await member(t, a, room)))
  const onB = await Promise.all(wanted.b.map(async (room) => await member(t, b, room)))
  const onC = await Promise.all(wanted.c.map(async (room) => await member(t, c, room)))

  for (const room of rooms) {
    const counts = await Promise.all(urls.map(async (url) => await numsub(url, `${prefix}room:${room}`)))
    const nodes = 1 + Number(wanted.b.includes(room)) + Number(wanted.c.includes(room))
    t.same(counts.map((count, server) => server === ring.owner(room) ? count === nodes : count === 0), [true, true, true], `${room}: subscribed on server ${ring.owner(room)} only, by ${nodes} node(s)`)
  }
  t.same(await Promise.all(urls.map(async (url) => await numsub(url, `${prefix}control`))), [3, 0, 0], 'control (and broadcasts) on the first server only')

  // Every node publishes into the rooms it has members in, interleaved.
  const perRoom = 5
  for (let i = 0; i < perRoom; i++) {
    for (const [n, room] of rooms.entries()) onA[n].send({ type: 'chat', id: `a-${room}-${i}`, room, payload: {} })
    for (const [n, room] of wanted.b.entries()) onB[n].send({ type: 'chat', id: `b-${room}-${i}`, room, payload: {} })
    for (const [n, room] of wanted.c.entries()) onC[n].send({ type: 'chat', id: `c-${room}-${i}`, room, payload: {} })
  }
  const expected = (room: string): number => perRoom * (1 + Number(wanted.b.includes(room)) + Number(wanted.c.includes(room)))
  const everyone: Array<[TestClient, string]> = [...wanted.a.map((room, n): [TestClient, string] => [onA[n], room]), ...wanted.b.map((room, n): [TestClient, string] => [onB[n], room]), ...wanted.c.map((room, n): [TestClient, string] => [onC[n], room])]
  for (const [client, room] of everyone) await client.waitForCount((f) => f.kind === 'event' && f.room === room, expected(room), 10_000)
  await b.realtime.publish({ type: 'news', payload: {} })
  for (const client of [onA[0], onC[0]]) await client.waitFor((f) => f.type === 'news')
  await delay(100)
  for (const [client, room] of everyone) t.same(eventIds(client, room), await storedIds(store, room), `${room}: exactly once, in the one stored order`)

  const [deliveredA, deliveredB, deliveredC] = brokers.map((broker) => broker.delivered)
  t.same([...deliveredB.keys()].filter((room) => room !== '(all)').sort(), [...wanted.b].sort(), 'node B\'s broker delivered only its four rooms')
  t.same([...deliveredC.keys()].filter((room) => room !== '(all)').sort(), [...wanted.c].sort(), 'node C\'s broker delivered only its two rooms')
  t.equal(deliveredA.size, rooms.length + 1, 'node A\'s all twelve (and the broadcast)')
  t.equal(deliveredC.get(rooms[4]), expected(rooms[4]), 'one envelope per message and node, its own echo included')
})

t.test('one server cut mid-stream: its rooms stop crossing nodes, the others go on, and after it is back every client has every message once, in order', async (t) => {
  const servers = await privateServers(t, 2)
  if (servers === undefined) return
  const proxy = await TcpProxy.start(servers[1].port)
  t.teardown(() => proxy.close())
  const prefix = uniquePrefix()
  const store = new MemoryMessageStore()
  // Node B reaches the second server through the proxy: the same list, in the same order, through another address.
  const a = await build(t, { relayTypes: ['chat'], docs: false, broker: { redis: [servers[0].url, servers[1].url], prefix }, store: { store } })
  const b = await build(t, { relayTypes: ['chat'], docs: false, broker: { redis: [servers[0].url, `redis://127.0.0.1:${proxy.port}`], prefix }, store: { store } })
  const [first, second] = roomsApart(new HashRing(2))
  const members = { a: [await member(t, a, first), await member(t, a, second)], b: [await member(t, b, first), await member(t, b, second)] }
  const everyone: Array<[TestClient, string]> = [[members.a[0], first], [members.a[1], second], [members.b[0], first], [members.b[1], second]]
  const publish = (node: 'a' | 'b', id: string): void => {
    members[node][0].send({ type: 'chat', id: `${id}-1`, room: first, payload: {} })
    members[node][1].send({ type: 'chat', id: `${id}-2`, room: second, payload: {} })
  }
  publish('a', 'before')
  for (const [client, room] of everyone) await client.waitFor((f) => f.room === room && f.id === `before-${room === first ? 1 : 2}`)

  proxy.cut()
  await waitFor(() => hubOf(b.realtime).health.readiness().dependencies['redis#2'] === 'down', { message: 'node B sees the second server gone' })
  t.equal(hubOf(b.realtime).health.readiness().dependencies.redis, 'up', 'the first server stays up')
  t.equal((await scrapeMetrics(b)).value('vix_broker_connected'), 0, 'the broker counts as disconnected while one server is')
  // Node A publishes on: the second server's room does not reach node B.
  for (let i = 0; i < 5; i++) publish('a', `during${i}`)
  await members.b[0].waitFor((f) => f.id === 'during4-1', 5000)
  await delay(100)
  t.same(eventIds(members.b[0], first), await storedIds(store, first), 'the first server\'s room crosses nodes on, in order')
  t.same(eventIds(members.b[1], second), ['before-2'], 'the second server\'s room does not reach node B meanwhile')
  // Node B publishes too (overlapping faults): its publishes to the second server fail; locally its own come with what it
  // missed, read from the store, and node A, whose link never broke, does not hear them yet.
  for (let i = 5; i < 10; i++) publish('b', `during${i}`)
  await members.a[0].waitFor((f) => f.id === 'during9-1', 5000)
  await members.b[1].waitFor((f) => f.id === 'during9-2', 5000)
  t.same(eventIds(members.b[1], second), await storedIds(store, second), 'node B\'s member of the second room: its node\'s messages and, from the store, the rest')
  t.notOk(eventIds(members.a[1], second).includes('during5-2'), 'node A does not hear node B\'s messages in the second server\'s room')

  proxy.restore()
  await waitFor(() => hubOf(b.realtime).health.readiness().dependencies['redis#2'] === 'up', { timeout: 10_000, message: 'node B reconnected to the second server' })
  publish('a', 'after-a')
  publish('b', 'after-b')
  await waitFor(async () => {
    for (const [client, room] of everyone) if (eventIds(client, room).length < (await storedIds(store, room)).length) return false
    return true
  }, { timeout: 10_000, message: 'every client caught up' })
  await delay(100)
  for (const [client, room] of everyone) t.same(eventIds(client, room), await storedIds(store, room), `${room}: every message exactly once, in the stored order`)
  t.equal((await storedIds(store, second)).length, 13, 'nothing lost from the store either')
  t.ok((await scrapeMetrics(b)).value('vix_broker_gaps_repaired_total') >= 1, 'the gap was repaired from the store')
  t.equal((await scrapeMetrics(b)).value('vix_broker_connected'), 1, 'and the broker is connected again once every server is')
  const links = await scrapeMetrics(b)
  t.same(['redis', 'redis#2'].map((link) => links.value('vix_broker_link_connected', { link })), [1, 1], 'each server\'s link is a series of its own, both connected')
  t.same(['redis', 'redis#2'].map((link) => links.value('vix_broker_link_resubscriptions_total', { link }) >= 1), [false, true], 'only the second server\'s link subscribed again')
  t.ok(links.value('vix_broker_link_errors_total', { link: 'redis#2' }) >= 1, 'and counted its drop')
})

t.test('three example-app nodes in processes of their own over REDIS_URLS and PostgreSQL', async (t) => {
  const postgres = await postgresAvailable()
  if (!requireService(t, 'postgresql', postgres.ok, postgres.reason)) return
  const servers = await privateServers(t, 2)
  if (servers === undefined) return
  t.teardown(() => dropRunSchemas())
  const env = { REDIS_URL: '', NATS_URL: '', REDIS_URLS: servers.map((server) => server.url).join(','), VIX_REDIS_PREFIX: uniquePrefix(), DATABASE_URL: postgresUrl, VIX_PG_SCHEMA: schemaFor(t.fullname) }
  const nodes = await startExampleCluster(t, env, ['a', 'b', 'c'])
  const rooms = roomsApart(new HashRing(2))
  const members = await Promise.all(rooms.map(async (room) => await membersOn(t, nodes, room, 1)))
  const perPublisher = 10
  for (let i = 0; i < perPublisher; i++) {
    for (const [r, room] of rooms.entries()) for (const [n, client] of members[r].entries()) client.send({ type: 'chat.message', id: `${nodes[n].name}-${i}`, room, payload: { text: `${i}` } })
  }
  for (const [r, room] of rooms.entries()) {
    for (const client of members[r]) await client.waitForCount((f) => f.kind === 'event' && f.room === room && f.type === 'chat.message', perPublisher * nodes.length, 15_000)
  }
  await delay(200)
  for (const [r, room] of rooms.entries()) {
    const order = await storedOrder(nodes[0], room)
    t.equal(order.length, perPublisher * nodes.length, `${room}: every message stored once`)
    for (const [n, client] of members[r].entries()) t.same(eventIds(client, room), order, `${room} on node ${nodes[n].name}: exactly once, in the stored order`)
  }
})
