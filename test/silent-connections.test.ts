// app.close() is not held by connections that never sent a request
// (lib/silent-connections.ts): Node's server.close() leaves them open.
import t from 'tap'
import Fastify from 'fastify'
import { connect as tcpConnect, type Socket } from 'node:net'
import vixRealtime from '../plugins/index.js'
import { VixClient } from '../lib/client/index.js'
import { silentConnections } from '../lib/silent-connections.js'
import { connect } from './helpers/ws-client.js'

/** `app.close()`, or a rejection once it took longer than `ms` (it hung). */
async function closeWithin (app: { close: () => Promise<unknown> }, ms: number): Promise<number> {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`app.close() still waiting after ${ms} ms`)) }, ms) })
  try {
    await Promise.race([app.close(), hung])
    return Date.now() - started
  } finally {
    clearTimeout(timer)
  }
}

async function listening (): Promise<{ app: Awaited<ReturnType<typeof Fastify>>, port: number }> {
  const app = Fastify()
  await app.register(vixRealtime, { docs: false, metrics: false, shutdownTimeout: 1000 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as { port: number }).port }
}

async function silentSocket (port: number): Promise<Socket> {
  const socket = tcpConnect(port, '127.0.0.1')
  socket.on('error', () => {})
  await new Promise((resolve) => socket.once('connect', resolve))
  return socket
}

t.test('a connection that never sent a byte does not hold app.close(); a WebSocket is closed as going away, not cut', async (t) => {
  const { app, port } = await listening()
  const silent = await silentSocket(port)
  const closed = new Promise((resolve) => silent.once('close', resolve))
  const ws = await connect(app, '/ws')
  await ws.join('general')
  const elapsed = await closeWithin(app, 5000)
  await closed
  t.ok(elapsed < 3000, `app.close() took ${elapsed} ms`)
  t.ok(ws.frames.some((frame: any) => frame.type === 'server.going_away'), 'the WebSocket, which had spoken, was told the server is going away first')
})

t.test('a long-polling client that stops mid-poll does not hold app.close()', async (t) => {
  const { app, port } = await listening()
  const client = new VixClient({ url: `ws://127.0.0.1:${port}/ws`, WebSocket: null, transports: ['polling'], longPolling: { wait: 2000 } })
  await client.connect()
  await client.join('general')
  await new Promise((resolve) => setTimeout(resolve, 200))
  client.close()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const elapsed = await closeWithin(app, 5000)
  t.ok(elapsed < 3000, `app.close() took ${elapsed} ms`)
})

t.test('only silent connections are closed, and one tracker serves a server however many times it is asked', async (t) => {
  const app = Fastify()
  app.get('/', async () => 'ok')
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const port = (app.server.address() as { port: number }).port
  const tracker = silentConnections(app.server)
  t.equal(silentConnections(app.server), tracker, 'the same tracker')
  const quiet = await silentSocket(port)
  const spoken = await silentSocket(port)
  const answered = new Promise((resolve) => spoken.once('data', resolve))
  spoken.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await answered
  const quietClosed = new Promise((resolve) => quiet.once('close', resolve))
  t.equal(tracker.close(), 1, 'one connection closed')
  await quietClosed
  t.notOk(spoken.destroyed, 'the connection that sent a request is left to the server')
  spoken.destroy()
})
