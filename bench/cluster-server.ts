// One server node for bench/cluster.ts, in its own process (pinned by the
// parent). argv[2] picks the system; REDIS_URL, BENCH_PREFIX, DATABASE_URL and
// BENCH_SCHEMA say where Redis and PostgreSQL are. It reports its port over
// IPC, and answers { cmd: 'cpu' } with process.cpuUsage().
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { Server as SocketIOServer } from 'socket.io'
import { createAdapter } from '@socket.io/redis-adapter'
import vixRealtime from '../plugins/index.js'

const system = process.argv[2]
const redis = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = process.env.BENCH_PREFIX ?? 'vixbench:'

async function start (): Promise<number> {
  const app = Fastify()
  const common = { relayTypes: ['chat.message'], docs: false as const, metrics: false as const, longPolling: false as const }
  if (system === 'vix') {
    await app.register(vixRealtime, common)
  } else if (system === 'vix+redis') {
    await app.register(vixRealtime, { ...common, broker: { redis, prefix } })
  } else if (system === 'vix+redis+pg') {
    await app.register(vixRealtime, { ...common, broker: { redis, prefix }, store: { postgres: process.env.DATABASE_URL as string, schema: process.env.BENCH_SCHEMA } })
  } else if (system === 'socket.io+redis') {
    const pub = new Redis(redis)
    const sub = pub.duplicate()
    const io = new SocketIOServer(app.server, { transports: ['websocket'], serveClient: false, adapter: createAdapter(pub, sub, { key: `${prefix}sio` }) })
    io.on('connection', (socket) => {
      socket.on('room.join', (room: string, ack: () => void) => { socket.join(room) as unknown; ack() })
      socket.on('chat.message', (msg: { room: string }) => { io.to(msg.room).emit('chat.message', msg) })
    })
  } else {
    throw new Error(`unknown system ${system}`)
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as { port: number }).port
}

const port = await start()
process.send?.({ port })
process.on('message', (message: { cmd?: string }) => {
  if (message.cmd === 'cpu') process.send?.({ cpu: process.cpuUsage() })
})
process.on('disconnect', () => process.exit(0))
