import t from 'tap'
import { join } from 'node:path'
import { buildExampleApp } from '../example-app/app.js'
import { connect } from './helpers/ws-client.js'
import { hubOf } from '../lib/hub/realtime.js'

t.test('a socket sending 100,000 frames as fast as it can is stopped by the inbound bound; its room neighbour is served', async (t) => {
  // The rate limit would close the flooder first: this test is about the inbox bound behind it.
  const app = await buildExampleApp({ env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db'), VIX_RATE_LIMIT: 'off' } })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const bound = hubOf(app.realtime).options.maxQueuedFrames
  const flooder = await connect(app)
  const neighbour = await connect(app)
  await flooder.join('general')
  await neighbour.join('general')

  // Every frame is a relay to a stored room: each one waits for a commit, so they queue.
  const frame = JSON.stringify({ room: 'general', type: 'chat.message', payload: { text: 'flood' } })
  for (let i = 0; i < 100_000; i++) flooder.ws.send(frame)

  const published = performance.now()
  const news = await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'meanwhile' } })
  const got = await neighbour.waitFor((f) => f.kind === 'event' && f.id === news.id, 5000)
  const latency = performance.now() - published
  t.ok(latency < 1000, `the neighbour got the message published meanwhile within a second (${Math.round(latency)} ms)`)
  t.match(got, { payload: { text: 'meanwhile' } })

  const closed = await flooder.closed
  t.equal(closed.code, 1008, 'closed for flooding (policy)')
  t.equal(closed.reason, 'inbound queue full')

  await app.messageStore.flush()
  const page = await app.messageStore.listByRoom('general', { limit: 100_000 })
  const flood = page.messages.filter((m) => m.message.payload.text === 'flood').length
  t.ok(flood > 0 && flood <= 2 * bound, `the server processed the bound, not the flood: ${flood} of 100000 frames stored (bound ${bound})`)

  // The neighbour and the server go on as before.
  neighbour.send({ id: 'after', room: 'general', type: 'chat.message', payload: { text: 'still here' } })
  t.match(await neighbour.waitFor((f) => f.kind === 'ack' && f.id === 'after'), { type: 'chat.message' })
})
