// One server of bench/suite.ts, in its own process (pinned to core 0 by the
// suite). argv[2] picks the system:
//   vix, vix-sqlite   vix-realtime (relay + typed echo), without / with its SQLite store
//   ws-loop           raw ws: every socket in one room; a publish is framed once
//                     (WebSocket.Sender.frame) and written to each socket (_sender.sendFrame)
//   ws-batch10        the same loop, but ten frames concatenated per socket write
//   fastify-ws        bare @fastify/websocket: JSON.parse, JSON.stringify, send
//   socket.io         Socket.IO 4, websocket transport only, io.to(room).emit
//   socket.io-polling Socket.IO 4, long-polling transport only (the SSE scenario's reference)
// Every raw socket is put in the room when it connects (vix clients send room.join;
// the vix server also streams SSE at /ws/sse, `?rooms=bench` joins at open).
//
// IPC in: { id, cmd: 'cpu' } -> { id, cpu }; { id, cmd: 'mem' } -> { id, heap, rss } after a full GC;
// { id, cmd: 'burst', count, perTick } -> publishes `count` ~100 B room
// messages, `perTick` per turn of the event loop, and answers once they are
// all handed to the sockets. Sends { port } once listening; exits with its parent.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import { Type } from '@sinclair/typebox'
import { Server as SocketIOServer } from 'socket.io'
import * as wsModule from 'ws'
import type WebSocket from 'ws'
import vixRealtime, { ackFrame } from '../plugins/index.js'

const system = process.argv[2]
const ROOM = 'bench'
const TEXT = 'x'.repeat(80)
const frameOf = (wsModule as any).Sender.frame as (data: Buffer, options: object) => Buffer[]
const FRAME = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }
const pingInterval = Number(process.env.BENCH_PING_MS ?? 30_000)

const app = Fastify()
let publish: (i: number) => unknown = () => {}
/** For ws-batch10: frames waiting to be written ten at a time. */
let flushBatch: () => void = () => {}

if (system === 'vix' || system === 'vix-sqlite') {
  const store = system === 'vix-sqlite' ? { path: join(mkdtempSync(join(tmpdir(), 'vix-bench-')), 'messages.db') } : undefined
  await app.register(vixRealtime, {
    relayTypes: ['chat.message'],
    docs: false,
    metrics: false,
    longPolling: false,
    websocket: { pingInterval, idleTimeout: pingInterval * 3 },
    ...(store === undefined ? {} : { store })
  } as any)
  app.realtime.on('echo', { schema: Type.Object({ n: Type.Number() }) }, (session, msg) => {
    session.send(ackFrame('echo', {}, { n: msg.payload.n }))
  })
  publish = (i) => app.realtime.publish({ room: ROOM, type: 'chat.message', payload: { text: TEXT, i } })
} else if (system === 'ws-loop' || system === 'ws-batch10' || system === 'fastify-ws') {
  const room = new Set<WebSocket>()
  await app.register(websocket, { options: { perMessageDeflate: false } })
  app.get('/ws', { websocket: true }, (socket) => {
    room.add(socket)
    socket.on('close', () => room.delete(socket))
    socket.on('message', (data) => {
      const msg = JSON.parse(data.toString())
      if (msg.type === 'echo') socket.send(JSON.stringify({ kind: 'ack', type: 'echo', ts: new Date().toISOString(), payload: { n: msg.payload.n } }))
      else if (msg.type === 'room.join') socket.send(JSON.stringify({ kind: 'ack', type: 'room.join', room: ROOM }))
    })
  })
  const message = (i: number): Buffer => Buffer.from(JSON.stringify({ id: `m${i}`, kind: 'event', room: ROOM, type: 'chat.message', ts: new Date().toISOString(), payload: { text: TEXT, i } }))
  if (system === 'ws-batch10') {
    let pending: Buffer[] = []
    flushBatch = () => {
      if (pending.length === 0) return
      const data = Buffer.concat(pending)
      pending = []
      for (const socket of room) (socket as any)._sender.sendFrame([data])
    }
    publish = (i) => {
      pending.push(Buffer.concat(frameOf(message(i), FRAME)))
      if (pending.length === 10) flushBatch()
    }
  } else if (system === 'ws-loop') {
    publish = (i) => {
      const frame = frameOf(message(i), FRAME)
      for (const socket of room) (socket as any)._sender.sendFrame(frame)
    }
  } else {
    publish = (i) => {
      const data = message(i).toString()
      for (const socket of room) socket.send(data)
    }
  }
} else if (system === 'socket.io' || system === 'socket.io-polling') {
  const io = new SocketIOServer(app.server, { transports: [system === 'socket.io' ? 'websocket' : 'polling'], serveClient: false, pingInterval, pingTimeout: pingInterval * 2 })
  io.on('connection', (socket) => {
    socket.join(ROOM) as unknown
    socket.on('echo', (payload: { n: number }) => { socket.emit('echo', { n: payload.n }) })
  })
  publish = (i) => { io.to(ROOM).emit('chat.message', { id: `m${i}`, room: ROOM, ts: new Date().toISOString(), payload: { text: TEXT, i } }) }
} else {
  throw new Error(`unknown system ${system}`)
}

await app.listen({ host: '127.0.0.1', port: 0 })

async function burst (count: number, perTick: number): Promise<void> {
  let sent = 0
  while (sent < count) {
    const pending: unknown[] = []
    for (let k = 0; k < perTick && sent < count; k++) pending.push(publish(sent++))
    flushBatch()
    await Promise.all(pending)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

process.on('message', (m: { id: number, cmd: string, count?: number, perTick?: number }) => {
  if (m.cmd === 'cpu') process.send?.({ id: m.id, cpu: process.cpuUsage() })
  else if (m.cmd === 'mem') {
    for (let i = 0; i < 3; i++) (globalThis as any).gc?.()
    const usage = process.memoryUsage()
    process.send?.({ id: m.id, heap: usage.heapUsed, rss: usage.rss })
  } else if (m.cmd === 'burst') {
    burst(m.count ?? 1, m.perTick ?? 1).then(() => process.send?.({ id: m.id, done: true }), (error: Error) => process.send?.({ id: m.id, error: error.message }))
  }
})
process.on('disconnect', () => process.exit(0))
process.send?.({ port: (app.server.address() as { port: number }).port })
