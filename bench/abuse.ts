// A bounded abuse run: the example app (limits on, from env defaults) in one
// process, mixed floods (connections, frames, fragments, polls, HTTP
// publishes) from a second, for 30 s, while a monitor client here exchanges
// acked messages in the room the floods aim at. Prints the monitor's
// delivered/lost counts, the server's peak RSS, rejections by limit and
// whether the server stayed up; writes bench/results/abuse.json.
// Run: npm run abuse [-- seconds]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'

const seconds = Math.min(120, Number(process.argv[2] ?? 30))
const KEY = 'abuse-run-publish-key-0123456789'
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))
const hasTaskset = ((): boolean => { try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); return true } catch { return false } })()

/** A child on its own core (taskset when present) with an IPC channel. */
function child (file: string, args: string[], core: number, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const node = [process.execPath, '--import', 'tsx', file, ...args]
  // taskset execs node, which finds the IPC channel spawn() opened in its environment.
  const [command, ...rest] = hasTaskset ? ['taskset', '-c', String(core), ...node] : node
  return spawn(command, rest, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env })
}

const reply = async <T>(proc: ChildProcess, predicate: (m: any) => boolean, timeoutMs = 10_000): Promise<T> => await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no answer from child')), timeoutMs)
  const on = (m: any): void => { if (predicate(m)) { clearTimeout(timer); proc.off('message', on); resolve(m) } }
  proc.on('message', on)
})

const server = child(here('./abuse-server.ts'), [], 0, { ...process.env, VIX_PUBLISH_KEY: KEY, NODE_ENV: 'production' })
const { port } = await reply<{ port: number }>(server, (m) => m.port !== undefined, 30_000)
const base = `http://127.0.0.1:${port}`

// The monitor: one acked message every 100 ms (10/s, under the 20/s limit), counted on delivery to itself.
const monitor = new WebSocket(`ws://127.0.0.1:${port}/ws`)
await new Promise((resolve) => monitor.once('open', resolve))
let sent = 0
let acked = 0
let delivered = 0
let monitorClosed: number | null = null
let worstAckMs = 0
const sentAt = new Map<string, number>()
monitor.on('message', (data) => {
  const frame = JSON.parse(data.toString())
  if (frame.kind === 'ack' && frame.type === 'chat.message' && sentAt.has(frame.id)) {
    acked++
    worstAckMs = Math.max(worstAckMs, performance.now() - (sentAt.get(frame.id) as number))
  }
  if (frame.kind === 'event' && typeof frame.payload?.text === 'string' && sentAt.has(frame.payload.text)) delivered++
})
monitor.on('close', (code) => { monitorClosed = code })
monitor.send(JSON.stringify({ type: 'room.join', payload: { room: 'monitor' } }))
await new Promise((resolve) => setTimeout(resolve, 200))
const ticker = setInterval(() => {
  const id = `m${sent++}`
  sentAt.set(id, performance.now())
  monitor.send(JSON.stringify({ id, room: 'monitor', type: 'chat.message', payload: { text: id } }))
}, 100)

console.log(`abuse run: ${seconds} s of mixed floods against the example app on 127.0.0.1:${port}${hasTaskset ? ' (server on core 0, floods on core 1)' : ''}`)
const flood = child(here('./abuse-flood.ts'), [String(port), String(seconds * 1000), KEY], 1)
const { counts } = await reply<{ counts: Record<string, number> }>(flood, (m) => m.counts !== undefined, (seconds + 30) * 1000)
clearInterval(ticker)
await new Promise((resolve) => setTimeout(resolve, 2000)) // the last monitor messages arrive

const metricsResponse = await fetch(`${base}/metrics`).catch(() => null)
const metricsText = metricsResponse?.ok === true ? await metricsResponse.text() : ''
const rejections: Record<string, number> = {}
for (const match of metricsText.matchAll(/^vix_limit_rejections_total\{limit="([a-z_]+)"\} (\d+)/gm)) rejections[match[1]] = Number(match[2])
const errors: Record<string, number> = {}
for (const match of metricsText.matchAll(/^vix_ws_errors_total\{reason="([a-z_]+)"\} (\d+)/gm)) errors[match[1]] = Number(match[2])
const fresh = await new Promise<boolean>((resolve) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  ws.once('open', () => { ws.close(); resolve(true) })
  ws.once('error', () => resolve(false))
})
const memory = await reply<{ peakRss: number, rss: number, sessions: number }>((server.send({ ask: 'rss' }), server), (m) => m.peakRss !== undefined)
const up = metricsResponse?.ok === true && fresh
monitor.close()
server.send({ ask: 'stop' })

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0)
const result = {
  seconds,
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${mib(os.totalmem())} MiB, Node ${process.version}`,
  monitor: { sent, acked, delivered, lost: sent - delivered, closed: monitorClosed, worstAckMs: Math.round(worstAckMs) },
  server: { up, peakRssMiB: Number(mib(memory.peakRss)), rssAfterMiB: Number(mib(memory.rss)), sessionsAfter: memory.sessions },
  rejections,
  errors,
  flood: counts
}
console.log('\n| monitor sent | delivered | lost | worst ack | server up | peak RSS |\n|---|---|---|---|---|---|')
console.log(`| ${sent} | ${delivered} | ${sent - delivered} | ${result.monitor.worstAckMs} ms | ${up ? 'yes' : 'NO'} | ${result.server.peakRssMiB} MiB |`)
console.log('\n| limit | rejections |\n|---|---|')
for (const [limit, n] of Object.entries(rejections)) if (n > 0) console.log(`| ${limit} | ${n} |`)
console.log('\n| flood | count |\n|---|---|')
for (const [what, n] of Object.entries(counts).sort()) console.log(`| ${what} | ${n} |`)
console.log(`\nmachine: ${result.machine}`)
mkdirSync(here('./results'), { recursive: true })
writeFileSync(here('./results/abuse.json'), JSON.stringify(result, null, 2))
if (!up || sent - delivered !== 0) process.exitCode = 1
