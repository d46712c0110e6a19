import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { brokerOf } from '../example-app/banner.js'
import { resolveBrokerOption } from '../lib/broker/options.js'
import { RedisClusterBroker } from '../lib/broker/redis-cluster.js'
import { clusterSlots, keySlot, partitionOf, partitionTags } from '../lib/broker/slots.js'
import type { Envelope } from '../lib/broker/types.js'
import { brokerFromEnv } from '../lib/config.js'
import { hubOf } from '../lib/hub/realtime.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { build } from './helpers/app.js'
import { onlyMemberRooms } from './helpers/brokers.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { membersOn, startExampleCluster, storedOrder } from './helpers/cluster.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { uniquePrefix } from './helpers/redis.js'
import { PrivateRedisCluster } from './helpers/redis-cluster.js'
import { requireService } from './helpers/services.js'
import { delay, waitFor } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'

// One private cluster for the file (three masters, a replica each): the balance is measured before failovers move slots.
const started = await PrivateRedisCluster.start({ masters: 3, replicas: 1 }).catch((error: Error) => error)
t.teardown(async () => { if (!(started instanceof Error)) await started.stop() })

function privateCluster (t: Test): PrivateRedisCluster | undefined {
  if (!requireService(t, 'redis-cluster', !(started instanceof Error), `cannot start a private Redis Cluster (${String(started)})`)) return undefined
  return started as PrivateRedisCluster
}

/** A cluster broker on the private cluster whose deliveries are kept, closed at the end of the test. */
async function startBroker (t: Test, cluster: PrivateRedisCluster, prefix: string): Promise<{ broker: RedisClusterBroker, delivered: Envelope[] }> {
  const broker = new RedisClusterBroker({ cluster: cluster.seeds.slice(0, 1), sharded: true, prefix })
  t.teardown(() => broker.close())
  const delivered: Envelope[] = []
  await broker.start((envelope) => { delivered.push(envelope) }, { resync () {}, connection () {}, error () {} })
  return { broker, delivered }
}

t.test('hash tags: slots as Redis computes them; partitions on evenly spaced slots, an even share per master where naive tags are not', async (t) => {
  t.same([keySlot('foo'), keySlot('{user1000}.following'), keySlot('{user1000}.followers'), keySlot('a{}b'), keySlot('x{y}z')], [12182, 3443, 3443, 13694, keySlot('y')],
    'CRC16 of the hash tag (or the whole name when the tag is empty), modulo 16384')
  const tags = partitionTags(64)
  t.same(tags.map((tag) => keySlot(`{${tag}}`)), Array.from({ length: 64 }, (_, i) => Math.floor((i + 0.5) * clusterSlots / 64)), 'partition i on slot (i + 1/2) · 16384 / 64')
  t.same(partitionTags(64), tags, 'the same tags on every node')
  // The three ranges redis-cli --cluster create gives three masters.
  const master = (slot: number): number => slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2
  const share = (slots: number[]): number[] => [0, 1, 2].map((m) => slots.filter((slot) => master(slot) === m).length)
  t.same(share(tags.map((tag) => keySlot(`{${tag}}`))), [21, 22, 21], '64 partitions: 21, 22 and 21 per master')
  t.same(share(partitionTags(32).map((tag) => keySlot(`{${tag}}`))), [11, 10, 11], '32 partitions: 11, 10 and 11 per master')
  t.same(share(Array.from({ length: 32 }, (_, i) => keySlot(`{${i}}`))), [13, 11, 8], 'where naive tags {0}..{31} put 13, 11 and 8: the busiest master 1.6x the least')
  t.same(partitionTags(3).length, 3, 'a few partitions')
  t.ok(partitionOf('general', 64) >= 0 && partitionOf('general', 64) < 64, 'a room\'s partition is one of them')
})

t.test('options and env: { cluster, sharded: true, partitions? }, REDIS_CLUSTER, each alone', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ redis: { cluster: [], sharded: true } }, /"broker\.redis\.cluster": expected one or more seeds/],
    [{ redis: { cluster: ['h:1', 'nope'], sharded: true } }, /"broker\.redis\.cluster\[1\]": expected "host:port"/],
    [{ redis: { cluster: ['h:1'] } }, /"broker\.redis\.sharded": expected true/],
    [{ redis: { cluster: ['h:1'], sharded: true, partitions: 0 } }, /"broker\.redis\.partitions"/],
    [{ redis: { cluster: ['h:1'], sharded: true, shards: 2 } }, /"broker\.redis\.shards": unknown option/],
    [{ redis: { cluster: ['h:1'], sharded: true }, prefix: 'a{b}:' }, /"broker\.prefix": no \{ or \}/]
  ]
  for (const [option, message] of cases) t.throws(() => resolveBrokerOption(option), { code: 'VIX_ERR_INVALID_OPTION', message }, JSON.stringify(option))
  const broker = resolveBrokerOption({ redis: { cluster: ['127.0.0.1:1', { host: '127.0.0.1', port: 2 }], sharded: true, partitions: 16 }, prefix: 'p:' })
  t.ok(broker instanceof RedisClusterBroker, 'a RedisClusterBroker')
  const cluster = broker as RedisClusterBroker
  t.same([cluster.partitions, cluster.prefix], [16, 'p:'])
  t.match(cluster.roomChannel('general'), /^p:\{[0-9a-z]+\}room:general$/, 'a room\'s channel: prefix, its partition\'s tag, the room')
  t.equal(keySlot(cluster.roomChannel('general')), cluster.slotOf(partitionOf('general', 16)), 'on its partition\'s slot')
  t.equal(keySlot(cluster.controlChannel), cluster.slotOf(0), 'control and broadcasts on partition 0')
  await cluster.close()

  t.same(brokerFromEnv({ REDIS_CLUSTER: '10.0.0.1:7000, 10.0.0.2:7000', VIX_REDIS_PREFIX: 'chat:' }), { redis: { cluster: ['10.0.0.1:7000', '10.0.0.2:7000'], sharded: true }, prefix: 'chat:' })
  t.throws(() => brokerFromEnv({ REDIS_CLUSTER: 'redis://10.0.0.1:7000' }), { code: 'VIX_ERR_INVALID_ENV', message: /REDIS_CLUSTER=redis:\/\/10\.0\.0\.1:7000: expected comma-separated host:port seeds/ })
  for (const other of ['REDIS_URL', 'REDIS_URLS', 'NATS_URL']) {
    t.throws(() => brokerFromEnv({ [other]: other === 'NATS_URL' ? 'nats://n' : 'redis://a', REDIS_CLUSTER: '10.0.0.1:7000' }), { code: 'VIX_ERR_INVALID_ENV', message: new RegExp(`${other}.* set too: set one of REDIS_URL .*REDIS_CLUSTER \\(a Redis Cluster\\)`) }, `not with ${other}`)
  }
  t.equal(brokerOf({ REDIS_CLUSTER: '10.0.0.1:7000,10.0.0.2:7000', VIX_REDIS_PREFIX: 'chat:' }), 'Redis Cluster, sharded, seeds 10.0.0.1:7000 10.0.0.2:7000, prefix chat: (REDIS_CLUSTER)', 'the example app\'s banner')

  const app = await build(t, { broker: new RedisClusterBroker({ cluster: ['127.0.0.1:1'], sharded: true, topologyInterval: 50 }), docs: false })
  t.equal(hubOf(app.realtime).health.readiness().dependencies['redis-cluster'], 'down', 'unreachable at boot: the node boots, the cluster a dependency that is down')
  const errors = async (): Promise<number> => (await scrapeMetrics(app)).value('vix_broker_link_errors_total', { link: 'redis-cluster' })
  const atBoot = await errors()
  await waitFor(async () => await errors() > atBoot, { timeout: 3000, message: 'the slot map is read again, and fails' })
  t.equal((await scrapeMetrics(app)).value('vix_broker_link_connected', { link: 'redis-cluster' }), 0, 'and keeps trying, disconnected')
  t.equal((await scrapeMetrics(app)).value('vix_dependency_errors_total', { dependency: 'redis-cluster' }), 1, 'one outage, from boot on, however many failed tries')
  await t.rejects(build(t, { broker: { redis: { cluster: ['127.0.0.1:1'], sharded: true }, prefix: uniquePrefix() }, docs: false, failFast: true }),
    { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', message: /Redis Cluster unreachable \(broker\.redis\.cluster\)/ }, 'with failFast, boot fails naming it')
})

t.test('balance: 1,000 rooms over three masters, the busiest carries at most 1.25x the mean; a node with members in 10 rooms receives only those', async (t) => {
  const cluster = privateCluster(t)
  if (cluster === undefined) return
  const prefix = uniquePrefix()
  const publisher = await startBroker(t, cluster, prefix)
  const member = await startBroker(t, cluster, prefix)
  const rooms = Array.from({ length: 1000 }, (_, i) => `room-${i}`)
  const mine = rooms.filter((_, i) => i % 100 === 7)
  for (const room of mine) await member.broker.subscribe(room)
  for (const room of mine) t.equal(await cluster.shardSubscribers(member.broker.roomChannel(room), keySlot(member.broker.roomChannel(room))), 1, `${room}: subscribed on its master`)

  const before = await cluster.spublishCalls()
  await Promise.all(rooms.map(async (room, i) => { await publisher.broker.publish({ node: 'a', room, message: { kind: 'event', type: 'chat', id: `m${i}`, room, ts: '2026-01-01T00:00:00.000Z', payload: {} } }) }))
  const after = await cluster.spublishCalls()
  const perMaster = [...after].map(([port, calls]) => calls - (before.get(port) ?? 0))
  t.equal(perMaster.reduce((sum, calls) => sum + calls, 0), 1000, 'one SPUBLISH per message, on one master only')
  const mean = 1000 / perMaster.length
  t.ok(Math.max(...perMaster) <= 1.25 * mean, `SPUBLISH per master (INFO commandstats): ${perMaster.join('/')}; the busiest at most 1.25 × the mean ${mean.toFixed(0)}`)

  await waitFor(() => member.delivered.length >= mine.length, { timeout: 5000, message: () => `node with 10 rooms received ${member.delivered.length}` })
  await delay(100)
  t.same(member.delivered.map((envelope) => envelope.room).sort(), [...mine].sort(), 'it receives its 10 rooms\' messages, once each, and nothing of the other 990')
  t.equal(publisher.delivered.length, 0, 'a node with no members receives nothing')
  const masters = new Set(mine.map((room) => member.broker.placementOf(partitionOf(room, member.broker.partitions))))
  t.same(member.broker.subscriberNodes.sort(), [...masters].sort(), `10 rooms, one subscriber connection per master that carries them (${masters.size})`)
  for (const key of [member.broker.roomChannel(mine[0]), member.broker.controlChannel, 'a{}b', 'plain']) t.equal(keySlot(key), await cluster.keySlot(key), `${key}: the slot the cluster computes`)
})

t.test('a node receives only the rooms it has local members in, and stops when it leaves them', async (t) => {
  const cluster = privateCluster(t)
  if (cluster === undefined) return
  const prefix = uniquePrefix()
  await onlyMemberRooms(t, new RedisClusterBroker({ cluster: cluster.seeds, sharded: true, prefix }), new RedisClusterBroker({ cluster: cluster.seeds, sharded: true, prefix }))
})

const eventIds = (client: TestClient, room: string): string[] => client.frames
  .filter((f): f is Record<string, any> => typeof f === 'object' && f.kind === 'event' && f.room === room)
  .map((f) => f.id)

/** The private cluster and PostgreSQL (its run's schemas dropped at the end), or undefined (skipped) without either. */
async function withPostgres (t: Test): Promise<PrivateRedisCluster | undefined> {
  const cluster = privateCluster(t)
  if (cluster === undefined) return undefined
  const postgres = await postgresAvailable()
  if (!requireService(t, 'postgresql', postgres.ok, postgres.reason)) return undefined
  t.teardown(() => dropRunSchemas())
  return cluster
}

/** The first room of `room-0`, `room-1`, ... on each master: rooms known to live apart. */
async function roomOnEachMaster (cluster: PrivateRedisCluster, broker: RedisClusterBroker): Promise<string[]> {
  const byMaster = new Map<number, string>()
  for (let i = 0; byMaster.size < 3; i++) {
    const room = `room-${i}`
    const owner = await cluster.ownerOf(keySlot(broker.roomChannel(room)))
    if (!byMaster.has(owner.port)) byMaster.set(owner.port, room)
  }
  return [...byMaster.values()]
}

t.test('three example-app nodes in processes of their own over REDIS_CLUSTER and PostgreSQL: a room on each master, every message once in order', async (t) => {
  const cluster = await withPostgres(t)
  if (cluster === undefined) return
  const prefix = uniquePrefix()
  const env = { REDIS_URL: '', REDIS_URLS: '', NATS_URL: '', REDIS_CLUSTER: cluster.seeds.slice(0, 2).join(','), VIX_REDIS_PREFIX: prefix, DATABASE_URL: postgresUrl, VIX_PG_SCHEMA: schemaFor(t.fullname) }
  const nodes = await startExampleCluster(t, env, ['a', 'b', 'c'])
  const namer = new RedisClusterBroker({ cluster: cluster.seeds, sharded: true, prefix })
  const rooms = await roomOnEachMaster(cluster, namer)
  await namer.close()
  const members = await Promise.all(rooms.map(async (room) => await membersOn(t, nodes, room, 1)))
  // Every node publishes into every room, interleaved.
  for (let i = 0; i < 8; i++) {
    for (const [r, room] of rooms.entries()) for (const [n, client] of members[r].entries()) client.send({ type: 'chat.message', id: `${room}/${nodes[n].name}-${i}`, room, payload: { text: `${i}` } })
  }
  const total = 8 * nodes.length
  for (const [r, room] of rooms.entries()) for (const client of members[r]) await client.waitForCount((f) => f.kind === 'event' && f.room === room, total, 15_000)
  await delay(200)
  for (const [r, room] of rooms.entries()) {
    const order = await storedOrder(nodes[0], room)
    t.equal(order.length, total, `${room}: every message stored once`)
    for (const [n, client] of members[r].entries()) t.same(eventIds(client, room), order, `${room} on node ${nodes[n].name}: exactly once, in the stored order`)
  }
})

t.test('a failover and a slot migration under load: every room subscribed again within 5 s, no stored message lost or doubled at any client', async (t) => {
  const cluster = await withPostgres(t)
  if (cluster === undefined) return
  const prefix = uniquePrefix()
  const schema = schemaFor(t.fullname)
  const stores = [0, 1, 2].map(() => new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 4 }))
  t.teardown(() => Promise.all(stores.map(async (store) => { await store.close() })))
  const brokers = [0, 1, 2].map((i) => new RedisClusterBroker({ cluster: cluster.seeds.slice(i, i + 1), sharded: true, prefix, partitions: 16, topologyInterval: 500 }))
  const apps: FastifyInstance[] = []
  // One after the other: the first creates the schema. No periodic store check: what repairs a gap is the broker's resync.
  for (const [i, broker] of brokers.entries()) apps.push(await build(t, { relayTypes: ['chat'], docs: false, broker, store: { store: stores[i], hold: { checkInterval: 0 } } }))
  const rooms = [...await roomOnEachMaster(cluster, brokers[0]), 'lobby', 'general']
  const members = await Promise.all(apps.map(async (app) => await Promise.all(rooms.map(async (room) => {
    const client = await connect(app)
    t.teardown(() => { client.close() })
    await client.join(room)
    return client
  }))))

  // Load: every node publishes in turn into every room, each message paced by its own node's delivery.
  const loadState = { stopped: false }
  let sent = 0
  const load = (async () => {
    for (let i = 0; !loadState.stopped; i++) {
      const sender = members[i % 3][i % rooms.length]
      const id = `m${i}`
      sender.send({ type: 'chat', id, room: rooms[i % rooms.length], payload: {} })
      await sender.waitFor((f) => f.kind === 'event' && f.id === id, 10_000)
      sent++
    }
  })()
  const sentBy = async (count: number): Promise<void> => { await waitFor(() => sent >= count, { timeout: 15_000, interval: 10, message: () => `only ${sent} messages sent` }) }
  const everyRoomSubscribed = async (since: number, what: string): Promise<void> => {
    await waitFor(async () => {
      for (const room of rooms) {
        const channel = brokers[0].roomChannel(room)
        if (await cluster.shardSubscribers(channel, keySlot(channel)) !== 3) return false
      }
      return true
    }, { timeout: 8000, interval: 50, message: `every room subscribed again by all three nodes after the ${what}` })
    const took = Date.now() - since
    t.ok(took <= 5000, `after the ${what}: every room subscribed again by all three nodes on the master that serves it, in ${took} ms (at most 5 s)`)
  }

  await sentBy(30)
  const failedOver = await cluster.ownerOf(keySlot(brokers[0].roomChannel(rooms[0])))
  let since = Date.now()
  const promoted = await cluster.failover(failedOver)
  await everyRoomSubscribed(since, `failover of ${failedOver.port} to ${promoted.port}`)
  await sentBy(sent + 30)

  const slot = keySlot(brokers[0].roomChannel(rooms[1]))
  const from = await cluster.ownerOf(slot)
  const to = (await cluster.nodes()).find((node) => node.master && node.id !== from.id)
  if (to === undefined) throw new Error('no other master')
  since = Date.now()
  await cluster.migrate(slot, to)
  await everyRoomSubscribed(since, `migration of slot ${slot} to ${to.port}`)
  await sentBy(sent + 30)
  loadState.stopped = true
  await load

  const stored = await Promise.all(rooms.map(async (room) => (await stores[0].listByRoom(room, { limit: 1000 })).messages.map((m) => m.message.id as string)))
  t.equal(stored.flat().length, sent, `all ${sent} messages stored once`)
  await waitFor(() => members.every((clients) => clients.every((client, r) => eventIds(client, rooms[r]).length >= stored[r].length)), {
    timeout: 10_000, interval: 20, message: 'every client caught up'
  })
  await delay(100)
  for (const [n, clients] of members.entries()) {
    for (const [r, client] of clients.entries()) t.same(eventIds(client, rooms[r]), stored[r], `node ${n}, ${rooms[r]}: every stored message exactly once, in order`)
  }
  const metrics = await Promise.all(apps.map(async (app) => await scrapeMetrics(app)))
  t.same(metrics.map((scrape) => scrape.value('vix_broker_link_connected', { link: 'redis-cluster' })), [1, 1, 1], 'every node\'s cluster link connected')
  t.ok(metrics.every((scrape) => scrape.value('vix_broker_link_resubscriptions_total', { link: 'redis-cluster' }) >= 2), 'every node counted its resubscriptions, one at least for each move')
  t.same(metrics.map((scrape) => [scrape.value('vix_broker_link_errors_total', { link: 'redis-cluster' }), scrape.value('vix_dependency_errors_total', { dependency: 'redis-cluster' })]), [[0, 0], [0, 0], [0, 0]],
    'a failover and a slot move are not outages: no error, no VIX_ERR_DEPENDENCY_UNAVAILABLE, readiness stays up')
})

t.test('a master stalled during a join: the join does not hang, the room is subscribed once the master answers, readiness comes back', async (t) => {
  const cluster = privateCluster(t)
  if (cluster === undefined) return
  const prefix = uniquePrefix()
  const publisher = await startBroker(t, cluster, prefix)
  const member = new RedisClusterBroker({ cluster: cluster.seeds, sharded: true, prefix, connectTimeout: 300, topologyInterval: 200 })
  const delivered: string[] = []
  const app = await build(t, { docs: false, broker: member })
  // Node B's deliveries: the hub's own, through a member of each room.
  const [first, second] = Array.from({ length: 1000 }, (_, i) => `room-${i}`).filter((room, _, rooms) => partitionOf(room, 64) === partitionOf(rooms[0], 64))
  const clients = [await connect(app), await connect(app)]
  t.teardown(() => { for (const client of clients) client.close() })
  await clients[0].join(first)
  const master = await cluster.ownerOf(keySlot(member.roomChannel(first)))
  await cluster.pause(master, 1200)
  const joining = Date.now()
  await clients[1].join(second)
  const took = Date.now() - joining
  t.ok(took < 1200, `${second} joined in ${took} ms while ${master.port} stalled for 1200 ms (its SSUBSCRIBE timed out after connectTimeout)`)
  await waitFor(async () => {
    await publisher.broker.publish({ node: 'a', room: second, message: { kind: 'event', type: 'chat', id: `probe-${delivered.length}`, room: second, ts: '2026-01-01T00:00:00.000Z', payload: {} } })
    delivered.push('probe')
    return clients[1].frames.some((f) => typeof f === 'object' && f.kind === 'event' && f.room === second)
  }, { timeout: 6000, interval: 100, message: `${second} never crossed to node B` })
  t.pass(`${second} crosses once its master answers again`)
  const metrics = await scrapeMetrics(app)
  t.ok(metrics.value('vix_broker_link_errors_total', { link: 'redis-cluster' }) >= 1, 'the timed-out subscribe is counted')
  t.ok(metrics.value('vix_dependency_errors_total', { dependency: 'redis-cluster' }) <= 1, 'the retries while it stalls are one outage at most')
  await waitFor(() => hubOf(app.realtime).health.readiness().dependencies['redis-cluster'] === 'up', { timeout: 3000, message: 'readiness back up' })
  t.pass('readiness is up again')
})

// Last: it kills a master for good.
t.test('a master crashes mid-stream: its replica takes over, the outage is reported, the room subscribed again on the new master, every message once in order; control messages cross too', async (t) => {
  const cluster = privateCluster(t)
  if (cluster === undefined) return
  const prefix = uniquePrefix()
  const store = new MemoryMessageStore()
  const brokers = [0, 1].map(() => new RedisClusterBroker({ cluster: cluster.seeds, sharded: true, prefix, topologyInterval: 200 }))
  const states: string[] = []
  const controls: unknown[] = []
  // Node B's hub events, seen on the way: the outage, the reconnect, the resync.
  const start = brokers[1].start.bind(brokers[1])
  brokers[1].start = async (deliver, events) => {
    await start(deliver, {
      ...events,
      resync () { states.push('resync'); events.resync() },
      connection (up) { states.push(up ? 'up' : 'down'); events.connection(up) },
      control (message) { controls.push(message); events.control?.(message) }
    })
  }
  const [a, b] = await Promise.all(brokers.map(async (broker) => await build(t, { relayTypes: ['chat'], docs: false, broker, store: { store, hold: { checkInterval: 0 } } })))
  await brokers[0].publishControl({ node: 'a', type: 'presence.sync.test' })
  await waitFor(() => controls.some((message) => (message as { type: string }).type === 'presence.sync.test'), { message: 'the control message crossed' })
  t.pass('control messages cross on partition 0')

  const room = 'crash-room'
  const sender = await connect(a)
  const receiver = await connect(b)
  t.teardown(() => { sender.close(); receiver.close() })
  await sender.join(room)
  await receiver.join(room)
  const send = async (id: string): Promise<void> => {
    sender.send({ type: 'chat', id, room, payload: {} })
    await sender.waitFor((f) => f.kind === 'event' && f.id === id)
  }
  for (let i = 0; i < 5; i++) await send(`before-${i}`)
  const crashed = await cluster.ownerOf(keySlot(brokers[1].roomChannel(room)))
  const since = Date.now()
  states.length = 0
  const crash = cluster.crash(crashed)
  // Published while the master is dead: stored, and delivered on node A at once.
  for (let i = 0; i < 5; i++) await send(`during-${i}`)
  const promoted = await crash
  await waitFor(() => brokers[1].placementOf(partitionOf(room, brokers[1].partitions)) === `127.0.0.1:${promoted.port}` && states.includes('up'), {
    timeout: 8000, interval: 20, message: () => `not re-placed on ${promoted.port}: ${states.join(' ')}`
  })
  t.comment(`re-placed ${Date.now() - since} ms after the crash (the failover itself waits out cluster-node-timeout)`)
  const down = states.indexOf('down')
  t.ok(down >= 0, `the lost connection is reported (${states.join(' ')})`)
  t.ok(states.indexOf('up', down) > down && states.indexOf('resync', down) > down, 'then up again, and the hub told to repair from the store')
  for (let i = 0; i < 5; i++) await send(`after-${i}`)
  await receiver.waitFor((f) => f.id === 'after-4', 5000)
  await delay(100)
  const stored = (await store.listByRoom(room, { limit: 100 })).messages.map((m) => m.message.id as string)
  t.equal(stored.length, 15, 'every message stored once')
  t.same(eventIds(receiver, room), stored, 'node B: every message exactly once, in the stored order, across the crash')
})
