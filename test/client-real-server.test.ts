import t from 'tap'
import { join } from 'node:path'
import WebSocket from 'ws'
import { VixClient } from '../lib/client/index.js'
import { baseUrl, build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'

// The client's long-polling path against the real long-polling transport (its own
// tests use a fake poll server), and its replay against the real store.

t.test('without a WebSocket class the client long-polls the real server: join, publish, receive, ack', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const client = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket: undefined as any, transports: ['websocket', 'polling'], longPolling: { wait: 200 }, autoUnref: true })
  t.teardown(() => client.close())
  const received: any[] = []
  client.on('chat.message', (msg: any) => { received.push(msg) })
  await client.connect()
  t.equal(client.transport, 'long-polling')
  const ack = await client.join('general')
  t.match(ack, { room: 'general', recovered: false, replayed: 0 })

  const wsPeer = await connect(app)
  await wsPeer.join('general')
  await client.publish('general', 'chat.message', { text: 'from polling' })
  t.match(await wsPeer.waitFor((f) => f.kind === 'event'), { payload: { text: 'from polling' } })
  wsPeer.send({ type: 'chat.message', room: 'general', payload: { text: 'from ws' } })
  const deadline = Date.now() + 5000
  while (!received.some((m) => m.payload?.text === 'from ws') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(received.map((m) => m.payload.text), ['from polling', 'from ws'])
})

t.test('after the server drops the socket, the client rejoins with since and the store replays what it missed', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], store: { path: join(t.testdir(), 'messages.db') } })
  const client = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, longPolling: false, reconnect: { minDelay: 20, maxDelay: 50 }, autoUnref: true })
  t.teardown(() => client.close())
  const texts: string[] = []
  client.on('chat.message', (msg: any) => { texts.push(msg.payload.text) })
  await client.connect()
  await client.join('general')
  await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'one' } })
  const until = async (n: number): Promise<void> => {
    const deadline = Date.now() + 5000
    while (texts.length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await until(1)
  const rejoined = new Promise((resolve) => client.on('rejoined', resolve))
  for (const session of app.realtime.sessions.values()) session.transport.terminate()
  // Published while the client is away: only the store can bring these back.
  await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'two' } })
  await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'three' } })
  await rejoined
  await until(3)
  t.same(texts, ['one', 'two', 'three'], 'no gap, no duplicate, in order')
})
