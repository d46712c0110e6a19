import t from 'tap'
import { join } from 'node:path'
import { build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { PollClient } from './helpers/poll-client.js'
import { scrapeMetrics } from './helpers/metrics.js'

const SESSION_TTL = 60_000

t.test('long-poll counters and gauges follow create, poll, enqueue, drain, overflow and expiry exactly', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], longPolling: { maxBuffer: 3, sessionTtl: SESSION_TTL }, store: { path: join(t.testdir(), 'messages.db') } })
  const expect = async (step: string, values: Record<string, number>): Promise<void> => {
    const scrape = await scrapeMetrics(app)
    const found = Object.fromEntries(Object.keys(values).map((name) => [name, scrape.value(`vix_longpoll_${name}`)]))
    t.same(found, values, step)
  }
  await expect('nothing yet', { sessions_total: 0, sessions_active: 0, polls_total: 0, enqueued_total: 0, drained_total: 0, dropped_total: 0, buffered_messages: 0 })

  const a = await PollClient.create(app)
  await expect('a session is created', { sessions_total: 1, sessions_active: 1, polls_total: 0, buffered_messages: 0 })

  t.equal((await a.send({ type: 'room.join', payload: { room: 'r' } })).statusCode, 202)
  await expect('the join ack is queued', { enqueued_total: 1, buffered_messages: 1 })

  const first = await a.poll({ ack: 0 })
  t.match(first.body.messages, [{ kind: 'ack', type: 'room.join' }])
  await expect('taken, not yet confirmed', { polls_total: 1, drained_total: 0, buffered_messages: 1 })
  await a.poll()
  await expect('confirmed by the next ack', { polls_total: 2, drained_total: 1, buffered_messages: 0 })

  for (let i = 0; i < 5; i++) await app.realtime.publish({ room: 'r', type: 'chat.message', payload: { i } })
  await expect('5 frames into a queue of 3: 2 dropped', { enqueued_total: 6, dropped_total: 2, buffered_messages: 3 })

  const overflowed = await a.poll()
  t.equal(overflowed.body.dropped, 2, 'the client is told what was lost')
  t.same(overflowed.body.messages.map((m: any) => m.payload.i), [2, 3, 4], 'the newest 3 remain')
  await a.poll()
  await expect('drained: 1 + 3 confirmed in all', { polls_total: 4, drained_total: 4, buffered_messages: 0 })

  const b = await PollClient.create(app)
  await b.send({ type: 'room.join', payload: { room: 'quiet' } })
  await app.realtime.publish({ room: 'r', type: 'chat.message', payload: { i: 5 } })
  await expect('two sessions, one frame each', { sessions_total: 2, sessions_active: 2, enqueued_total: 8, buffered_messages: 2 })

  t.equal(app.realtimeLongPolling.sweep(Date.now() + SESSION_TTL - 1000), 0, 'not idle long enough yet')
  t.equal(app.realtimeLongPolling.sweep(Date.now() + SESSION_TTL + 1000), 2, 'both expire past the TTL')
  await expect('expired: gauges back to 0, counters kept', {
    sessions_total: 2, sessions_active: 0, polls_total: 4, enqueued_total: 8, drained_total: 4, dropped_total: 2, buffered_messages: 0
  })
  t.equal((await a.poll()).statusCode, 404, 'an expired session is gone')
})

t.test('store appends are counted and timed for every stored message, and only those', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], store: { path: join(t.testdir(), 'messages.db'), persist: { rooms: ['kept'] } } })
  const before = await scrapeMetrics(app)
  t.equal(before.value('vix_store_appends_total'), 0)
  t.equal(before.histogram('vix_store_append_duration_seconds').count, 0)

  const client = await connect(app)
  await client.join('kept')
  await client.join('ephemeral')
  for (let i = 0; i < 3; i++) client.send({ type: 'chat.message', id: `c-${i}`, room: 'kept', payload: { i } })
  for (let i = 0; i < 3; i++) await client.waitFor((f) => f.kind === 'ack' && f.id === `c-${i}`)
  await app.realtime.publish({ room: 'kept', type: 'chat.message', payload: { server: true } })
  client.send({ type: 'chat.message', id: 'not-stored', room: 'ephemeral', payload: {} })
  await client.waitFor((f) => f.kind === 'ack' && f.id === 'not-stored')

  const after = await scrapeMetrics(app)
  t.equal(after.value('vix_store_appends_total'), 4, '3 relayed + 1 server publish into the stored room')
  const duration = after.histogram('vix_store_append_duration_seconds')
  t.equal(duration.count, 4, 'one duration sample per append')
  t.ok(duration.sum > 0, 'appends took measurable time')
  t.equal(duration.buckets['+Inf'], 4)
  t.same((await app.messageStore.listByRoom('kept', { limit: 10 })).messages.map((m) => m.message.id).slice(0, 3), ['c-0', 'c-1', 'c-2'])
})
