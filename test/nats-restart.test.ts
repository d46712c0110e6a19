import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { build } from './helpers/app.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { PrivateNats, uniqueNatsPrefix } from './helpers/nats.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { requireService } from './helpers/services.js'
import { delay, waitFor } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'

const chatIds = (client: TestClient): string[] => client.frames
  .filter((f): f is Record<string, any> => typeof f === 'object' && f.kind === 'event' && f.type === 'chat')
  .map((f) => f.id)

t.test('a private nats-server killed and restarted mid-stream: both nodes reconnect, and every client ends with every message exactly once, in order', async (t) => {
  const postgres = await postgresAvailable()
  if (!requireService(t, 'postgresql', postgres.ok, postgres.reason)) return
  const server = await PrivateNats.start().catch((error: Error) => error)
  if (!requireService(t, 'nats-server', !(server instanceof Error), `cannot start nats-server (${String(server)})`)) return
  const nats = server as PrivateNats
  t.teardown(() => nats.stop())
  t.teardown(() => dropRunSchemas())
  const schema = schemaFor(t.fullname)
  const prefix = uniqueNatsPrefix()
  const stores = [0, 1].map(() => new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 4 }))
  t.teardown(() => Promise.all(stores.map(async (store) => { await store.close() })))
  const apps: FastifyInstance[] = []
  // No periodic store check: only the resync after each broker's reconnect can repair the gap.
  for (const store of stores) apps.push(await build(t, { relayTypes: ['chat'], docs: false, broker: { nats: nats.url, prefix }, store: { store, hold: { checkInterval: 0 } } }))
  const [a, b] = apps
  const join = async (app: FastifyInstance): Promise<TestClient> => {
    const client = await connect(app)
    t.teardown(() => { client.close() })
    await client.join('r')
    return client
  }
  const sender = await join(a)
  const receivers = [await join(b), await join(b)]
  const connected = async (app: FastifyInstance): Promise<number> => (await scrapeMetrics(app)).value('vix_broker_link_connected', { link: 'nats' })

  const ids = Array.from({ length: 30 }, (_, i) => `m${i}`)
  for (const [i, id] of ids.entries()) {
    if (i === 10) {
      await nats.stop()
      await waitFor(async () => await connected(a) + await connected(b) === 0, { timeout: 5000, message: 'both nodes see NATS gone' })
    }
    if (i === 20) await nats.start()
    sender.send({ type: 'chat', id, room: 'r', payload: {} })
    await sender.waitFor((f) => f.kind === 'event' && f.id === id)
  }
  t.same(chatIds(sender), ids, 'node A delivers locally throughout')
  await waitFor(async () => await connected(a) + await connected(b) === 2, { timeout: 10_000, message: 'both nodes reconnected to the restarted server' })
  sender.send({ type: 'chat', id: 'last', room: 'r', payload: {} })
  for (const client of receivers) await client.waitFor((f) => f.id === 'last', 5000)
  await delay(50)
  for (const [i, client] of receivers.entries()) t.same(chatIds(client), [...ids, 'last'], `node B client ${i}: every message exactly once, in order, the gap read from PostgreSQL`)
  const metrics = await scrapeMetrics(b)
  t.ok(metrics.value('vix_broker_link_resubscriptions_total', { link: 'nats' }) >= 1, 'the resubscription after the restart is counted on the link')
  t.ok(metrics.value('vix_broker_link_errors_total', { link: 'nats' }) >= 1, 'and the drop')
  t.ok(metrics.value('vix_broker_gaps_repaired_total') >= 1, 'and the repair')
})
