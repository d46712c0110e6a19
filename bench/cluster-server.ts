// One server node for bench/cluster.ts, in its own process (pinned by the
// parent). argv[2] picks the system; REDIS_URL, REDIS_CLUSTER (host:port seeds),
// NATS_URL, BENCH_PREFIX, DATABASE_URL and BENCH_SCHEMA say where Redis, the
// Redis Cluster, NATS and PostgreSQL are. It reports its port over
// IPC, and answers { cmd: 'cpu' } with process.cpuUsage().
import Fastify from 'fastify'
import { Cluster, Redis } from 'ioredis'
import { Server as SocketIOServer } from 'socket.io'
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter'
import vixRealtime from '../plugins/index.js'

const system = process.argv[2]
const redis = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = process.env.BENCH_PREFIX ?? 'vixbench:'
const seeds = (process.env.REDIS_CLUSTER ?? '').split(',').filter((seed) => seed !== '')
const nats = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const clusterNodes = seeds.map((seed) => ({ host: seed.split(':')[0], port: Number(seed.split(':')[1]) }))

/** Socket.IO's relay of the bench: join with an ack, re-emit a chat message to its room. */
function socketIo (app: ReturnType<typeof Fastify>, adapter: ReturnType<typeof createAdapter> | ReturnType<typeof createShardedAdapter>): void {
  const io = new SocketIOServer(app.server, { transports: ['websocket'], serveClient: false, adapter })
  io.on('connection', (socket) => {
    socket.on('room.join', (room: string, ack: () => void) => { socket.join(room) as unknown; ack() })
    socket.on('chat.message', (msg: { room: string }) => { io.to(msg.room).emit('chat.message', msg) })
  })
}

async function start (): Promise<number> {
  const app = Fastify()
  const common = { relayTypes: ['chat.message'], docs: false as const, metrics: false as const, longPolling: false as const }
  if (system === 'vix') {
    await app.register(vixRealtime, common)
  } else if (system === 'vix+redis') {
    await app.register(vixRealtime, { ...common, broker: { redis, prefix } })
  } else if (system === 'vix+redis+pg') {
    await app.register(vixRealtime, { ...common, broker: { redis, prefix }, store: { postgres: process.env.DATABASE_URL as string, schema: process.env.BENCH_SCHEMA } })
  } else if (system === 'vix+redis-cluster') {
    await app.register(vixRealtime, { ...common, broker: { redis: { cluster: seeds, sharded: true }, prefix } })
  } else if (system === 'vix+nats') {
    await app.register(vixRealtime, { ...common, broker: { nats, prefix: prefix.replace(/:/g, '.') } })
  } else if (system === 'socket.io+redis') {
    const pub = new Redis(redis)
    socketIo(app, createAdapter(pub, pub.duplicate(), { key: `${prefix}sio` }))
  } else if (system === 'socket.io+redis-sharded') {
    // Socket.IO's sharded adapter on the same cluster: SPUBLISH, and a channel per room (dynamic) as vix's.
    const pub = new Cluster(clusterNodes)
    const sub = new Cluster(clusterNodes, { shardedSubscribers: true })
    socketIo(app, createShardedAdapter(pub, sub, { channelPrefix: `${prefix}sio`, subscriptionMode: 'dynamic' }))
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
// Exiting on SIGTERM (the bench's kill) writes a --cpu-prof profile.
process.on('SIGTERM', () => process.exit(0))
