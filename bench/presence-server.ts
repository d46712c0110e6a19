// The server of bench/presence.ts: one vix-realtime node, presence on or off
// (argv[2]), reporting its port, then its CPU time and frames sent on request.
import Fastify from 'fastify'
import vixRealtime from '../plugins/index.js'

const presence = process.argv[2] === 'on'
const app = Fastify()
let counter = 0
await app.register(vixRealtime, {
  authenticate: (request: any) => new URL(request.url, 'http://x').searchParams.get('user') ?? 'anonymous',
  ...(presence ? { presence: { rooms: 'all', meta: (identity: unknown) => ({ name: String(identity) }) } } : {}),
  docs: false,
  metrics: false,
  longPolling: false
})
let frames = 0
let diffs = 0
app.realtime.addObserver({ messagesOutbound: (n) => { frames += n }, presenceDiffs: (n) => { diffs += n } })
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address() as { port: number }
process.send?.({ port: address.port })
process.on('message', (m: any) => {
  if (m.cmd === 'stats') process.send?.({ cpu: process.cpuUsage(), frames, diffs, members: app.realtime.presence('storm').length, counter: counter++ })
  if (m.cmd === 'exit') app.close().then(() => process.exit(0), () => process.exit(1))
})
