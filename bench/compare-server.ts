// The server of bench/compare.ts: one per revision, in its own process (pinned
// to its own core), bundled by esbuild with `../plugins/index.js` pointed at
// that revision's tree. It uses only the public API that exists on both sides
// of the comparison: the umbrella plugin, `app.realtime.on` with a schema,
// `session.send` and `ackFrame`.
//
// IPC: it sends `{ port }` once listening; it answers `{ cmd: 'cpu', id }` with
// `{ id, cpu: process.cpuUsage() }`, so the parent can take the server's CPU
// time at both ends of a measured window. It exits when the parent goes away.
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import vixRealtime, { ackFrame } from '../plugins/index.js'

const app = Fastify()
// VIX_BENCH_LIMITS (JSON) turns hub `limits` on, to price them; a revision without the option ignores it.
const limits = process.env.VIX_BENCH_LIMITS === undefined ? {} : { limits: JSON.parse(process.env.VIX_BENCH_LIMITS) }
await app.register(vixRealtime, { relayTypes: ['chat.message'], docs: false, metrics: false, longPolling: false, ...limits })
// The echo sent without an id, so the hub adds no ack of its own: one frame in, one frame out.
app.realtime.on('echo', { schema: Type.Object({ n: Type.Number() }) }, (session, msg) => {
  session.send(ackFrame('echo', {}, { n: msg.payload.n }))
})
await app.listen({ host: '127.0.0.1', port: 0 })

process.on('message', (message: { cmd?: string, id?: number }) => {
  if (message.cmd === 'cpu') process.send?.({ id: message.id, cpu: process.cpuUsage() })
})
process.on('disconnect', () => process.exit(0))
process.send?.({ port: (app.server.address() as { port: number }).port })
