// The cost of a join storm: N sessions (default 1000) join one room at once,
// with presence on (each member gets presence.state, then coalesced
// presence.diff frames) and off. Connections are opened first and not
// measured; the storm is every `room.join` sent in one burst. Reports the
// server's CPU time for the storm (process.cpuUsage, from the first join to
// 300 ms after the last ack, so the last coalescing window is in) and the
// frames it sent (acks, states, diffs), medians over interleaved rounds.
// Server pinned to core 0 (`taskset`, 2+ cores), this generator to core 1.
// Every loop is bounded in count and time; only 127.0.0.1.
// Run: npx tsx bench/presence.ts [sessions] [rounds]
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { pinSelf } from './lib-load.js'

const sessions = Number(process.argv[2] ?? 1000)
const rounds = Number(process.argv[3] ?? 3)
const runTimeout = 60_000
const serverFile = fileURLToPath(new URL('./presence-server.ts', import.meta.url))
const variants = ['off', 'on'] as const

// This generator on core 1, the server (spawned under taskset) on core 0, when there are two cores and taskset.
const pinned = os.cpus().length >= 2 && pinSelf(1)

interface Stats { cpu: { user: number, system: number }, frames: number, diffs: number, members: number }
interface Server { port: number, child: ChildProcess, stats: () => Promise<Stats> }

async function startServer (variant: string): Promise<Server> {
  const args = ['--import', 'tsx', serverFile, variant]
  const child = pinned
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: any) => { resolve(m.port) })
    child.once('exit', (code) => { reject(new Error(`server exited ${code}`)) })
  })
  const stats = async (): Promise<Stats> => await new Promise((resolve) => {
    child.once('message', (m: any) => { resolve(m) })
    child.send({ cmd: 'stats' })
  })
  return { port, child, stats }
}

const delay = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

interface Result { cpuMs: number, frames: number, diffFrames: number, received: number, acked: number }

async function run (variant: string): Promise<Result> {
  const server = await startServer(variant)
  const deadline = Date.now() + runTimeout
  const seen = { received: 0, acked: 0 }
  const sockets: WebSocket[] = []
  for (let i = 0; i < sessions; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?user=u${i}`)
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    ws.on('message', (data) => {
      seen.received++
      if (data.toString().includes('"kind":"ack"')) seen.acked++
    })
    sockets.push(ws)
  }
  const before = await server.stats()
  for (const ws of sockets) ws.send(JSON.stringify({ type: 'room.join', payload: { room: 'storm' } }))
  // Bounded: at most runTimeout / 5 checks.
  for (let check = 0; seen.acked < sessions; check++) {
    if (Date.now() > deadline || check > runTimeout / 5) throw new Error(`timed out: ${seen.acked}/${sessions} acks`)
    await delay(5)
  }
  await delay(300)
  const after = await server.stats()
  if (variant === 'on' && after.members !== sessions) throw new Error(`presence shows ${after.members}/${sessions} members`)
  for (const ws of sockets) ws.terminate()
  server.child.send({ cmd: 'exit' })
  await new Promise((resolve) => server.child.once('exit', resolve))
  return {
    cpuMs: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000,
    frames: after.frames - before.frames,
    diffFrames: after.diffs - before.diffs,
    received: seen.received,
    acked: seen.acked
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const results: Record<string, Result[]> = { off: [], on: [] }
for (let round = 0; round < rounds; round++) {
  for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) results[variant].push(await run(variant))
}
const summary = Object.fromEntries(variants.map((v) => [v, {
  cpuMs: median(results[v].map((r) => r.cpuMs)),
  frames: median(results[v].map((r) => r.frames)),
  diffFrames: median(results[v].map((r) => r.diffFrames)),
  framesPerSession: median(results[v].map((r) => r.frames)) / sessions
}]))
const ratio = summary.on.cpuMs / summary.off.cpuMs
console.log(`\nJoin storm: ${sessions} sessions join one room; ${rounds} interleaved rounds, medians; ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, Node ${process.version}${pinned ? ', server on core 0, load on core 1' : ''}\n`)
console.log('| presence | server CPU (ms) | CPU per join (µs) | frames sent | of which presence.diff | frames per session |')
console.log('|---|---:|---:|---:|---:|---:|')
for (const v of variants) {
  const s = summary[v]
  console.log(`| ${v} | ${s.cpuMs.toFixed(1)} | ${(s.cpuMs * 1000 / sessions).toFixed(1)} | ${s.frames} | ${s.diffFrames} | ${s.framesPerSession.toFixed(2)} |`)
}
console.log(`\nCPU on/off: ${ratio.toFixed(2)}x${Math.abs(ratio - 1) <= 0.1 ? ' (within ±10%: noise)' : ''}`)
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/presence.json', import.meta.url), JSON.stringify({ sessions, rounds, pinned, node: process.version, summary, results }, null, 2))
