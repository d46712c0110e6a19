/**
 * The server's own part of a request/reply round trip, without sockets: from
 * the hub's `receive` (what the WebSocket 'message' listener calls) to the
 * transport's `send` (the socket write), for a request type (the reply in the
 * ack) and for the typed echo of bench/request-reply.ts (its handler sends an
 * ack, then the dispatcher acks the id). One process, no I/O: what is left is
 * the per-request work of lib/hub (decode, validation, dispatch, reply cache,
 * framing). Reported: ns per request, median of rounds, and what a
 * NODE_ENV=production server does (reply validation off) unless it is set
 * otherwise.
 *
 *   NODE_ENV=production npx tsx bench/request-reply-hub.ts [--requests 200000] [--rounds 7]
 */
import { parseArgs } from 'node:util'
import { Type } from '@sinclair/typebox'
import { ackFrame } from '../lib/frames.js'
import { Hub } from '../lib/hub/hub.js'
import type { Transport } from '../lib/session.js'

const { values: args } = parseArgs({ options: { requests: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '7' } } })
const requests = Number(args.requests)
const rounds = Number(args.rounds)
const Payload = Type.Object({ n: Type.Number() })
const silent = { trace () {}, debug () {}, info () {}, warn () {}, error () {}, fatal () {}, child () { return silent } }

/** A transport that keeps only the count of what it was given. */
class CountingTransport implements Transport {
  readonly name = 'bench'
  sent = 0
  bytes = 0
  send (data: string | Buffer): void { this.sent++; this.bytes += data.length }
  bufferedAmount (): number { return 0 }
  close (): void {}
  terminate (): void {}
}

function hubOf (system: 'request' | 'echo'): Hub {
  const hub = new Hub({ logger: silent as any })
  if (system === 'request') hub.on('rr', { schema: Payload, reply: Type.Object({ n: Type.Number() }) }, (_session, msg) => ({ n: msg.payload.n }))
  else hub.on('rr', { schema: Payload }, (session, msg) => { session.send(ackFrame('rr', { id: msg.id }, { n: msg.payload.n })) })
  return hub
}

/** The end of a turn of the event loop, as between two socket reads: the hub's per-turn work (uncork, inbox turn) runs. */
const nextTurn = async (): Promise<void> => { await new Promise((resolve) => { process.nextTick(resolve) }) }

/** ns per request of `count` requests from one session, one per turn, each a new id (as a client sends them). */
async function run (system: 'request' | 'echo', count: number): Promise<{ ns: number, frames: number }> {
  const hub = hubOf(system)
  const transport = new CountingTransport()
  const session = hub.openSession(transport, undefined)
  const frames = Array.from({ length: count }, (_, i) => `{"id":"r${i}","type":"rr","payload":{"n":${i}}}`)
  const start = process.hrtime.bigint()
  for (const frame of frames) {
    hub.receive(session, frame)
    await nextTurn()
  }
  const ns = Number(process.hrtime.bigint() - start) / count
  if (transport.sent < count) throw new Error(`${system}: ${transport.sent} frames sent for ${count} requests`)
  return { ns, frames: transport.sent / count }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const results = { request: [] as number[], echo: [] as number[] }
const framesPer = { request: 0, echo: 0 }
for (let round = 0; round < rounds; round++) {
  for (const system of round % 2 === 0 ? ['request', 'echo'] as const : ['echo', 'request'] as const) {
    const { ns, frames } = await run(system, requests)
    results[system].push(ns)
    framesPer[system] = frames
  }
}
console.log(`Server path, hub.receive → transport.send, ${requests} requests × ${rounds} rounds, NODE_ENV=${process.env.NODE_ENV ?? '(unset)'}`)
console.log('| system | ns per request (median) | frames sent per request |')
console.log('|---|---:|---:|')
for (const system of ['request', 'echo'] as const) console.log(`| ${system} | ${Math.round(median(results[system]))} | ${framesPer[system]} |`)
