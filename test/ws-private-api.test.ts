import t from 'tap'
import { createRequire } from 'node:module'
import * as ws from 'ws'
import { PreparedFrame } from '../lib/prepared-frame.js'
import { textFrame } from '../lib/websocket/text-frame.js'
import { build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'

// The fast path (lib/websocket/transport.ts, lib/prepared-frame.ts) uses parts
// of ws that are not its public API: `Sender.frame`, `websocket._sender.sendFrame`
// and `websocket._socket`. package.json pins (as a peer: one copy, shared with @fastify/websocket) the ws range these were tested
// with; this test fails when an installed ws changes any of them.
const require = createRequire(import.meta.url)
const installed: string = require('ws/package.json').version
const pinned: string = require('../package.json').peerDependencies.ws

t.test('the installed ws is in the pinned, tested range', async (t) => {
  const [major, minor] = installed.split('.').map(Number)
  t.match(pinned, /^~8\.\d+\.\d+$/, 'ws is pinned to one minor version')
  const pinnedMinor = Number(pinned.slice(1).split('.')[1])
  t.equal(major, 8)
  t.equal(minor, pinnedMinor, `ws ${installed} is the tested minor (${pinned})`)
})

t.test('Sender.frame builds an unmasked text frame as header + payload', async (t) => {
  const Sender = (ws as any).Sender
  t.type(Sender?.frame, 'function')
  const small = new PreparedFrame('{"a":1}')
  t.same([...small.wsFrame], [0x81, 7, ...Buffer.from('{"a":1}')], 'FIN + text opcode, 7-byte length, payload')
  const text = 'é'.repeat(100)
  const medium = new PreparedFrame(text)
  t.same([...medium.wsFrame.subarray(0, 4)], [0x81, 126, 0, 200], '16-bit extended length, in bytes not characters')
  t.equal(medium.wsFrame.subarray(4).toString(), text)
  t.equal(medium.wsFrame, medium.wsFrame, 'built once')
})

t.test('textFrame is byte for byte what Sender.frame makes, in one buffer, at every header size', async (t) => {
  const Sender = (ws as any).Sender
  const options = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }
  for (const text of ['', 'a', 'x'.repeat(125), 'x'.repeat(126), 'é'.repeat(63), 'x'.repeat(65_535), 'x'.repeat(65_536), '€'.repeat(30_000)]) {
    const bytes = Buffer.from(text)
    const expected = Buffer.concat(Sender.frame(bytes, options))
    t.ok(textFrame(text).equals(expected), `${bytes.length} bytes: ${expected.subarray(0, 2).toString('hex')}…`)
  }
})

t.test('a server websocket has _sender.sendFrame and a corkable _socket, and a frame written there arrives', async (t) => {
  const app = await build(t)
  const client = await connect(app)
  const server = [...(app as any).websocketServer.clients][0]
  t.type(server._sender?.sendFrame, 'function')
  t.type(server._socket?.cork, 'function')
  t.type(server._socket?.uncork, 'function')
  t.type(server._socket?._writableState?.length, 'number', 'bufferedAmount reads the socket write queue')
  server._sender.sendFrame([new PreparedFrame('{"kind":"event","type":"raw"}').wsFrame])
  t.match(await client.waitFor((f) => f.type === 'raw'), { kind: 'event' })
  const long = 'é'.repeat(40_000)
  server._sender.sendFrame([textFrame(JSON.stringify({ kind: 'event', type: 'long', payload: { long } }))])
  t.equal((await client.waitFor((f) => f.type === 'long')).payload.long, long, 'a text frame of 80,000 bytes arrives whole')
})
