// Client cost of an acknowledged publish (send to a room, wait for the ack):
// VixClient against a hand-rolled ws client speaking the same protocol (an id
// → resolver map, nothing else) on the same vix server, and socket.io-client's
// emitWithAck against a Socket.IO server. Servers run in their own process.
// Run: npx tsx bench/client.ts [roundTrips] [pipelined]
import { fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { io as ioClient } from 'socket.io-client'
import { VixClient } from '../lib/client/index.js'

const roundTrips = Number(process.argv[2] ?? 3000)
const pipelined = Number(process.argv[3] ?? 30000)
const window = 100
const serverFile = fileURLToPath(new URL('./client-server.ts', import.meta.url))

interface Publisher { publish: (i: number) => Promise<unknown>, close: () => void }

async function startServer (system: string): Promise<{ port: number, stop: () => void }> {
  const child = fork(serverFile, [system], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve) => child.once('message', (m: any) => resolve(m.port)))
  return { port, stop: () => child.kill() }
}

async function vixClient (port: number): Promise<Publisher> {
  const client = new VixClient({ url: `ws://127.0.0.1:${port}/ws`, WebSocket, longPolling: false })
  await client.connect()
  await client.join('bench')
  return { publish: async (i) => await client.publish('bench', 'chat.message', { text: 'hello, room', i }), close: () => client.close() }
}

/** The reference: the same protocol with nothing but an id → resolver map. */
async function rawClient (port: number): Promise<Publisher> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  await new Promise((resolve) => ws.once('open', resolve))
  const waiting = new Map<string, () => void>()
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString())
    if (frame.kind === 'ack' && frame.id !== undefined) {
      waiting.get(frame.id)?.()
      waiting.delete(frame.id)
    }
  })
  const request = async (frame: Record<string, unknown>): Promise<void> => {
    const id = randomUUID()
    await new Promise<void>((resolve) => {
      waiting.set(id, resolve)
      ws.send(JSON.stringify({ ...frame, id }))
    })
  }
  await request({ type: 'room.join', payload: { room: 'bench' } })
  return { publish: async (i) => { await request({ room: 'bench', type: 'chat.message', payload: { text: 'hello, room', i } }) }, close: () => ws.close() }
}

async function socketIoClient (port: number): Promise<Publisher> {
  const socket = ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'] })
  await new Promise((resolve) => socket.once('connect', () => resolve(null)))
  await socket.emitWithAck('room.join', 'bench')
  return {
    publish: async (i) => await socket.emitWithAck('chat.message', { room: 'bench', type: 'chat.message', payload: { text: 'hello, room', i } }),
    close: () => socket.close()
  }
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

async function run (name: string, system: string, make: (port: number) => Promise<Publisher>): Promise<Record<string, number | string>> {
  const server = await startServer(system)
  const publisher = await make(server.port)
  for (let i = 0; i < 500; i++) await publisher.publish(i) // warm-up
  const latencies: number[] = []
  for (let i = 0; i < roundTrips; i++) {
    const start = process.hrtime.bigint()
    await publisher.publish(i)
    latencies.push(Number(process.hrtime.bigint() - start) / 1000)
  }
  latencies.sort((a, b) => a - b)
  const started = process.hrtime.bigint()
  let next = 0
  const lane = async (): Promise<void> => { while (next < pipelined) await publisher.publish(next++) }
  await Promise.all(Array.from({ length: window }, lane))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  publisher.close()
  server.stop()
  return { name, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), acksPerSec: pipelined / seconds }
}

const results = [
  await run('hand-rolled ws client (reference)', 'vix', rawClient),
  await run('VixClient', 'vix', vixClient),
  await run('socket.io-client emitWithAck', 'socket.io', socketIoClient)
]
const reference = results[0].acksPerSec as number
console.log(`\nAcked publish to a room: ${roundTrips} sequential round trips, then ${pipelined} with ${window} in flight (${os.cpus().length} cores, Node ${process.version})\n`)
console.log('| client | p50 µs | p99 µs | acks/s (pipelined) | vs reference |')
console.log('|---|---:|---:|---:|---:|')
for (const r of results) {
  console.log(`| ${r.name} | ${Math.round(r.p50 as number)} | ${Math.round(r.p99 as number)} | ${Math.round(r.acksPerSec as number)} | ${((r.acksPerSec as number) / reference).toFixed(2)}x |`)
}
process.exit(0)
