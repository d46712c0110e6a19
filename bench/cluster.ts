// Fan-out across nodes: one publisher on node 1 sends to a room whose
// subscribers are all on one vix-realtime node, or split over two nodes joined
// by Redis (without and with the PostgreSQL store), by a Redis Cluster
// (sharded pub/sub) or by NATS, or split over two Socket.IO 4 nodes joined by
// @socket.io/redis-adapter (on one Redis, and its sharded adapter on the same
// Redis Cluster). The Redis Cluster is a private one the bench starts (three
// masters on free ports, as the tests' PrivateRedisCluster) and stops; NATS is
// NATS_URL (default nats://127.0.0.1:4222). Reports deliveries/s,
// the latency of deliveries on the other node (cross-node p50/p99; on one node,
// the local latency for reference) and the servers' CPU per delivery
// (process.cpuUsage of every server process; Redis's own CPU is not counted).
// Servers run pinned to core 0 (`taskset`, when there are 2+ cores), this load
// generator on core 1. Rounds interleave the variants; medians are reported.
// Every loop is bounded in count and time; only 127.0.0.1.
// Run: npx tsx bench/cluster.ts [subscribers] [messages] [rounds]
// BENCH_ONLY=vix,vix+redis-cluster (systems, comma-separated) runs some variants only.
// BENCH_PROFILE=<dir> writes each server's V8 CPU profile there (summarize with bench/profile-top.ts).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import WebSocket from 'ws'
import { io as ioClient, type Socket } from 'socket.io-client'
import { PrivateRedisCluster } from '../test/helpers/redis-cluster.js'

const subscribers = Number(process.argv[2] ?? 40)
const messages = Number(process.argv[3] ?? 2000)
const rounds = Number(process.argv[4] ?? 3)
const window = 50
/** Messages of the latency phase, sent one at a time (the next once every subscriber has the last), so latency is not queueing. */
const latencyMessages = 200
const runTimeout = 60_000
const serverFile = fileURLToPath(new URL('./cluster-server.ts', import.meta.url))
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schema = `vix_bench_${process.pid}`

interface Variant { name: string, system: string, nodes: number, socketIo: boolean }
const only = process.env.BENCH_ONLY?.split(',')
const variants: Variant[] = [
  { name: 'vix, 1 node', system: 'vix', nodes: 1, socketIo: false },
  { name: 'vix + Redis, 2 nodes', system: 'vix+redis', nodes: 2, socketIo: false },
  { name: 'vix + Redis + PostgreSQL, 2 nodes', system: 'vix+redis+pg', nodes: 2, socketIo: false },
  { name: 'vix + Redis Cluster (sharded), 2 nodes', system: 'vix+redis-cluster', nodes: 2, socketIo: false },
  { name: 'vix + NATS, 2 nodes', system: 'vix+nats', nodes: 2, socketIo: false },
  { name: 'Socket.IO 4 + redis-adapter, 2 nodes', system: 'socket.io+redis', nodes: 2, socketIo: true },
  { name: 'Socket.IO 4 + sharded redis-adapter (same cluster), 2 nodes', system: 'socket.io+redis-sharded', nodes: 2, socketIo: true }
].filter((variant) => only === undefined || only.includes(variant.system))
const redisCluster = variants.some((variant) => variant.system.includes('redis-cluster') || variant.system.includes('redis-sharded'))
  ? await PrivateRedisCluster.start({ masters: 3 })
  : undefined

let pinned = false
try {
  if (os.cpus().length >= 2) {
    execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' })
    pinned = true
  }
} catch {}

interface Server { port: number, child: ChildProcess, cpu: () => Promise<number> }

let profiles = 0
async function startServer (system: string, prefix: string): Promise<Server> {
  const profile = process.env.BENCH_PROFILE === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}/${system}-${++profiles}`]
  const args = [...profile, '--import', 'tsx', serverFile, system]
  const env = { ...process.env, BENCH_PREFIX: prefix, DATABASE_URL: databaseUrl, BENCH_SCHEMA: schema, REDIS_CLUSTER: redisCluster?.seeds.join(',') ?? '' }
  const child = pinned
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(process.execPath, args, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: any) => { resolve(m.port) })
    child.once('exit', (code) => { reject(new Error(`${system} exited ${code}`)) })
  })
  const cpu = async (): Promise<number> => await new Promise((resolve) => {
    child.once('message', (m: any) => { resolve(m.cpu.user + m.cpu.system) })
    child.send({ cmd: 'cpu' })
  })
  return { port, child, cpu }
}

interface Client { publish: (i: number) => void, received: number, latencies: number[], close: () => void }

/** Send times by message index, in this process's clock: every client lives here. */
let sentAt: Float64Array = new Float64Array(0)

async function vixClient (port: number, onEvent: (client: Client, i: number) => void): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const client: Client = {
    publish: (i) => { ws.send(JSON.stringify({ room: 'bench', type: 'chat.message', payload: { text: 'hello, room', i } })) },
    received: 0,
    latencies: [],
    close: () => { ws.close() }
  }
  ws.send(JSON.stringify({ type: 'room.join', payload: { room: 'bench' } }))
  await new Promise<void>((resolve) => ws.once('message', () => { resolve() }))
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString())
    if (frame.kind === 'event') onEvent(client, frame.payload.i)
  })
  return client
}

async function socketIoClient (port: number, onEvent: (client: Client, i: number) => void): Promise<Client> {
  const socket: Socket = ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'] })
  await new Promise((resolve) => socket.once('connect', () => { resolve(null) }))
  await new Promise<void>((resolve) => socket.emit('room.join', 'bench', () => { resolve() }))
  const client: Client = {
    publish: (i) => { socket.emit('chat.message', { room: 'bench', type: 'chat.message', payload: { text: 'hello, room', i } }) },
    received: 0,
    latencies: [],
    close: () => { socket.close() }
  }
  socket.on('chat.message', (msg: { payload: { i: number } }) => { onEvent(client, msg.payload.i) })
  return client
}

const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

interface Result { deliveriesPerSec: number, p50: number, p99: number, cpuPerDelivery: number }

async function run (variant: Variant, round: number): Promise<Result> {
  const prefix = `vixbench:${process.pid}:${round}:`
  const servers: Server[] = []
  for (let n = 0; n < variant.nodes; n++) servers.push(await startServer(variant.system, prefix))
  const warmup = 100
  const total = warmup + messages
  sentAt = new Float64Array(total + latencyMessages)
  const onEvent = (client: Client, i: number): void => {
    client.received++
    if (i >= total) client.latencies.push(performance.now() - sentAt[i])
  }
  let measuring = false
  const make = variant.socketIo ? socketIoClient : vixClient
  const publisher = await make(servers[0].port, () => {})
  const subs: Array<{ client: Client, node: number }> = []
  for (let s = 0; s < subscribers; s++) {
    const node = s % variant.nodes
    subs.push({ client: await make(servers[node].port, onEvent), node })
  }
  const slowest = (): number => Math.min(...subs.map((s) => s.client.received))
  const deadline = Date.now() + runTimeout
  let startedAt = 0
  let cpuStart: number[] = []
  for (let sent = 0; sent < warmup + messages;) {
    if (Date.now() > deadline) throw new Error(`${variant.name}: timed out`)
    if (sent === warmup && !measuring) {
      while (slowest() < warmup && Date.now() < deadline) await tick()
      cpuStart = await Promise.all(servers.map(async (s) => await s.cpu()))
      startedAt = performance.now()
      measuring = true
    }
    if (sent - slowest() < window) {
      sentAt[sent] = performance.now()
      publisher.publish(sent++)
    } else await tick()
  }
  while (slowest() < warmup + messages) {
    if (Date.now() > deadline) throw new Error(`${variant.name}: timed out waiting for deliveries (${slowest()}/${warmup + messages})`)
    await tick()
  }
  const seconds = (performance.now() - startedAt) / 1000
  const cpuEnd = await Promise.all(servers.map(async (s) => await s.cpu()))
  const cpuMicros = cpuEnd.reduce((sum, end, i) => sum + end - cpuStart[i], 0)
  for (let i = total; i < total + latencyMessages; i++) {
    sentAt[i] = performance.now()
    publisher.publish(i)
    while (slowest() <= i) {
      if (Date.now() > deadline) throw new Error(`${variant.name}: timed out in the latency phase`)
      await tick()
    }
  }
  const deliveries = messages * subscribers
  // Cross-node: subscribers on the node the publisher is not on (on one node, all of them).
  const remote = subs.filter((s) => variant.nodes === 1 || s.node !== 0).flatMap((s) => s.client.latencies).sort((a, b) => a - b)
  for (const c of [publisher, ...subs.map((s) => s.client)]) c.close()
  for (const s of servers) s.child.kill()
  await new Promise((resolve) => setTimeout(resolve, 200))
  return { deliveriesPerSec: deliveries / seconds, p50: percentile(remote, 0.5), p99: percentile(remote, 0.99), cpuPerDelivery: cpuMicros / deliveries }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

const all = new Map<string, Result[]>(variants.map((v) => [v.name, []]))
for (let round = 0; round < rounds; round++) {
  // Interleaved: each round runs every variant, in a rotated order.
  const order = variants.map((_, i) => variants[(i + round) % variants.length])
  for (const variant of order) all.get(variant.name)?.push(await run(variant, round))
}
await redisCluster?.stop()
const client = new pg.Client({ connectionString: databaseUrl })
await client.connect()
await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
await client.end()

const rows = variants.map((v) => {
  const results = all.get(v.name) as Result[]
  return {
    variant: v.name,
    deliveriesPerSec: median(results.map((r) => r.deliveriesPerSec)),
    p50: median(results.map((r) => r.p50)),
    p99: median(results.map((r) => r.p99)),
    cpuPerDelivery: median(results.map((r) => r.cpuPerDelivery)),
    runs: results
  }
})
const base = rows[0]
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()}`
console.log(`\nCross-node fan-out (Redis Cluster: a private one of 3 masters; Redis's and NATS's own CPU not counted): 1 publisher (node 1), ${subscribers} subscribers in one room (split evenly over the nodes); throughput and CPU over ${messages} messages with ${window} in flight, latency over ${latencyMessages} more sent one at a time; median of ${rounds} interleaved rounds`)
console.log(`Machine: ${machine}; ${pinned ? 'servers pinned to core 0, load generator to core 1 (both nodes share core 0)' : 'not pinned'}\n`)
console.log('| variant | deliveries/s | vs 1 node | cross-node p50 ms | cross-node p99 ms | server CPU µs/delivery |')
console.log('|---|---:|---:|---:|---:|---:|')
for (const r of rows) {
  const ratio = r.deliveriesPerSec / base.deliveriesPerSec
  const note = r !== base && Math.abs(ratio - 1) <= 0.1 ? ' (noise)' : ''
  console.log(`| ${r.variant} | ${Math.round(r.deliveriesPerSec)} | ${ratio.toFixed(2)}x${note} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuPerDelivery.toFixed(2)} |`)
}
console.log(`\n(1 node: the latency columns are local delivery, for reference. A ratio within ±10% of 1 is noise. Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.)`)
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
const file = new URL(`./results/cluster-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url)
writeFileSync(file, JSON.stringify({ subscribers, messages, rounds, window, machine, pinned, rows }, null, 2))
console.log(`\nwritten: ${fileURLToPath(file)}`)
process.exit(0)
