import t, { type Test } from 'tap'
import { createRequire } from 'node:module'
import { connect as tcpConnect } from 'node:net'
import { deflateRawSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { build } from './helpers/app.js'
import { frame, rawUpgrade } from './helpers/raw.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import type { VixRealtimeOptions } from '../plugins/index.js'

const TEXT = 0x1
const CONTINUATION = 0x0
const PING = 0x9

interface Setup { app: FastifyInstance, port: number, witness: TestClient }

/** An app and a witness client in a room: after each abuse it must still get what is published. */
async function setup (t: Test, options: VixRealtimeOptions = {}): Promise<Setup> {
  const app = await build(t, { relayTypes: ['chat.message'], ...options })
  const witness = await connect(app)
  await witness.join('r')
  return { app, port: (app.server.address() as { port: number }).port, witness }
}

async function witnessServed (t: Test, { app, witness }: Setup, what: string): Promise<void> {
  const message = await app.realtime.publish({ room: 'r', type: 'chat.message', payload: { text: what } })
  await witness.waitFor((f) => f.id === message.id)
  t.pass(`the witness still receives (${what})`)
}

t.test('invalid UTF-8 in a text frame → 1007', async (t) => {
  const s = await setup(t)
  const raw = await rawUpgrade(s.port)
  raw.write(frame(TEXT, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))
  t.equal(await raw.closeCode(), 1007)
  await witnessServed(t, s, 'utf-8')
})

t.test('reserved bits set, an unmasked client frame, an oversized control frame → 1002', async (t) => {
  const s = await setup(t)
  const cases: Array<[string, Buffer]> = [
    ['RSV1 without permessage-deflate', frame(TEXT, Buffer.from('{}'), { rsv: 0b100 })],
    ['RSV2', frame(TEXT, Buffer.from('{}'), { rsv: 0b010 })],
    ['unmasked', frame(TEXT, Buffer.from('{}'), { mask: false })],
    ['a 126-byte ping', frame(PING, Buffer.alloc(126))],
    ['a fragmented ping', frame(PING, Buffer.from('x'), { fin: false })]
  ]
  for (const [name, bytes] of cases) {
    const raw = await rawUpgrade(s.port)
    raw.write(bytes)
    t.equal(await raw.closeCode(), 1002, name)
  }
  await witnessServed(t, s, 'protocol errors')
})

t.test('a flood of tiny fragments is closed with memory bounded: 1009 at maxMessageSize, or 1008 at ws\'s 16384 fragments', async (t) => {
  const s = await setup(t, { websocket: { maxMessageSize: 4096 } })
  const raw = await rawUpgrade(s.port)
  raw.write(frame(TEXT, Buffer.from('x'), { fin: false }))
  const fragment = frame(CONTINUATION, Buffer.from('x'), { fin: false })
  for (let i = 0; i < 10_000 && !raw.socket.destroyed; i++) raw.write(fragment)
  t.equal(await raw.closeCode(), 1009, 'the message grew past maxMessageSize')
  await witnessServed(t, s, 'after a fragment flood')

  // With the default 64 KiB, ws's own bound on fragments per message (16384) comes first; empty fragments count too.
  const big = await setup(t)
  for (const payload of [Buffer.from('x'), Buffer.alloc(0)]) {
    const flood = await rawUpgrade(big.port)
    flood.write(frame(TEXT, payload, { fin: false }))
    const before = process.memoryUsage().heapUsed
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => frame(CONTINUATION, payload, { fin: false })))
    for (let i = 0; i < 200 && flood.socket.writable; i++) flood.write(batch)
    t.equal(await flood.closeCode(), 1008, `${payload.length}-byte fragments: closed at the fragment bound`)
    const grown = (process.memoryUsage().heapUsed - before) / 1024 / 1024
    t.ok(grown < 64, `200000 fragments sent, memory bounded (heap +${grown.toFixed(1)} MiB)`)
  }
  await witnessServed(t, big, 'after 1-byte and empty fragment floods')
})

// Node's parser stops at 16 KiB of headers and Fastify's client error handler answers 431 (a 400 with a precise status).
t.test('an upgrade with thousands of headers is refused 431 while the server keeps serving', async (t) => {
  const s = await setup(t)
  const socket = tcpConnect({ host: '127.0.0.1', port: s.port })
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => { resolve() }))
  const headers = Array.from({ length: 5000 }, (_, i) => `X-Filler-${i}: ${'v'.repeat(10)}\r\n`).join('')
  socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${headers}\r\n`)
  await closed
  t.equal(answer.split('\r\n')[0], 'HTTP/1.1 431 Request Header Fields Too Large')
  t.equal(s.app.realtime.sessions.size, 1, 'no session for it')
  await witnessServed(t, s, 'after a header flood')
  const fresh = await connect(s.app)
  await fresh.join('r')
  t.pass('a new client connects')
})

t.test('with permessage-deflate, a small frame that inflates past maxMessageSize → 1009, memory bounded', async (t) => {
  const s = await setup(t, { websocket: { perMessageDeflate: true, maxMessageSize: 65536 } })
  const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 })
  t.ok(bomb.length < 100_000, `64 MiB of spaces deflate to ${bomb.length} bytes`)
  const before = process.memoryUsage().rss
  const raw = await rawUpgrade(s.port, '/ws', 'Sec-WebSocket-Extensions: permessage-deflate\r\n')
  raw.write(frame(TEXT, bomb.subarray(0, bomb.length - 4), { rsv: 0b100 }))
  t.equal(await raw.closeCode(), 1009)
  const grown = (process.memoryUsage().rss - before) / 1024 / 1024
  t.ok(grown < 48, `inflating stopped at the limit (RSS +${grown.toFixed(1)} MiB, not 64 MiB)`)
  await witnessServed(t, s, 'after a deflate bomb')
})

t.test('the installed ws is at least 8.21.1', async (t) => {
  const { version } = createRequire(import.meta.url)('ws/package.json') as { version: string }
  const [major, minor, patch] = version.split('.').map(Number)
  t.ok(major > 8 || (major === 8 && (minor > 21 || (minor === 21 && patch >= 1))), `ws ${version}`)
})
