import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { build } from './helpers/app.js'
import { membersOn, startExampleCluster, storedOrder } from './helpers/cluster.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { natsAvailable, natsPort, natsUrl, uniqueNatsPrefix } from './helpers/nats.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { requireService } from './helpers/services.js'
import { TcpProxy } from './helpers/tcp-proxy.js'
import { delay, waitFor } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'

const [nats, postgres] = await Promise.all([natsAvailable(), postgresAvailable()])

const eventIds = (client: TestClient, type = 'chat.message'): string[] => client.frames
  .filter((f): f is Record<string, any> => typeof f === 'object' && f.kind === 'event' && f.type === type)
  .map((f) => f.id)

t.test('three nodes in separate processes over NATS and PostgreSQL: every message exactly once, in the one stored order', async (t) => {
  if (!requireService(t, 'nats', nats.ok, nats.reason)) return
  if (!requireService(t, 'postgresql', postgres.ok, postgres.reason)) return
  t.teardown(() => dropRunSchemas())
  const env = { NATS_URL: natsUrl, VIX_NATS_PREFIX: uniqueNatsPrefix(), DATABASE_URL: postgresUrl, VIX_PG_SCHEMA: schemaFor(t.fullname) }
  const nodes = await startExampleCluster(t, env, ['a', 'b', 'c'])
  const clients = await membersOn(t, nodes, 'general', 2)
  // One publisher per node, interleaved.
  const perPublisher = 20
  const publishers = [clients[0], clients[2], clients[4]]
  const names = ['a', 'b', 'c']
  for (let i = 0; i < perPublisher; i++) {
    for (const [p, publisher] of publishers.entries()) publisher.send({ type: 'chat.message', id: `${names[p]}-${i}`, room: 'general', payload: { text: `${i}` } })
  }
  const total = perPublisher * publishers.length
  for (const client of clients) await client.waitForCount((f) => f.kind === 'event' && f.type === 'chat.message', total, 15_000)
  await delay(200)

  const order = await storedOrder(nodes[0], 'general')
  t.equal(order.length, total, 'every message stored once')
  for (const [i, client] of clients.entries()) {
    t.same(eventIds(client), order, `client ${i} (node ${nodes[Math.floor(i / 2)].name}): every message exactly once, in the one stored order`)
  }
  for (const name of names) {
    t.same(order.filter((id) => id.startsWith(`${name}-`)), Array.from({ length: perPublisher }, (_, i) => `${name}-${i}`), `node ${name}'s publisher: in its order`)
  }

  // Shutdown drains the NATS connection and closes the pool: the process exits by itself.
  const exited = new Promise<number | null>((resolve) => { nodes[2].process.once('exit', resolve) })
  nodes[2].process.kill('SIGTERM')
  t.equal(await exited, 0, 'a node with NATS and PostgreSQL exits 0 on SIGTERM, by itself')
})

async function node (t: Test, url: string, prefix: string, store: PostgresMessageStore): Promise<FastifyInstance> {
  // No periodic store check: what repairs the gap is the broker's resync after its reconnect.
  return await build(t, { relayTypes: ['chat'], docs: false, broker: { nats: url, prefix }, store: { store, hold: { checkInterval: 0 } } })
}

t.test('one node cut from NATS twice while another publishes into a stored room: every client ends with every message exactly once, in order', async (t) => {
  if (!requireService(t, 'nats', nats.ok, nats.reason)) return
  if (!requireService(t, 'postgresql', postgres.ok, postgres.reason)) return
  t.teardown(() => dropRunSchemas())
  // The shared NATS is never stopped: node B reaches it through a proxy of the test's own.
  const proxy = await TcpProxy.start(natsPort)
  t.teardown(() => proxy.close())
  const prefix = uniqueNatsPrefix()
  const schema = schemaFor(t.fullname)
  const stores = [0, 1].map(() => new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 4 }))
  t.teardown(() => Promise.all(stores.map((store) => store.close())))
  const a = await node(t, natsUrl, prefix, stores[0])
  const b = await node(t, `nats://127.0.0.1:${proxy.port}`, prefix, stores[1])
  const members = async (app: FastifyInstance, count: number): Promise<TestClient[]> => await Promise.all(Array.from({ length: count }, async () => {
    const client = await connect(app)
    t.teardown(() => { client.close() })
    await client.join('r')
    return client
  }))
  const [onA] = await members(a, 1)
  const onB = await members(b, 2)
  const bConnected = async (): Promise<number> => (await scrapeMetrics(b)).value('vix_broker_connected')

  const ids = Array.from({ length: 41 }, (_, i) => `m${i}`)
  for (const [i, id] of ids.entries()) {
    // Faults overlap the stream: a cut, a restore with publishing going on during the reconnect and its repair
    // (a later envelope's offset jump shows that gap too), a second cut soon after, and a last cut over the end of the stream.
    if (i === 10 || i === 24 || i === 35) {
      proxy.cut()
      await waitFor(async () => await bConnected() === 0, { timeout: 5000, message: `node B sees the cut before ${id}` })
    }
    if (i === 20 || i === 30) proxy.restore()
    onA.send({ type: 'chat', id, room: 'r', payload: {} })
    // Paced by node A's own delivery, so the faults land mid-stream.
    await onA.waitFor((f) => f.id === id)
  }
  t.same(eventIds(onA, 'chat'), ids, 'node A delivers on throughout')
  t.notOk(eventIds(onB[0], 'chat').includes('m40'), 'node B missed the end of the stream')
  // Nothing is published after this restore: only the resync after the reconnect can bring m35..m40.
  proxy.restore()
  for (const client of onB) await client.waitForCount((f) => f.kind === 'event', ids.length, 8000)
  await waitFor(async () => await bConnected() === 1, { timeout: 10_000, message: 'node B reconnected' })
  onA.send({ type: 'chat', id: 'last', room: 'r', payload: {} })
  for (const client of onB) await client.waitFor((f) => f.id === 'last', 5000)
  await delay(50)
  for (const [i, client] of onB.entries()) t.same(eventIds(client, 'chat'), [...ids, 'last'], `node B client ${i}: every message exactly once, in order, the gaps read from PostgreSQL`)
  const metrics = await scrapeMetrics(b)
  t.ok(metrics.value('vix_broker_gaps_repaired_total') >= 1, 'the repair is counted')
  // The second cut may land while node B is still reconnecting from the first: then it is one outage.
  t.ok(metrics.value('vix_broker_errors_total') >= 1, 'the drops are counted')
})
