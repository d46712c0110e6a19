/**
 * The benchmark suite: vix-realtime beside a raw `ws` server with the best
 * hand-written loop (frame once with WebSocket.Sender.frame, write each
 * socket), a bare @fastify/websocket server and Socket.IO 4 (websocket
 * transport), in one invocation.
 *
 *   npm run bench                       (raises ulimit -n, then runs this)
 *   npx tsx bench/suite.ts --rounds 3 --scenarios fanout,echo,idle,hold
 *   npx tsx bench/suite.ts --baseline ../old --scenarios fanout,echo
 *   npx tsx bench/suite.ts --scenarios sse          (SSE beside WebSocket, Socket.IO polling for reference)
 *
 * `--baseline DIR`: a checkout of another commit (with its node_modules);
 * its vix servers run in the same rounds as `vix@base` and `vix-sqlite@base`,
 * interleaved with this checkout's, and the verdicts compare the two.
 *
 * Each server runs in its own process (bench/suite-server.ts) pinned to core
 * 0; this process is the load generator, pinned to core 1 (when `taskset`
 * exists and there are two cores). Fan-out clients are raw sockets that
 * count frames by their headers (bench/raw-client.ts), so the load side is
 * never what is measured. Variants are interleaved: each round runs every
 * system once, in a rotated order; reported are medians over rounds, and
 * ratios are medians of the per-round ratios (both sides from the same
 * round). A ratio within ±10% of 1 is noise. Server CPU time (user + system,
 * from the server process over IPC) is reported per delivered message.
 *
 * Scenarios (the goals of issue 12):
 * - fan-out: a room of --clients (1000) members; the server publishes
 *   --tick-messages (300) messages of ~100 B, one per turn of the event
 *   loop; then --burst (1000) messages in one turn. vix, vix with its SQLite
 *   store, the ws frame-once loop, the same loop writing ten frames per
 *   socket write (one turn only), Socket.IO `io.to(room).emit`.
 * - typed echo: 1 client (--echo1 round trips) and 10 clients (--echo10
 *   round trips each), one request in flight per client: round trips/s,
 *   p50/p99 latency, server CPU per message. vix (typed handler with a
 *   TypeBox schema), bare @fastify/websocket (JSON.parse/stringify), Socket.IO.
 * - idle memory: --idle (5000) connections opened and left idle; heap and
 *   RSS growth per connection after a full GC (server run with --expose-gc).
 * - SSE (not in the default run): the same fan-out to --clients members over
 *   vix's SSE stream (`vix-sse`: one `GET /ws/sse?rooms=bench` each) beside
 *   vix over WebSocket, and Socket.IO on its polling transport for
 *   reference; then --idle streams vs --idle WebSockets, memory per connection.
 * - connections held: --hold (10,000) vix connections for --hold-seconds
 *   (60) with a ping every 5 s (the clients answer); unexpected closes and
 *   RSS per connection.
 *
 * Every loop is bounded in count and in time (--timeout-ms per measured
 * step); only 127.0.0.1. Prints a markdown table with each goal marked met or
 * not met, writes every measurement to bench/results/suite-<date>.json and
 * bench/results/suite.json, and draws them into docs/benchmarks.svg
 * (bench/suite-chart.ts; `npm run bench:chart` redraws it from suite.json).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { rawClient, untilFrames, type RawClient } from './raw-client.js'
import { rawSseClient, socketIoPollingClient } from './raw-sse-client.js'
import { inBatches } from './lib-load.js'
import { median, writeSuiteChart } from './suite-chart.js'

const CPUS = os.availableParallelism()
const serverFile = fileURLToPath(new URL('./suite-server.ts', import.meta.url))
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
const chartFile = fileURLToPath(new URL('../docs/benchmarks.svg', import.meta.url))

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '1000' },
    'tick-messages': { type: 'string', default: '300' },
    burst: { type: 'string', default: '1000' },
    echo1: { type: 'string', default: '3000' },
    echo10: { type: 'string', default: '600' },
    idle: { type: 'string', default: '5000' },
    hold: { type: 'string', default: '10000' },
    'hold-seconds': { type: 'string', default: '60' },
    scenarios: { type: 'string', default: 'fanout,echo,idle,hold' },
    'timeout-ms': { type: 'string', default: '60000' },
    'no-pin': { type: 'boolean', default: false },
    /** Write a V8 CPU profile of every server (node --cpu-prof) under bench/results/profiles/<system>/. */
    profile: { type: 'boolean', default: false },
    /** A checkout of another commit: its vix servers run beside this one's, as `vix@base` and `vix-sqlite@base`. */
    baseline: { type: 'string' },
    /** Only these systems (comma-separated, e.g. `vix,vix-sqlite` with --baseline for a quick before/after). */
    systems: { type: 'string' }
  }
})
const BASE_SUFFIX = '@base'
const baseline = args.baseline === undefined ? undefined : `${resolvePath(args.baseline)}/`
/** The systems a scenario runs, with the baseline's copies of the vix ones when `--baseline` is given. */
const only = args.systems === undefined ? undefined : new Set(String(args.systems).split(','))
const withBaseline = (all: string[]): string[] => {
  const systems = only === undefined ? all : all.filter((s) => only.has(s))
  return baseline === undefined ? systems : [...systems, ...systems.filter((s) => s.startsWith('vix')).map((s) => s + BASE_SUFFIX)]
}
const num = (name: keyof typeof args): number => {
  const value = Number(args[name])
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`)
  return value
}
const ROUNDS = num('rounds')
const CLIENTS = num('clients')
const TICK_MESSAGES = num('tick-messages')
const BURST = num('burst')
const TIMEOUT = num('timeout-ms')
const scenarios = new Set(String(args.scenarios).split(','))

function canPin (): boolean {
  if (args['no-pin'] === true || CPUS < 2) return false
  try {
    execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const pinned = canPin()

// ---- servers ---------------------------------------------------------------

interface Server { port: number, child: ChildProcess, rpc: (message: Record<string, unknown>) => Promise<any>, stop: () => Promise<void> }

async function startServer (requested: string, env: Record<string, string> = {}): Promise<Server> {
  // `vix-sse` is the vix server, its clients on SSE.
  const system = requested === 'vix-sse' ? 'vix' : requested
  // One directory per system: the main thread and tsx's loader thread each write their own profile (the larger is the server's).
  const profile = args.profile === true ? ['--cpu-prof', `--cpu-prof-dir=${resultsDir}profiles/${system}`] : []
  // A baseline system is the other checkout's own server file, run from there (its own node_modules).
  const base = system.endsWith(BASE_SUFFIX) && baseline !== undefined
  const file = base ? `${baseline as string}bench/suite-server.ts` : serverFile
  const nodeArgs = ['--expose-gc', ...profile, '--import', 'tsx', file, base ? system.slice(0, -BASE_SUFFIX.length) : system]
  const [command, commandArgs] = pinned ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs]
  const child = spawn(command, commandArgs, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: base ? baseline : undefined })
  let next = 0
  const waiting = new Map<number, (reply: any) => void>()
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${system} did not start`)), 30_000)
    child.on('message', (m: any) => {
      if (m.port !== undefined) { clearTimeout(timer); resolve(m.port) } else waiting.get(m.id)?.(m)
    })
    child.once('exit', (code) => reject(new Error(`${system} exited (${code})`)))
  })
  const rpc = async (message: Record<string, unknown>): Promise<any> => await new Promise((resolve, reject) => {
    const id = next++
    const timer = setTimeout(() => reject(new Error(`${system}: no answer to ${String(message.cmd)}`)), TIMEOUT)
    waiting.set(id, (reply) => { clearTimeout(timer); waiting.delete(id); reply.error === undefined ? resolve(reply) : reject(new Error(reply.error)) })
    child.send({ ...message, id })
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    // Disconnecting lets the server exit on its own (a CPU profile is written then); killed if it does not.
    child.disconnect()
    const timer = setTimeout(() => child.kill(), 5000)
    await exited
    clearTimeout(timer)
  }
  return { port, child, rpc, stop }
}

const cpuUs = async (server: Server): Promise<number> => {
  const { cpu } = await server.rpc({ cmd: 'cpu' })
  return cpu.user + cpu.system
}

// ---- clients ---------------------------------------------------------------

const isSocketIo = (system: string): boolean => system === 'socket.io'
const pathOf = (system: string): string => isSocketIo(system) ? '/socket.io/?EIO=4&transport=websocket' : '/ws'

/** Connected and (vix) in the room, (Socket.IO) in the main namespace, counters at 0. */
async function openClient (port: number, system: string, keep = 0): Promise<RawClient> {
  if (system === 'socket.io-polling') return await socketIoPollingClient(port, TIMEOUT)
  if (system === 'vix-sse') {
    const stream = await rawSseClient(port, '/ws/sse?rooms=bench', TIMEOUT)
    await untilFrames(stream, 2, TIMEOUT) // session.opened, the join's ack
    stream.reset()
    return stream
  }
  const client = await rawClient(port, pathOf(system), { socketIo: isSocketIo(system), keep: keep + 2 })
  if (isSocketIo(system)) {
    await untilFrames(client, 1, TIMEOUT) // engine.io open
    client.send('40')
    await untilFrames(client, 2, TIMEOUT) // namespace connected
  } else if (system.startsWith('vix')) {
    client.send('{"type":"room.join","payload":{"room":"bench"}}')
    await untilFrames(client, 1, TIMEOUT)
  }
  client.kept.length = 0
  client.reset()
  return client
}

async function openMany (port: number, system: string, count: number): Promise<RawClient[]> {
  return await inBatches(count, 50, async () => await openClient(port, system))
}

function closeAll (clients: RawClient[]): void {
  for (const c of clients) c.close()
}

// ---- measurements ----------------------------------------------------------

interface Measure { system: string, round: number, rate: number, cpuUsPerMsg: number, seconds: number, p50?: number, p99?: number }

/** The server publishes `count` messages, `perTick` per turn; timed until every client has them all. */
async function fanoutOnce (server: Server, clients: RawClient[], count: number, perTick: number): Promise<{ seconds: number, cpuUs: number }> {
  for (const c of clients) c.reset()
  let complete = 0
  const all = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fan-out timed out: ${complete}/${clients.length} clients complete`)), TIMEOUT)
    for (const c of clients) {
      c.onFrame = (client) => {
        if (client.frames !== count) return
        client.onFrame = null
        if (++complete === clients.length) { clearTimeout(timer); resolve() }
      }
    }
  })
  const cpu0 = await cpuUs(server)
  const started = process.hrtime.bigint()
  await Promise.all([server.rpc({ cmd: 'burst', count, perTick }), all])
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const cpuUs1 = await cpuUs(server)
  const over = clients.filter((c) => c.frames !== count).length
  if (over > 0) throw new Error(`${over} clients got a frame count other than ${count}`)
  return { seconds, cpuUs: cpuUs1 - cpu0 }
}

/** Sequential request/response round trips on each client; latencies in µs. */
async function echoOnce (server: Server, clients: RawClient[], system: string, roundTrips: number): Promise<{ seconds: number, cpuUs: number, latencies: Float64Array }> {
  const latencies = new Float64Array(clients.length * roundTrips)
  const request = (n: number): string => isSocketIo(system) ? `42["echo",{"n":${n}}]` : `{"type":"echo","payload":{"n":${n}}}`
  let finished = 0
  const cpu0 = await cpuUs(server)
  const started = process.hrtime.bigint()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo timed out: ${finished}/${clients.length} done`)), TIMEOUT)
    clients.forEach((c, k) => {
      let done = 0
      let sentAt = process.hrtime.bigint()
      c.reset()
      c.onFrame = (client) => {
        latencies[k * roundTrips + done] = Number(process.hrtime.bigint() - sentAt) / 1000
        if (++done === roundTrips) {
          client.onFrame = null
          if (++finished === clients.length) { clearTimeout(timer); resolve() }
          return
        }
        sentAt = process.hrtime.bigint()
        client.send(request(done))
      }
      c.send(request(0))
    })
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const cpuUs1 = await cpuUs(server)
  return { seconds, cpuUs: cpuUs1 - cpu0, latencies: latencies.sort() }
}

const pct = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
const rotate = <T>(list: T[], by: number): T[] => list.map((_, i) => list[(i + by) % list.length])

const results: Record<string, Measure[]> = {}
const record = (scenario: string, m: Measure): void => {
  (results[scenario] ??= []).push(m)
  const extra = m.p50 === undefined ? '' : ` p50 ${m.p50.toFixed(0)} µs p99 ${m.p99?.toFixed(0)} µs`
  console.error(`  ${scenario} ${m.system} round ${m.round}: ${Math.round(m.rate)}/s, ${m.cpuUsPerMsg.toFixed(2)} µs CPU/msg${extra}`)
}

/** Each round, each system: a server, --clients in the room, then the fan-outs measured as `${prefix}tick` and `${prefix}burst`. */
async function fanoutRounds (systems: string[], prefix: string): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    for (const system of rotate(systems, round)) {
      const server = await startServer(system)
      const clients = await openMany(server.port, system, CLIENTS)
      try {
        await fanoutOnce(server, clients, 50, 1) // warm-up
        await fanoutOnce(server, clients, 200, 200)
        if (system !== 'ws-batch10') {
          const tick = await fanoutOnce(server, clients, TICK_MESSAGES, 1)
          record(`${prefix}tick`, { system, round, seconds: tick.seconds, rate: TICK_MESSAGES * CLIENTS / tick.seconds, cpuUsPerMsg: tick.cpuUs / (TICK_MESSAGES * CLIENTS) })
        }
        const burst = await fanoutOnce(server, clients, BURST, BURST)
        record(`${prefix}burst`, { system, round, seconds: burst.seconds, rate: BURST * CLIENTS / burst.seconds, cpuUsPerMsg: burst.cpuUs / (BURST * CLIENTS) })
      } finally {
        closeAll(clients)
        await server.stop()
      }
    }
  }
}

async function fanoutScenario (): Promise<void> {
  await fanoutRounds(withBaseline(['vix', 'vix-sqlite', 'ws-loop', 'ws-batch10', 'socket.io']), 'fanout-')
}

async function echoScenario (): Promise<void> {
  const systems = withBaseline(['vix', 'fastify-ws', 'socket.io'])
  const echo1 = num('echo1')
  const echo10 = num('echo10')
  for (let round = 0; round < ROUNDS; round++) {
    for (const system of rotate(systems, round)) {
      const server = await startServer(system)
      const clients = await openMany(server.port, system, 10)
      try {
        const check = await rawClient(server.port, pathOf(system), { socketIo: isSocketIo(system), keep: 4 })
        check.close()
        await echoOnce(server, clients.slice(0, 1), system, 500) // warm-up
        await echoOnce(server, clients, system, 100)
        const one = await echoOnce(server, clients.slice(0, 1), system, echo1)
        record('echo-1', { system, round, seconds: one.seconds, rate: echo1 / one.seconds, cpuUsPerMsg: one.cpuUs / echo1, p50: pct(one.latencies, 0.5), p99: pct(one.latencies, 0.99) })
        const ten = await echoOnce(server, clients, system, echo10)
        record('echo-10', { system, round, seconds: ten.seconds, rate: 10 * echo10 / ten.seconds, cpuUsPerMsg: ten.cpuUs / (10 * echo10), p50: pct(ten.latencies, 0.5), p99: pct(ten.latencies, 0.99) })
      } finally {
        closeAll(clients)
        await server.stop()
      }
    }
  }
}

const memory: Record<string, Array<{ round: number, heapPerConn: number, rssPerConn: number }>> = {}
/** Heap and RSS growth per connection of `count` idle connections, recorded under `prefix` + system. */
async function idleRounds (systems: string[], count: number, prefix: string): Promise<void> {
  for (let round = 0; round < Math.min(ROUNDS, 2); round++) {
    for (const system of rotate(systems, round)) {
      const server = await startServer(system)
      const clients: RawClient[] = []
      try {
        // Warm the accept path, so the baseline already holds the code and caches every connection uses.
        const warm = await openMany(server.port, system, 200)
        closeAll(warm)
        await new Promise((resolve) => setTimeout(resolve, 1000))
        const before = await server.rpc({ cmd: 'mem' })
        clients.push(...await openMany(server.port, system, count))
        await new Promise((resolve) => setTimeout(resolve, 2000))
        const after = await server.rpc({ cmd: 'mem' })
        const entry = { round, heapPerConn: (after.heap - before.heap) / count, rssPerConn: (after.rss - before.rss) / count }
        ;(memory[prefix + system] ??= []).push(entry)
        console.error(`  idle ${prefix + system} round ${round}: heap ${(entry.heapPerConn / 1024).toFixed(2)} KB/conn, RSS ${(entry.rssPerConn / 1024).toFixed(2)} KB/conn`)
      } finally {
        closeAll(clients)
        await server.stop()
      }
    }
  }
}

async function idleScenario (): Promise<void> {
  await idleRounds(['vix', 'fastify-ws', 'socket.io'], num('idle'), '')
}

/** SSE beside WebSocket: fan-out deliveries/s and idle memory per connection (Socket.IO polling: fan-out, for reference). */
async function sseScenario (): Promise<void> {
  await fanoutRounds(['vix', 'vix-sse', 'socket.io-polling'], 'sse-fanout-')
  await idleRounds(['vix', 'vix-sse'], num('idle'), 'sse/')
}

let held: { connections: number, seconds: number, unexpectedCloses: number, rssPerConn: number, opened: number } | undefined
async function holdScenario (): Promise<void> {
  const count = num('hold')
  const seconds = num('hold-seconds')
  const server = await startServer('vix', { BENCH_PING_MS: '5000' })
  const clients: RawClient[] = []
  try {
    const before = await server.rpc({ cmd: 'mem' })
    try {
      for (let i = 0; i < count; i += 100) {
        clients.push(...await Promise.all(Array.from({ length: Math.min(100, count - i) }, async () => await rawClient(server.port, '/ws'))))
      }
    } catch (error) {
      console.error(`  hold: opening stopped at ${clients.length}: ${(error as Error).message}`)
    }
    const opened = clients.length
    console.error(`  hold: ${opened} connections open; holding ${seconds} s (ping every 5 s)`)
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    const after = await server.rpc({ cmd: 'mem' })
    const unexpectedCloses = clients.filter((c) => c.closed).length
    held = { connections: count, opened, seconds, unexpectedCloses, rssPerConn: (after.rss - before.rss) / Math.max(1, opened) }
    console.error(`  hold: ${unexpectedCloses} unexpected closes, ${(held.rssPerConn / 1024).toFixed(1)} KB RSS/conn`)
  } finally {
    closeAll(clients)
    await server.stop()
  }
}

// ---- report ----------------------------------------------------------------

const by = (scenario: string, system: string): Measure[] => (results[scenario] ?? []).filter((m) => m.system === system)
/** Median over rounds of a/b, each ratio from one round. */
function ratio (scenario: string, a: string, b: string, field: 'rate' | 'cpuUsPerMsg' | 'p99' = 'rate', scenarioB = scenario): number {
  const ratios: number[] = []
  for (const m of by(scenario, a)) {
    const other = by(scenarioB, b).find((o) => o.round === m.round)
    if (other !== undefined) ratios.push((m[field] as number) / (other[field] as number))
  }
  return ratios.length === 0 ? Number.NaN : median(ratios)
}
const fmt = (x: number): string => Number.isNaN(x) ? 'n/a' : `${x.toFixed(2)}x${Math.abs(x - 1) <= 0.1 ? ' (noise)' : ''}`
const goal = (value: number, op: '>=' | '<=', target: number): string => {
  if (Number.isNaN(value)) return 'not run'
  return (op === '>=' ? value >= target : value <= target) ? '**met**' : `**not met** (${value.toFixed(2)}x; ${op === '>=' ? `${((1 - value / target) * 100).toFixed(0)}% short` : `${((value / target - 1) * 100).toFixed(0)}% over`})`
}

const started = Date.now()
const loadBefore = os.loadavg()
// The machine may be shared: the chart's caption says how loaded it was.
let loadPeak = loadBefore[0]
setInterval(() => { loadPeak = Math.max(loadPeak, os.loadavg()[0]) }, 5000).unref()
console.error(`vix-realtime bench suite: ${CPUS} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${pinned ? 'servers on core 0, load on core 1' : 'not pinned'}`)
if (scenarios.has('fanout')) { console.error('fan-out'); await fanoutScenario() }
if (scenarios.has('echo')) { console.error('typed echo'); await echoScenario() }
if (scenarios.has('idle')) { console.error('idle memory'); await idleScenario() }
if (scenarios.has('hold')) { console.error('connections held'); await holdScenario() }
if (scenarios.has('sse')) { console.error('SSE'); await sseScenario() }

const lines: string[] = []
const out = (line = ''): void => { lines.push(line) }
out(`Machine: ${CPUS} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}; ${pinned ? 'servers pinned to core 0, load generator to core 1' : 'not pinned'}; medians of ${ROUNDS} interleaved rounds; ${Math.round((Date.now() - started) / 1000)} s.`)
out()
out('| scenario | system | median rate | server CPU µs/msg | p50 / p99 µs |')
out('|---|---|---:|---:|---:|')
for (const [scenario, list] of Object.entries(results)) {
  for (const system of [...new Set(list.map((m) => m.system))]) {
    const ms = by(scenario, system)
    const p = ms[0].p50 === undefined ? '' : `${median(ms.map((m) => m.p50 as number)).toFixed(0)} / ${median(ms.map((m) => m.p99 as number)).toFixed(0)}`
    out(`| ${scenario} | ${system} | ${Math.round(median(ms.map((m) => m.rate))).toLocaleString('en-US')}/s | ${median(ms.map((m) => m.cpuUsPerMsg)).toFixed(2)} | ${p} |`)
  }
}
for (const [system, list] of Object.entries(memory)) {
  out(`| idle ${num('idle')} | ${system} | heap ${(median(list.map((m) => m.heapPerConn)) / 1024).toFixed(2)} KB/conn | | RSS ${(median(list.map((m) => m.rssPerConn)) / 1024).toFixed(2)} KB/conn |`)
}
if (held !== undefined) out(`| hold ${held.connections} × ${held.seconds} s | vix | ${held.opened} open, ${held.unexpectedCloses} unexpected closes | | RSS ${(held.rssPerConn / 1024).toFixed(1)} KB/conn |`)
out()
const heap = (system: string): number => median((memory[system] ?? []).map((m) => m.heapPerConn))
const heapRatio = (b: string, a = 'vix'): number => memory[a] === undefined || memory[b] === undefined ? Number.NaN : heap(a) / heap(b)
const goals: Array<[string, string, number, '>=' | '<=', number]> = [
  ['fan-out, one publish per tick', 'vix / ws frame-once loop', ratio('fanout-tick', 'vix', 'ws-loop'), '>=', 1.0],
  ['fan-out, one publish per tick', 'vix / Socket.IO', ratio('fanout-tick', 'vix', 'socket.io'), '>=', 1.5],
  ['fan-out, 1000 publishes in one tick', 'vix / ws frame-once loop in one tick', ratio('fanout-burst', 'vix', 'ws-loop'), '>=', 4.0],
  ['fan-out, 1000 publishes in one tick', '(context) vix / ws loop, 10 frames per write', ratio('fanout-burst', 'vix', 'ws-batch10'), '>=', 0],
  ['fan-out, 1000 publishes in one tick', '(context) vix / Socket.IO in one tick', ratio('fanout-burst', 'vix', 'socket.io'), '>=', 0],
  ['fan-out with the SQLite store', 'vix+sqlite / vix, one per tick', ratio('fanout-tick', 'vix-sqlite', 'vix'), '>=', 0.9],
  ['fan-out with the SQLite store', 'vix+sqlite / vix, 1000 in one tick', ratio('fanout-burst', 'vix-sqlite', 'vix'), '>=', 0.9],
  ['typed echo, 1 client', 'vix / bare @fastify/websocket, round trips/s', ratio('echo-1', 'vix', 'fastify-ws'), '>=', 1.0],
  ['typed echo, 1 client', 'vix / Socket.IO, round trips/s', ratio('echo-1', 'vix', 'socket.io'), '>=', 1.2],
  ['typed echo, 1 client', 'p99 vix / bare', ratio('echo-1', 'vix', 'fastify-ws', 'p99'), '<=', 1.3],
  ['typed echo, 10 clients', 'p99 vix / bare', ratio('echo-10', 'vix', 'fastify-ws', 'p99'), '<=', 1.3],
  ['typed echo, 10 clients', 'server CPU per message vix / bare', ratio('echo-10', 'vix', 'fastify-ws', 'cpuUsPerMsg'), '<=', 1.1],
  ['idle memory', 'heap per connection vix / bare', heapRatio('fastify-ws'), '<=', 1.0],
  ['idle memory', 'heap per connection vix / Socket.IO', heapRatio('socket.io'), '<=', 0.5],
  ['SSE fan-out, one publish per tick', 'vix SSE / vix WebSocket, deliveries/s', ratio('sse-fanout-tick', 'vix-sse', 'vix'), '>=', 0.8],
  ['SSE fan-out, 1000 publishes in one tick', 'vix SSE / vix WebSocket, deliveries/s', ratio('sse-fanout-burst', 'vix-sse', 'vix'), '>=', 0.8],
  ['SSE fan-out, one publish per tick', '(context) vix SSE / Socket.IO polling', ratio('sse-fanout-tick', 'vix-sse', 'socket.io-polling'), '>=', 0],
  ['SSE idle memory', 'heap per connection vix SSE / vix WebSocket', heapRatio('sse/vix', 'sse/vix-sse'), '<=', 1.2]
]
if (baseline !== undefined) {
  goals.push(
    ['against the baseline', 'fan-out one per tick, vix / vix@base', ratio('fanout-tick', 'vix', 'vix@base'), '>=', 0.95],
    ['against the baseline', 'fan-out 1000 in one tick, vix / vix@base', ratio('fanout-burst', 'vix', 'vix@base'), '>=', 0.95],
    ['against the baseline', 'fan-out stored, one per tick, vix+sqlite / vix-sqlite@base', ratio('fanout-tick', 'vix-sqlite', 'vix-sqlite@base'), '>=', 0.95],
    ['against the baseline', 'fan-out stored, 1000 in one tick, vix+sqlite / vix-sqlite@base', ratio('fanout-burst', 'vix-sqlite', 'vix-sqlite@base'), '>=', 0.95],
    ['against the baseline', 'typed echo 1 client, round trips/s vix / vix@base', ratio('echo-1', 'vix', 'vix@base'), '>=', 0.95],
    ['against the baseline', 'typed echo 10 clients, server CPU per message vix / vix@base', ratio('echo-10', 'vix', 'vix@base', 'cpuUsPerMsg'), '<=', 1.05]
  )
}
out('| goal | measure | ratio (median of per-round ratios) | verdict |')
out('|---|---|---:|---|')
for (const [scenario, what, value, op, target] of goals) {
  out(`| ${scenario} | ${what} | ${fmt(value)} | ${target === 0 ? 'context' : `${op} ${target}x: ${goal(value, op, target)}`} |`)
}
if (held !== undefined) {
  const ok = held.opened === held.connections && held.unexpectedCloses === 0
  out(`| connections held | ${held.connections} for ${held.seconds} s, ping 5 s | ${held.opened} open, ${held.unexpectedCloses} closed | ${ok ? '**met**' : '**not met**'} |`)
}
console.log(lines.join('\n'))
mkdirSync(resultsDir, { recursive: true })
const file = `${resultsDir}suite-${baseline === undefined ? '' : 'baseline-'}${new Date().toISOString().replace(/[:.]/g, '-')}.json`
const machine = { cpus: CPUS, model: os.cpus()[0]?.model, memGiB: os.totalmem() / 2 ** 30, node: process.version, pinned, date: new Date(started).toISOString(), seconds: Math.round((Date.now() - started) / 1000), loadBefore, loadAfter: os.loadavg(), loadPeak: Math.max(loadPeak, os.loadavg()[0]) }
const json = JSON.stringify({ machine, args, results, memory, held, goals: goals.map(([scenario, what, value, op, target]) => ({ scenario, what, value, op, target })), table: lines }, null, 2)
writeFileSync(file, json)
// An SSE-only run is kept apart too: it would replace the chart's numbers with none.
const sseOnly = scenarios.size === 1 && scenarios.has('sse')
if (sseOnly) writeFileSync(`${resultsDir}suite-sse.json`, json)
else if (baseline === undefined) {
  // The latest run under a fixed name, and its chart (docs/benchmarks.svg, committed); a run against a baseline is kept apart.
  writeFileSync(`${resultsDir}suite.json`, json)
  writeSuiteChart(`${resultsDir}suite.json`, chartFile)
}
console.error(`results: ${file}${sseOnly ? ' (and bench/results/suite-sse.json)' : baseline === undefined ? ' (and bench/results/suite.json); chart: docs/benchmarks.svg' : ''}`)
process.exit(0)
