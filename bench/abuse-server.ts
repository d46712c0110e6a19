// The server of bench/abuse.ts: the example app (limits from env, SQLite store)
// in its own process; it reports its port, then its peak RSS when asked.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildExampleApp } from '../example-app/app.js'

const dir = mkdtempSync(join(tmpdir(), 'vix-abuse-'))
const app = await buildExampleApp({ env: { ...process.env, VIX_STORE_PATH: join(dir, 'messages.db') } })
await app.listen({ host: '127.0.0.1', port: 0 })
let peakRss = process.memoryUsage().rss
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 100)
sampler.unref()
process.on('message', (message: { ask?: string }) => {
  if (message.ask === 'rss') process.send?.({ peakRss, rss: process.memoryUsage().rss, sessions: app.realtime.sessions.size })
  if (message.ask === 'stop') { clearInterval(sampler); app.close().then(() => process.exit(0), () => process.exit(1)) }
})
process.send?.({ port: (app.server.address() as { port: number }).port })
