// Fan-out throughput: one publisher sends chat messages to a room of N
// subscribers; vix-realtime (without and with its SQLite store) against a
// hand-rolled @fastify/websocket room and Socket.IO, in one run, each server in
// its own process on 127.0.0.1.
// Run: npx tsx bench/fanout.ts [subscribers] [messages]
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import os from 'node:os'
import WebSocket from 'ws'
import { io as ioClient, type Socket } from 'socket.io-client'

const subscribers = Number(process.argv[2] ?? 50)
const messages = Number(process.argv[3] ?? 4000)
const window = 100 // messages in flight before the publisher waits for the slowest subscriber
const serverFile = fileURLToPath(new URL('./fanout-server.ts', import.meta.url))

interface Client { publish: (i: number) => void, received: () => number, close: () => void }

async function startServer (system: string): Promise<{ port: number, stop: () => void }> {
  const child = fork(serverFile, [system], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve) => child.once('message', (m: any) => resolve(m.port)))
  return { port, stop: () => child.kill() }
}

async function wsClient (port: number): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  let count = 0
  await new Promise((resolve) => ws.once('open', resolve))
  ws.send(JSON.stringify({ type: 'room.join', payload: { room: 'bench' } }))
  await new Promise<void>((resolve) => ws.once('message', () => resolve()))
  ws.on('message', () => { count++ })
  return {
    publish: (i) => ws.send(JSON.stringify({ room: 'bench', type: 'chat.message', payload: { text: 'hello, room', i } })),
    received: () => count,
    close: () => ws.close()
  }
}

async function socketIoClient (port: number): Promise<Client> {
  const socket: Socket = ioClient(`http://127.0.0.1:${port}`, { transports: ['websocket'] })
  let count = 0
  await new Promise((resolve) => socket.once('connect', () => resolve(null)))
  await new Promise<void>((resolve) => socket.emit('room.join', 'bench', () => resolve()))
  socket.on('chat.message', () => { count++ })
  return {
    publish: (i) => { socket.emit('chat.message', { room: 'bench', type: 'chat.message', payload: { text: 'hello, room', i } }) },
    received: () => count,
    close: () => socket.close()
  }
}

async function run (system: string): Promise<{ system: string, deliveriesPerSec: number, messagesPerSec: number }> {
  const server = await startServer(system)
  const make = system === 'socket.io' ? socketIoClient : wsClient
  const clients: Client[] = []
  for (let i = 0; i < subscribers; i++) clients.push(await make(server.port))
  const publisher = clients[0]
  const minReceived = (): number => Math.min(...clients.map((c) => c.received()))
  const warmup = 200
  const started = { t: 0n }
  for (let sent = 0; sent < warmup + messages;) {
    if (sent === warmup) {
      while (minReceived() < warmup) await new Promise((resolve) => setImmediate(resolve))
      started.t = process.hrtime.bigint()
    }
    if (sent - minReceived() < window) publisher.publish(sent++)
    else await new Promise((resolve) => setImmediate(resolve))
  }
  while (minReceived() < warmup + messages) await new Promise((resolve) => setImmediate(resolve))
  const seconds = Number(process.hrtime.bigint() - started.t) / 1e9
  for (const c of clients) c.close()
  server.stop()
  return { system, messagesPerSec: messages / seconds, deliveriesPerSec: (messages * subscribers) / seconds }
}

const results = []
for (const system of ['vix', 'vix+sqlite', 'fastify-websocket', 'socket.io']) results.push(await run(system))
const baseline = results[2].deliveriesPerSec
console.log(`\nFan-out: 1 publisher, ${subscribers} subscribers in one room, ${messages} messages (${os.cpus().length} cores, Node ${process.version})\n`)
console.log('| system | messages/s | deliveries/s | vs hand-rolled |')
console.log('|---|---:|---:|---:|')
for (const r of results) {
  console.log(`| ${r.system} | ${Math.round(r.messagesPerSec)} | ${Math.round(r.deliveriesPerSec)} | ${(r.deliveriesPerSec / baseline).toFixed(2)}x |`)
}
process.exit(0)
