import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, type Teardown } from './helpers/app.js'
import { bundleForChild } from './helpers/child.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { redisAvailable, redisUrl, uniquePrefix } from './helpers/redis.js'
import { requireService } from './helpers/services.js'
import { TcpProxy } from './helpers/tcp-proxy.js'
import { delay } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'

const pgUp = await postgresAvailable()
const redisUp = await redisAvailable()
const ROOMS = ['r0', 'r1', 'r2', 'r3']

const eventIds = (client: TestClient, room: string): string[] => client.frames.filter((f: any) => f.kind === 'event' && f.room === room).map((f: any) => f.id)

async function historyIds (node: FastifyInstance, room: string): Promise<string[]> {
  const page = (await node.inject({ url: `/ws/history?room=${room}&limit=500` })).json() as { messages: Array<{ id: string }> }
  return page.messages.map((m) => m.id)
}

async function member (t: Teardown, node: FastifyInstance, room: string): Promise<TestClient> {
  const client = await connect(node)
  t.teardown(() => { client.close() })
  await client.join(room)
  return client
}

const random = (n: number): number => Math.floor(Math.random() * n)

t.test('three nodes over Redis and PostgreSQL, 64 concurrent app transactions (a third rolled back) and plain publishes into 4 rooms: every committed message reaches every member once in offset order, no rolled-back one anywhere, history identical', async (t) => {
  if (!requireService(t, 'postgresql', pgUp.ok, pgUp.reason) || !requireService(t, 'redis', redisUp.ok, redisUp.reason)) return
  t.teardown(() => dropRunSchemas())
  const schema = schemaFor(t.fullname)
  const prefix = uniquePrefix()
  // No periodic check: every transactional message must arrive through its notification.
  const options = { docs: false, broker: { redis: redisUrl, prefix }, store: { postgres: postgresUrl, schema, listen: true, hold: { checkInterval: 0 } } } as const
  const first = await build(t, options)
  const nodes = [first, ...await Promise.all([build(t, options), build(t, options)])]
  const members = await Promise.all(nodes.flatMap((node) => ROOMS.map(async (room) => ({ room, client: await member(t, node, room) }))))
  await first.realtime.transaction(async (client) => { await client.query(`CREATE TABLE "${schema}".ledger (id TEXT PRIMARY KEY)`) })

  const committed = new Set<string>()
  const rolledBack = new Set<string>()
  const transactions = Array.from({ length: 64 }, async (_, i) => {
    const node = nodes[i % 3]
    const rollback = i % 3 === 0
    // Rooms in name order within a transaction: two transactions never wait on each other's rooms in a circle.
    const rooms = [...new Set([ROOMS[random(4)], ROOMS[random(4)]])].sort()
    const ids: string[] = []
    try {
      await node.realtime.transaction(async (client) => {
        for (const room of rooms) {
          for (let k = 0; k <= random(2); k++) {
            const id = `t${i}-${room}-${k}`
            ids.push(id)
            await client.query(`INSERT INTO "${schema}".ledger VALUES ($1)`, [id])
            await delay(random(20))
            await node.realtime.publishIn(client, { room, id, type: 'order', payload: { i } })
          }
        }
        await delay(random(30))
        if (rollback) throw new Error('rolled back on purpose')
      })
      for (const id of ids) committed.add(id)
    } catch (error) {
      if ((error as Error).message !== 'rolled back on purpose') throw error
      for (const id of ids) rolledBack.add(id)
    }
  })
  const plain = Array.from({ length: 16 }, async (_, i) => {
    await delay(random(40))
    const id = `p${i}`
    await nodes[random(3)].realtime.publish({ room: ROOMS[i % 4], id, type: 'chat', payload: {} })
    committed.add(id)
  })
  await Promise.all([...transactions, ...plain])
  t.ok(rolledBack.size > 0 && committed.size > 16, `${committed.size} committed, ${rolledBack.size} rolled back`)

  for (const room of ROOMS) {
    const histories = await Promise.all(nodes.map(async (node) => await historyIds(node, room)))
    t.same(histories[1], histories[0], `${room}: history identical on node 2`)
    t.same(histories[2], histories[0], `${room}: history identical on node 3`)
    t.same([...histories[0]].sort(), [...committed].filter((id) => id.includes(`-${room}-`) || (id.startsWith('p') && ROOMS[Number(id.slice(1)) % 4] === room)).sort(), `${room}: exactly the committed messages are stored`)
    t.notOk(histories[0].some((id) => rolledBack.has(id)), `${room}: no rolled-back message in history`)
    for (const { client } of members.filter((m) => m.room === room)) {
      await client.waitForCount((f) => f.kind === 'event' && f.room === room, histories[0].length, 15_000)
    }
  }
  await delay(300)
  for (const { room, client } of members) {
    t.same(eventIds(client, room), await historyIds(first, room), `${room}: a member received every committed message once, in offset order`)
  }
})

t.test('the committing process is SIGKILLed right after COMMIT returns: the message still reaches the members on the other nodes', async (t) => {
  if (!requireService(t, 'postgresql', pgUp.ok, pgUp.reason)) return
  t.teardown(() => dropRunSchemas())
  const schema = schemaFor(t.fullname)
  const options = { docs: false, store: { postgres: postgresUrl, schema, listen: true, hold: { checkInterval: 0 } } } as const
  const nodes = [await build(t, options), await build(t, options)]
  const members = await Promise.all(nodes.map(async (node) => await member(t, node, 'orders')))
  const script = await bundleForChild(fileURLToPath(new URL('./fixtures/commit-then-die.ts', import.meta.url)), t.testdir())
  let output = ''
  const child = spawn(process.execPath, [script, postgresUrl, schema, 'orders', 'order-1'], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => { resolve(signal) }))
  t.equal(signal, 'SIGKILL', `the committing process died by SIGKILL ${output}`)
  for (const client of members) {
    const event = await client.waitFor((f) => f.kind === 'event' && f.id === 'order-1', 10_000)
    t.match(event, { room: 'orders', type: 'order.placed', payload: { id: 'order-1' }, pos: /.+/ })
  }
  await delay(200)
  for (const client of members) t.same(eventIds(client, 'orders'), ['order-1'], 'once')
})

t.test('a node whose LISTEN connection is cut for 5 s catches up by position when it returns, nothing lost or doubled', async (t) => {
  if (!requireService(t, 'postgresql', pgUp.ok, pgUp.reason)) return
  t.teardown(() => dropRunSchemas())
  const schema = schemaFor(t.fullname)
  const proxy = await TcpProxy.start(Number(new URL(postgresUrl).port || 5432))
  t.teardown(() => proxy.close())
  const through = new URL(postgresUrl)
  through.host = `127.0.0.1:${proxy.port}`
  const writer = await build(t, { docs: false, store: { postgres: postgresUrl, schema, hold: { checkInterval: 0 } } })
  const reader = await build(t, { docs: false, metrics: {}, store: { postgres: postgresUrl, schema, listen: through.toString(), hold: { checkInterval: 0 } } })
  const client = await member(t, reader, 'r')
  const commit = async (id: string): Promise<void> => {
    await writer.realtime.transaction(async (tx) => { await writer.realtime.publishIn(tx, { room: 'r', id, type: 'chat', payload: {} }) })
  }
  await commit('before')
  await client.waitFor((f) => f.kind === 'event' && f.id === 'before', 5000)

  proxy.cut()
  for (let i = 0; i < 5; i++) await commit(`during-${i}`)
  await delay(5000)
  t.same(eventIds(client, 'r'), ['before'], 'while the LISTEN connection is cut nothing arrives (no other path delivers it)')
  proxy.restore()
  await client.waitForCount((f) => f.kind === 'event', 6, 10_000)
  await commit('after')
  await client.waitFor((f) => f.kind === 'event' && f.id === 'after', 5000)
  await delay(200)
  t.same(eventIds(client, 'r'), ['before', 'during-0', 'during-1', 'during-2', 'during-3', 'during-4', 'after'], 'caught up by position: nothing lost or doubled, in order')
  t.equal((await scrapeMetrics(reader)).value('vix_transaction_repairs_total'), 1, 'one catch-up counted')
})
