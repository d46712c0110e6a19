// One server for bench/fanout.ts, started in its own process so that the
// server and the load generator each get a core. argv[2] picks the system.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import { Server as SocketIOServer } from 'socket.io'
import type { WebSocket } from 'ws'
import vixRealtime from '../plugins/index.js'

const system = process.argv[2]

async function start (): Promise<number> {
  const app = Fastify()
  if (system === 'vix') {
    await app.register(vixRealtime, { relayTypes: ['chat.message'] })
  } else if (system === 'vix+sqlite') {
    // Every relayed message is stored (group commit) before it is fanned out and acked.
    const dir = mkdtempSync(join(tmpdir(), 'vix-bench-fanout-'))
    await app.register(vixRealtime, { relayTypes: ['chat.message'], store: { path: join(dir, 'messages.db') } })
  } else if (system === 'fastify-websocket') {
    // The hand-rolled baseline: rooms as a Map of Sets, JSON in, JSON out, no validation.
    const rooms = new Map<string, Set<WebSocket>>()
    await app.register(websocket)
    app.get('/ws', { websocket: true }, (socket) => {
      socket.on('message', (data) => {
        const msg = JSON.parse(data.toString())
        if (msg.type === 'room.join') {
          let set = rooms.get(msg.payload.room)
          if (set === undefined) rooms.set(msg.payload.room, set = new Set())
          set.add(socket)
          socket.send(JSON.stringify({ kind: 'ack', type: 'room.join', room: msg.payload.room }))
          socket.on('close', () => set?.delete(socket))
        } else {
          const out = JSON.stringify({ ...msg, kind: 'event', ts: new Date().toISOString() })
          for (const peer of rooms.get(msg.room) ?? []) peer.send(out)
        }
      })
    })
  } else if (system === 'socket.io') {
    const io = new SocketIOServer(app.server, { transports: ['websocket'], serveClient: false })
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
process.on('disconnect', () => process.exit(0))
