/**
 * Throughput with the metrics part on vs off, in the same run.
 *
 *   npx tsx bench/metrics.ts
 *
 * Three workloads, each run in alternating rounds (off, on, on, off, ...) so
 * drift of the machine hits both sides alike. Reported: the median wall-time
 * throughput of each side, and the median of the per-round on/off ratios
 * (two runs made back to back) by wall time and by this process's CPU time;
 * the CPU-time ratio is the one least moved by other load on the machine.
 * Sockets go to 127.0.0.1 only; clients run in this process, which dilutes the
 * server-side cost, so the hub-only row measures the hot path alone.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import vixRealtime from '../plugins/index.js'
import { Hub } from '../lib/hub/hub.js'
import { RealtimeMetrics } from '../lib/metrics.js'
import type { Transport } from '../lib/session.js'

const ROUNDS = 7
const FANOUT_CLIENTS = 50
const FANOUT_MESSAGES = 500
const ECHO_CLIENTS = 20
const ECHO_PER_CLIENT = 500
const ECHO_WINDOW = 32
const HUB_SESSIONS = 1000
const HUB_MESSAGES = 5000

type Side = 'off' | 'on'

/** Work per second of wall time, and per second of this process's CPU time (less moved by other load on the machine). */
interface Rate { wall: number, cpu: number }

function measure (): (work: number) => Rate {
  const wallStart = process.hrtime.bigint()
  const cpuStart = process.cpuUsage()
  return (work) => {
    const wall = Number(process.hrtime.bigint() - wallStart) / 1e9
    const cpu = process.cpuUsage(cpuStart)
    return { wall: work / wall, cpu: work / ((cpu.user + cpu.system) / 1e6) }
  }
}

async function startApp (metrics: boolean): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(vixRealtime, { metrics: metrics ? {} : false, websocket: { maxMessageSize: 1 << 20 } })
  app.realtime.on('echo', () => {})
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

function urlOf (app: FastifyInstance): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening')
  return `ws://127.0.0.1:${address.port}/ws`
}

async function open (url: string): Promise<WebSocket> {
  const ws = new WebSocket(url)
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
  return ws
}

/** Wait for `count` frames on `ws` (counted, not parsed: the client's cost stays small). */
function frames (ws: WebSocket, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const onMessage = (): void => {
      if (++seen === count) { ws.off('message', onMessage); resolve() }
    }
    ws.on('message', onMessage)
  })
}

/** Deliveries per second: one server publish loop to FANOUT_CLIENTS room members. */
async function fanout (app: FastifyInstance): Promise<Rate> {
  const clients = await Promise.all(Array.from({ length: FANOUT_CLIENTS }, async () => await open(urlOf(app))))
  await Promise.all(clients.map(async (ws) => {
    const acked = frames(ws, 1)
    ws.send(JSON.stringify({ type: 'room.join', payload: { room: 'bench' } }))
    await acked
  }))
  const received = Promise.all(clients.map(async (ws) => await frames(ws, FANOUT_MESSAGES)))
  const done = measure()
  for (let i = 0; i < FANOUT_MESSAGES; i++) {
    await app.realtime.publish({ room: 'bench', type: 'tick', payload: { i, text: 'the quick brown fox jumps over the lazy dog' } })
    // Let the sockets drain now and then, as a real producer would.
    if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve))
  }
  await received
  const rate = done(FANOUT_CLIENTS * FANOUT_MESSAGES)
  for (const ws of clients) ws.terminate()
  return rate
}

/** Round trips per second: ECHO_CLIENTS clients each send ECHO_PER_CLIENT acked frames, ECHO_WINDOW in flight. */
async function echo (app: FastifyInstance): Promise<Rate> {
  const clients = await Promise.all(Array.from({ length: ECHO_CLIENTS }, async () => await open(urlOf(app))))
  const finished = measure()
  await Promise.all(clients.map(async (ws, c) => {
    let sent = 0
    const send = (): void => { ws.send(JSON.stringify({ id: `${c}-${sent++}`, type: 'echo', payload: { text: 'ping' } })) }
    const done = frames(ws, ECHO_PER_CLIENT)
    ws.on('message', () => { if (sent < ECHO_PER_CLIENT) send() })
    for (let i = 0; i < ECHO_WINDOW; i++) send()
    await done
  }))
  const rate = finished(ECHO_CLIENTS * ECHO_PER_CLIENT)
  for (const ws of clients) ws.terminate()
  return rate
}

/** Deliveries per second of the hub alone, to in-memory transports: the hot path without sockets. */
async function hubOnly (metrics: boolean): Promise<Rate> {
  const hub = new Hub()
  const observer = metrics ? new RealtimeMetrics(hub.metricsParts()) : undefined
  let sink = 0
  const transport: Transport = { name: 'websocket', send (data) { sink += data.length }, bufferedAmount: () => 0, close () {}, terminate () {} }
  for (let i = 0; i < HUB_SESSIONS; i++) hub.join(hub.openSession(transport), 'bench')
  const done = measure()
  for (let i = 0; i < HUB_MESSAGES; i++) await hub.publish({ room: 'bench', type: 'tick', payload: { i } })
  const rate = done(HUB_SESSIONS * HUB_MESSAGES)
  observer?.close()
  if (sink === 0) throw new Error('nothing delivered')
  return rate
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

interface Workload { name: string, run: (side: Side) => Promise<Rate> }

async function main (): Promise<void> {
  const apps: Record<Side, FastifyInstance> = { off: await startApp(false), on: await startApp(true) }
  const workloads: Workload[] = [
    { name: 'WebSocket fan-out (deliveries/s)', run: async (side) => await fanout(apps[side]) },
    { name: 'WebSocket echo (round trips/s)', run: async (side) => await echo(apps[side]) },
    { name: 'Hub fan-out, no sockets (deliveries/s)', run: async (side) => await hubOnly(side === 'on') }
  ]
  const rows: string[] = []
  for (const workload of workloads) {
    // Warm-up, not recorded: JIT and socket buffers.
    await workload.run('off')
    await workload.run('on')
    const sides: Record<Side, Rate[]> = { off: [], on: [] }
    for (let round = 0; round < ROUNDS; round++) {
      const order: Side[] = round % 2 === 0 ? ['off', 'on'] : ['on', 'off']
      for (const side of order) sides[side].push(await workload.run(side))
    }
    const format = (value: number): string => Math.round(value).toLocaleString('en-US')
    const ratio = (key: keyof Rate): string => median(sides.on.map((on, round) => on[key] / sides.off[round][key])).toFixed(3) + 'x'
    const wall = (side: Side): number => median(sides[side].map((rate) => rate.wall))
    rows.push(`| ${workload.name} | ${format(wall('off'))} | ${format(wall('on'))} | ${ratio('wall')} | ${ratio('cpu')} |`)
  }
  const scrape = await apps.on.inject('/metrics')
  const outbound = /^vix_ws_messages_outbound_total (\d+)/m.exec(scrape.body)?.[1]
  await Promise.all([apps.off.close(), apps.on.close()])

  console.log(`Node ${process.version}, ${ROUNDS} rounds per side (median shown); ${FANOUT_CLIENTS} fan-out clients x ${FANOUT_MESSAGES} messages, ` +
    `${ECHO_CLIENTS} echo clients x ${ECHO_PER_CLIENT} frames (window ${ECHO_WINDOW}), hub: ${HUB_SESSIONS} sessions x ${HUB_MESSAGES} messages\n`)
  console.log('| workload | metrics off | metrics on | on / off, wall time | on / off, CPU time |')
  console.log('|---|---:|---:|---:|---:|')
  for (const row of rows) console.log(row)
  console.log(`\n(the metrics-on app counted ${outbound ?? '?'} outbound frames: the counters were live during the run)`)
}

await main()
