import t from 'tap'
import type { Socket } from 'node:net'
import { Type } from '@sinclair/typebox'
import type { Envelope } from '../lib/broker/types.js'
import { ackFrame } from '../lib/frames.js'
import { build } from './helpers/app.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { hubOf } from '../lib/hub/realtime.js'

const ids = (client: TestClient, type = 'burst'): number[] =>
  client.frames.filter((f: any) => f.kind === 'event' && f.type === type).map((f: any) => f.payload.i)

/** A live room message as the pipeline hands it to stage 3. */
const envelope = (app: any, i: number): Envelope => ({
  node: hubOf(app.realtime).options.nodeId,
  room: 'r',
  message: { id: `b${i}`, kind: 'event', room: 'r', type: 'burst', ts: '', payload: { i } }
})

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

/** The server side TCP socket of the session opened last, with its writes counted. */
function countWrites (app: any): { writes: () => number } {
  const socket = [...app.websocketServer.clients].at(-1)._socket as Socket & { _write: Function, _writev: Function }
  let writes = 0
  const write = socket._write
  const writev = socket._writev
  socket._write = function (...args: unknown[]) { writes++; return write.apply(this, args) }
  socket._writev = function (...args: unknown[]) { writes++; return writev.apply(this, args) }
  return { writes: () => writes }
}

t.test('frames queued for a socket in one tick leave in one write, in order, each once', async (t) => {
  const app = await build(t)
  const clients = [await connect(app), await connect(app), await connect(app)]
  for (const c of clients) await c.join('r')
  const last = countWrites(app)
  for (let i = 0; i < 300; i++) app.realtime.publish({ room: 'r', type: 'burst', payload: { i } })
  for (const c of clients) await c.waitForCount((f) => f.type === 'burst', 300)
  for (const c of clients) t.same(ids(c), range(300), 'every frame, in publish order, none twice')
  t.equal(last.writes(), 1, '300 frames to one socket in one tick: one socket write')

  // Ticks apart, the frames of each tick leave together and in order after the previous ones.
  for (let i = 300; i < 310; i++) app.realtime.publish({ room: 'r', type: 'burst', payload: { i } })
  await new Promise((resolve) => setImmediate(resolve))
  for (let i = 310; i < 320; i++) app.realtime.publish({ room: 'r', type: 'burst', payload: { i } })
  await clients[2].waitForCount((f) => f.type === 'burst', 320)
  t.same(ids(clients[2]), range(320))
  t.equal(last.writes(), 3, 'one more write per tick')
})

t.test('a socket closed mid-burst gets a prefix of it, then its close; the others get all of it once', async (t) => {
  const app = await build(t)
  const leaving = await connect(app)
  const staying = [await connect(app), await connect(app)]
  await leaving.join('r')
  for (const c of staying) await c.join('r')
  const session = [...app.realtime.sessions.values()][0]
  // deliverLocal is synchronous: the close lands exactly between frames 119 and 120 of one tick.
  for (let i = 0; i < 200; i++) {
    if (i === 120) session.close(4000, 'bye')
    hubOf(app.realtime).deliverLocal(envelope(app, i))
  }
  const closed = await leaving.closed
  t.equal(closed.code, 4000, 'the close frame came after the frames queued before it')
  t.same(ids(leaving), range(120), 'the frames before the close, in order, none lost, none twice')
  for (const c of staying) {
    await c.waitForCount((f) => f.type === 'burst', 200)
    t.same(ids(c), range(200))
  }
})

t.test('a peer vanishing mid-burst loses nothing for the others and takes down nothing', async (t) => {
  const app = await build(t)
  const gone = await connect(app)
  const staying = await connect(app)
  await gone.join('r')
  await staying.join('r')
  for (let i = 0; i < 200; i++) {
    if (i === 50) gone.ws.terminate()
    app.realtime.publish({ room: 'r', type: 'burst', payload: { i } })
    if (i % 40 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await staying.waitForCount((f) => f.type === 'burst', 200)
  t.same(ids(staying), range(200))
  await gone.closed
  t.ok(new Set(ids(gone)).size === ids(gone).length, 'what the vanished peer got, it got once')
})

t.test('with permessage-deflate on, ws compresses every frame (no pre-built frame) and order holds across direct sends and fan-out', async (t) => {
  const app = await build(t, { websocket: { perMessageDeflate: true } })
  const deflating = await connect(app, '/ws', { perMessageDeflate: true })
  const plain = await connect(app, '/ws', { perMessageDeflate: false })
  t.match(deflating.ws.extensions, /permessage-deflate/)
  t.equal(plain.ws.extensions, '')
  await deflating.join('r')
  await plain.join('r')
  const sessions = [...app.realtime.sessions.values()]
  // A large direct send is compressed asynchronously by ws; a pre-built frame
  // written past it would overtake it. Every fan-out frame must queue behind it.
  const big = 'x'.repeat(4000)
  for (let i = 0; i < 50; i++) {
    for (const session of sessions) session.send({ kind: 'event', type: 'direct', payload: { i, big } } as any)
    hubOf(app.realtime).deliverLocal(envelope(app, i))
  }
  for (const c of [deflating, plain]) {
    await c.waitForCount((f) => f.type === 'burst', 50)
    const order = c.frames.filter((f: any) => f.type === 'burst' || f.type === 'direct').map((f: any) => `${f.type}${f.payload.i}`)
    t.same(order, range(50).flatMap((i) => [`direct${i}`, `burst${i}`]), 'frames leave in the order they were sent')
  }
})

t.test('1000 relays in one read do not block the loop: an echo on another socket is answered before the burst ends', async (t) => {
  const app = await build(t, { relayTypes: ['m'] })
  app.realtime.on('echo', { schema: Type.Object({ n: Type.Number() }) }, (session, msg) => {
    session.send(ackFrame('echo', {}, { n: msg.payload.n }))
  })
  const publisher = await connect(app)
  const members = [await connect(app), await connect(app), await connect(app)]
  const echo = await connect(app)
  await publisher.join('r')
  for (const c of members) await c.join('r')
  await echo.join('r')
  // One socket write of 1000 small relay frames (about 50 KB: one read on the server), then the echo.
  const raw = (publisher.ws as any)._socket as Socket
  raw.cork()
  for (let i = 0; i < 1000; i++) publisher.send(`{"room":"r","type":"m","payload":{"i":${i}}}`)
  raw.uncork()
  await new Promise((resolve) => setImmediate(resolve))
  echo.send({ type: 'echo', payload: { n: 7 } })
  await echo.waitForCount((f) => f.type === 'm', 1000, 10_000)
  const answered = echo.frames.findIndex((f: any) => f.type === 'echo')
  const lastDelivery = echo.frames.findLastIndex((f: any) => f.type === 'm')
  t.ok(answered !== -1 && answered < lastDelivery, `the echo answer (frame ${answered}) came before the burst's last delivery (frame ${lastDelivery})`)
  t.same(ids(echo, 'm'), range(1000), 'the burst itself: all of it, in order')
  for (const c of members) {
    await c.waitForCount((f) => f.type === 'm', 1000, 10_000)
    t.same(ids(c, 'm'), range(1000))
  }
})
