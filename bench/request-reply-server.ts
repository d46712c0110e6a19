// One server of bench/request-reply.ts, in its own process (pinned to core 0 when taskset exists).
// argv[2] picks the system:
//   vix-request   vix-realtime request type: on('rr', { schema, reply }, handler) — the reply rides on the ack
//   vix-echo      vix-realtime typed echo without reply: on('rr', { schema }, handler) sends an ack frame itself,
//                 then the dispatcher acks the id as it does every handled frame with one: two frames per
//                 round trip, written together (one tick); the client takes the first
//   socket.io     Socket.IO 4 (websocket transport), socket.on('rr', (payload, callback) => callback(reply))
//   ws            a bare \`ws\` server on the same HTTP server, parsing each frame and answering an ack of the
//                 same id: the reference, what a round trip costs with nothing but the loopback, the wakeups
//                 and JSON in it
// BENCH_REPLY_CACHE=<n> gives vix's hub replyCache.size n (what the reply cache costs).
// IPC in: { id, cmd: 'cpu' } -> { id, cpu }. Sends { port } once listening; exits with its parent.
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { Server as SocketIOServer } from 'socket.io'
import { WebSocketServer } from 'ws'
import vixRealtime, { ackFrame } from '../plugins/index.js'

const system = process.argv[2]
const app = Fastify()
const Payload = Type.Object({ n: Type.Number() })

if (system === 'vix-request' || system === 'vix-echo') {
  await app.register(vixRealtime, { docs: false, metrics: false, longPolling: false, ...(process.env.BENCH_REPLY_CACHE === undefined ? {} : { replyCache: { size: Number(process.env.BENCH_REPLY_CACHE) } }) } as any)
  if (system === 'vix-request') {
    app.realtime.on('rr', { schema: Payload, reply: Type.Object({ n: Type.Number() }) }, (_session, msg) => ({ n: msg.payload.n }))
  } else {
    app.realtime.on('rr', { schema: Payload }, (session, msg) => { session.send(ackFrame('rr', { id: msg.id }, { n: msg.payload.n })) })
  }
} else if (system === 'socket.io') {
  const io = new SocketIOServer(app.server, { transports: ['websocket'], serveClient: false })
  io.on('connection', (socket) => {
    socket.on('rr', (payload: { n: number }, callback: (reply: { n: number }) => void) => { callback({ n: payload.n }) })
  })
} else if (system === 'ws') {
  const wss = new WebSocketServer({ server: app.server, path: '/ws' })
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { id: string, type: string, payload: { n: number } }
      socket.send(JSON.stringify({ kind: 'ack', type: frame.type, ts: new Date().toISOString(), payload: { reply: { n: frame.payload.n } }, id: frame.id }))
    })
  })
} else {
  throw new Error(`unknown system ${system}`)
}

await app.listen({ host: '127.0.0.1', port: 0 })
process.on('message', (m: { id: number, cmd: string }) => {
  if (m.cmd === 'cpu') process.send?.({ id: m.id, cpu: process.cpuUsage() })
})
process.on('disconnect', () => process.exit(0))
// An exit, not a kill: \`node --cpu-prof\` writes its profile then.
process.on('SIGTERM', () => process.exit(0))
process.send?.({ port: (app.server.address() as { port: number }).port })
