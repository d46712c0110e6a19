// Publishing inside the application's transaction (issue 25), over Redis and
// PostgreSQL with two nodes: node A (this process) commits, node B (a child
// process, `store.listen`) delivers to one WebSocket client joined to 4 rooms.
// 1. Commit-to-delivery on the other node: `transaction(publishIn)` at a
//    steady rate (default 1000 tx/s, one message each, 4 rooms) for a few
//    seconds; latency = the client receiving it on node B minus COMMIT
//    returning on node A (one clock: both ends live in this process).
// 2. Throughput: the same number of messages, as fast as a bounded window
//    allows, by plain `publish()` (group commit, Redis) and by one transaction
//    per message (`transaction` + `publishIn`, NOTIFY); rate = messages
//    delivered on node B per second.
// Every loop is bounded in count and time; only 127.0.0.1. A schema of its own, dropped at the end.
// Run: npx tsx bench/transactional.ts [seconds] [rate] [messages]
// BENCH_POOL=<n>: connections of node A's pool, the application's own (default 32; more than
// the rooms only queue on their counter rows: docs/benchmarks.md).
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import WebSocket from 'ws'
import vixRealtime from '../plugins/index.js'

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const redis = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const ROOMS = ['t0', 't1', 't2', 't3']
const runTimeout = 120_000

async function node (schema: string, prefix: string, listen: boolean, pool?: pg.Pool): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(vixRealtime, {
    docs: false,
    metrics: false,
    longPolling: false,
    broker: { redis, prefix },
    store: { postgres: pool ?? databaseUrl, schema, listen }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

// ---- node B: a child process -----------------------------------------------

if (process.argv[2] === 'server') {
  const app = await node(process.env.BENCH_SCHEMA as string, process.env.BENCH_PREFIX as string, true)
  process.send?.({ port: (app.server.address() as { port: number }).port })
  process.on('disconnect', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
} else {
  await main()
}

function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

interface Receiver { received: number, onEvent: (id: string) => void, close: () => void }

async function receiver (port: number, onEvent: (id: string) => void): Promise<Receiver> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const r: Receiver = { received: 0, onEvent, close: () => { ws.close() } }
  let joined = 0
  const allJoined = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.kind === 'ack' && frame.type === 'room.join' && ++joined === ROOMS.length) resolve()
      if (frame.kind === 'event') { r.received++; r.onEvent(frame.id) }
    })
  })
  for (const room of ROOMS) ws.send(JSON.stringify({ type: 'room.join', payload: { room } }))
  await allJoined
  return r
}

async function until (check: () => boolean, deadline: number, what: string): Promise<void> {
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

async function main (): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10)
  const rate = Number(process.argv[3] ?? 1000)
  const messages = Number(process.argv[4] ?? 5000)
  const schema = `vix_bench_tx_${process.pid}`
  const prefix = `vixbench:tx:${process.pid}:`
  const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.BENCH_POOL ?? 32) })
  const a = await node(schema, prefix, false, pool)
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'server'], {
    env: { ...process.env, BENCH_SCHEMA: schema, BENCH_PREFIX: prefix },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: any) => { resolve(m.port) })
      child.once('exit', (code) => { reject(new Error(`node B exited ${code}`)) })
    })
    const committedAt = new Map<string, number>()
    const receivedAt = new Map<string, number>()
    const b = await receiver(port, (id) => { receivedAt.set(id, performance.now()) })
    const deadline = Date.now() + runTimeout
    const commit = async (id: string, room: string): Promise<void> => {
      await a.realtime.transaction(async (client: pg.PoolClient) => { await a.realtime.publishIn(client, { room, id, type: 'bench', payload: { text: 'hello, room' } }) })
      committedAt.set(id, performance.now())
    }

    // 1. Commit-to-delivery at a steady rate.
    const total = Math.round(seconds * rate)
    let started = 0
    let inFlight = 0
    let behind = 0
    const begin = performance.now()
    while (started < total) {
      if (Date.now() > deadline) throw new Error('timed out pacing transactions')
      const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * rate))
      for (; started < due; started++) {
        if (inFlight >= 256) { behind++; continue }
        inFlight++
        commit(`l${started}`, ROOMS[started % 4]).finally(() => { inFlight-- }).catch((error: unknown) => { console.error(error); process.exitCode = 1 })
      }
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    const sent = total - behind
    await until(() => b.received >= sent && committedAt.size >= sent, deadline, `delivery of ${sent} transactional messages (${b.received} so far)`)
    const latencies = [...committedAt].map(([id, at]) => Math.max(0, (receivedAt.get(id) as number) - at)).sort((x, y) => x - y)
    const achieved = sent / ((performance.now() - begin) / 1000)

    // 2. Throughput: plain publish() against one transaction per message.
    const throughput = async (name: string, send: (i: number) => Promise<unknown>): Promise<number> => {
      const from = b.received
      const t0 = performance.now()
      let next = 0
      const lane = async (): Promise<void> => { while (next < messages) await send(next++) }
      await Promise.all(Array.from({ length: 64 }, lane))
      await until(() => b.received - from >= messages, deadline, `${name}: delivery`)
      return messages / ((performance.now() - t0) / 1000)
    }
    const plain = await throughput('publish()', async (i) => await a.realtime.publish({ room: ROOMS[i % 4], id: `p${i}`, type: 'bench', payload: { text: 'hello, room' } }))
    const transactional = await throughput('transaction', async (i) => { await commit(`x${i}`, ROOMS[i % 4]) })
    b.close()

    console.log(`transactional publish, 2 nodes over Redis + PostgreSQL, 4 rooms (${seconds} s at ${rate} tx/s, ${messages} messages for throughput)`)
    console.log(`  commit-to-delivery on the other node (NOTIFY): p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms, max ${latencies[latencies.length - 1].toFixed(2)} ms over ${latencies.length} tx; achieved ${achieved.toFixed(0)} tx/s${behind > 0 ? `, ${behind} not started (over 256 in flight)` : ''}`)
    console.log(`  throughput, delivered on the other node: publish() ${plain.toFixed(0)} msg/s, transaction+publishIn ${transactional.toFixed(0)} msg/s (${(transactional / plain).toFixed(2)}x)`)
    console.log(JSON.stringify({ bench: 'transactional', seconds, rate, achieved: Math.round(achieved), p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), publishPerSec: Math.round(plain), transactionPerSec: Math.round(transactional) }))
  } finally {
    child.disconnect?.()
    await a.close()
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await client.end()
    await pool.end()
  }
}
