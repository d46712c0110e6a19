// The server for bench/client.ts, in its own process so the client under test
// and the server each get a core. argv[2]: 'vix' or 'socket.io' (acked room messages).
import Fastify from 'fastify'
import { Server as SocketIOServer } from 'socket.io'
import vixRealtime from '../plugins/index.js'

const system = process.argv[2]
const app = Fastify()
if (system === 'vix') {
  await app.register(vixRealtime, { relayTypes: ['chat.message'] })
} else {
  const io = new SocketIOServer(app.server, { transports: ['websocket'], serveClient: false })
  io.on('connection', (socket) => {
    socket.on('room.join', (room: string, ack: () => void) => { socket.join(room) as unknown; ack() })
    socket.on('chat.message', (msg: { room: string }, ack: (id: string) => void) => {
      io.to(msg.room).emit('chat.message', msg)
      ack('ok')
    })
  })
}
await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ port: (app.server.address() as { port: number }).port })
process.on('disconnect', () => process.exit(0))
