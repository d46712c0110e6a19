/**
 * Request/reply round trips per second, side by side in one run (issue 22):
 * a vix request type (`on(type, { schema, reply })`, the reply in the ack)
 * against Socket.IO 4 `emitWithAck` (goal ≥ 1.2x) and against vix's own typed
 * echo without reply (a handler that sends an ack itself, followed by the
 * dispatcher's own ack of the id: two frames in one write; goal ≥ 0.95x), with
 * 1 client and with 10 clients, one request in flight per client. A bare `ws`
 * server answering each frame with an ack is the reference: the ceiling of
 * any system here (the loopback, the wakeups and JSON, nothing else). Each
 * system's server CPU per round trip (user + system, µs) is measured too.
 * Before the scenarios each server answers `--prefill` requests (default
 * 11,000, from 10 clients): past the 10,000 answers vix's reply cache holds
 * (`replyCache.size`), so it is measured full, evicting, as a server that has
 * run a while is.
 *
 *   NODE_ENV=production npx tsx bench/request-reply.ts   (defaults: 5 rounds, 3000 / 600 round trips)
 *   npx tsx bench/request-reply.ts --rounds 1 --rt1 50 --rt10 20 --prefill 0   (a smoke run)
 *   npx tsx bench/request-reply.ts --systems vix-request --rounds 1 --rt1 20000 --profile /tmp/prof
 *     (its server under `node --cpu-prof`, a profile per thread in /tmp/prof/<system>/: read the
 *     largest, the main thread's, with bench/profile-top.ts)
 *
 * Each server runs in its own process (bench/request-reply-server.ts) pinned
 * to core 0, this process (the load) to core 1, when `taskset` exists. Every
 * round runs each system once, in a rotated order; reported are medians over
 * rounds, and ratios are medians of per-round ratios. vix clients are plain
 * `ws` sockets sending `{ id, type: 'rr', payload: { n } }` and waiting for
 * the ack of that id; Socket.IO clients are socket.io-client over websocket.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import { io as ioClient, type Socket } from 'socket.io-client'

const serverFile = fileURLToPath(new URL('./request-reply-server.ts', import.meta.url))
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    rt1: { type: 'string', default: '3000' },
    rt10: { type: 'string', default: '600' },
    'timeout-ms': { type: 'string', default: '60000' },
    prefill: { type: 'string', default: '11000' },
    systems: { type: 'string' },
    profile: { type: 'string' }
  }
})
const rounds = Number(args.rounds)
const timeoutMs = Number(args['timeout-ms'])
const allSystems = ['vix-request', 'vix-echo', 'socket.io', 'ws'] as const
type System = typeof allSystems[number]
const systemOf = (name: string): System => {
  if (!(allSystems as readonly string[]).includes(name)) throw new Error(`unknown system ${name} (${allSystems.join(', ')})`)
  return name as System
}
const systems: readonly System[] = args.systems === undefined ? allSystems : args.systems.split(',').map(systemOf)
const pinned = os.availableParallelism() >= 2 && (() => { try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); return true } catch { return false } })()
if (pinned) execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' })

interface Server { child: ChildProcess, port: number, cpu: () => Promise<number> }

async function startServer (system: System): Promise<Server> {
  const command = pinned ? 'taskset' : process.execPath
  const profile = args.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args.profile}/${system}`]
  const argv = [...(pinned ? ['-c', '0', process.execPath] : []), ...profile, '--import', 'tsx', serverFile, system]
  const child = spawn(command, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => { resolve(m.port) })
    child.once('exit', (code) => { reject(new Error(`${system} server exited ${String(code)}`)) })
  })
  let asked = 0
  /** The server process's CPU time so far (user + system), in µs. */
  const cpu = async (): Promise<number> => await new Promise((resolve) => {
    const id = ++asked
    const answer = (m: { id?: number, cpu?: NodeJS.CpuUsage }): void => {
      if (m.id !== id || m.cpu === undefined) return
      child.off('message', answer)
      resolve(m.cpu.user + m.cpu.system)
    }
    child.on('message', answer)
    child.send({ id, cmd: 'cpu' })
  })
  return { child, port, cpu }
}

/** One client's sequential round trips: resolves when `count` replies came back. */
interface Client { roundTrips: (count: number) => Promise<void>, close: () => void }

async function vixClient (port: number): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  let waiting: { id: string, resolve: () => void } | undefined
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { kind: string, id?: string }
    if (frame.kind === 'ack' && waiting !== undefined && frame.id === waiting.id) waiting.resolve()
    else if (frame.kind === 'error') throw new Error(data.toString())
  })
  let next = 0
  return {
    roundTrips: async (count) => {
      for (let i = 0; i < count; i++) {
        const id = `r${next++}`
        await new Promise<void>((resolve) => {
          waiting = { id, resolve }
          ws.send(`{"id":"${id}","type":"rr","payload":{"n":${i}}}`)
        })
      }
    },
    close: () => { ws.close() }
  }
}

async function socketIoClient (port: number): Promise<Client> {
  const socket: Socket = ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false })
  await new Promise((resolve, reject) => { socket.once('connect', () => { resolve(undefined) }); socket.once('connect_error', reject) })
  return {
    roundTrips: async (count) => {
      for (let i = 0; i < count; i++) await socket.emitWithAck('rr', { n: i })
    },
    close: () => { socket.close() }
  }
}

async function bounded<T> (promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what}: over ${timeoutMs} ms`)) }, timeoutMs) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** `count` round trips from 10 clients, unmeasured: the server's state is a busy server's. */
async function prefill (system: System, server: Server, count: number): Promise<void> {
  if (count <= 0) return
  const open = system === 'socket.io' ? socketIoClient : vixClient
  const all = await Promise.all(Array.from({ length: 10 }, async () => await open(server.port)))
  try {
    await bounded(Promise.all(all.map(async (client) => { await client.roundTrips(Math.ceil(count / 10)) })), `${system} prefill`)
  } finally {
    for (const client of all) client.close()
  }
}

/** Round trips/s of `clients` clients doing `each` round trips (after a warm-up of a tenth), and the server's CPU µs per round trip. */
async function measure (system: System, server: Server, clients: number, each: number): Promise<{ rate: number, cpu: number }> {
  const open = system === 'socket.io' ? socketIoClient : vixClient
  const all = await Promise.all(Array.from({ length: clients }, async () => await open(server.port)))
  try {
    await bounded(Promise.all(all.map(async (client) => { await client.roundTrips(Math.max(1, Math.floor(each / 10))) })), `${system} warm-up`)
    const cpuBefore = await server.cpu()
    const start = process.hrtime.bigint()
    await bounded(Promise.all(all.map(async (client) => { await client.roundTrips(each) })), `${system} ×${clients}`)
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    const cpu = await server.cpu() - cpuBefore
    return { rate: (clients * each) / seconds, cpu: cpu / (clients * each) }
  } finally {
    for (const client of all) client.close()
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

const scenarios = [{ name: '1 client', clients: 1, each: Number(args.rt1) }, { name: '10 clients', clients: 10, each: Number(args.rt10) }]
const results = new Map<string, number[]>() // `${scenario}|${system}` → rt/s per round
const cpus = new Map<string, number[]>() // `${scenario}|${system}` → server CPU µs per round trip, per round
const record = (map: Map<string, number[]>, key: string, value: number): void => { map.set(key, [...(map.get(key) ?? []), value]) }
for (let round = 0; round < rounds; round++) {
  const order = systems.map((_, i) => systems[(i + round) % systems.length])
  for (const system of order) {
    const server = await startServer(system)
    try {
      await prefill(system, server, Number(args.prefill))
      for (const scenario of scenarios) {
        const key = `${scenario.name}|${system}`
        const { rate, cpu } = await measure(system, server, scenario.clients, scenario.each)
        record(results, key, rate)
        record(cpus, key, cpu)
      }
    } finally {
      server.child.kill()
    }
  }
  process.stderr.write(`round ${round + 1}/${rounds} done\n`)
}

const ratio = (scenario: string, a: System, b: System): number =>
  median((results.get(`${scenario}|${a}`) ?? []).map((value, i) => value / (results.get(`${scenario}|${b}`) ?? [])[i]))
const has = (system: System): boolean => systems.includes(system)
const fixed = (value: number, digits: number): string => Number.isFinite(value) ? value.toFixed(digits) : '–'
console.log(`\nRequest/reply round trips/s (server CPU µs per round trip), median of ${rounds} round(s)${pinned ? ' (server core 0, load core 1)' : ''}, NODE_ENV=${process.env.NODE_ENV ?? '(unset)'}\n`)
console.log(`| scenario | ${systems.join(' | ')} | request / Socket.IO (goal ≥ 1.2) | request / echo (goal ≥ 0.95) | ws / Socket.IO (the ceiling) |`)
console.log(`|---|${systems.map(() => '---:|').join('')}---:|---:|---:|`)
for (const { name } of scenarios) {
  const cell = (system: System): string => {
    const rate = Math.round(median(results.get(`${name}|${system}`) ?? [])).toLocaleString('en-US')
    return `${rate} (${fixed(median(cpus.get(`${name}|${system}`) ?? []), 0)} µs)`
  }
  const goal = (a: System, b: System, target: number): string => {
    if (!has(a) || !has(b)) return '–'
    const value = ratio(name, a, b)
    return `${value.toFixed(2)} ${value >= target ? 'met' : 'not met'}`
  }
  const ceiling = has('ws') && has('socket.io') ? ratio(name, 'ws', 'socket.io').toFixed(2) : '–'
  console.log(`| ${name} | ${systems.map(cell).join(' | ')} | ${goal('vix-request', 'socket.io', 1.2)} | ${goal('vix-request', 'vix-echo', 0.95)} | ${ceiling} |`)
}
