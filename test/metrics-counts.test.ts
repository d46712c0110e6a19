import t from 'tap'
import { join } from 'node:path'
import { errorReasons, type HubObserver, type Transport } from '../plugins/index.js'
import type { Hub } from '../lib/hub/hub.js'
import { StoreUnavailableError } from '../lib/errors.js'
import { build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { PollClient } from './helpers/poll-client.js'
import { errorsOf, eventually, scrapeMetrics } from './helpers/metrics.js'
import { hubOf } from '../lib/hub/realtime.js'

/** What moves each metric, and by exactly how much: WebSocket traffic, refused upgrades and frames, long-poll sessions, store appends. */

/** Call one observer hook on every observer, as the long-polling and store parts do. */
function notify (hub: Hub, call: (observer: HubObserver) => void): void {
  for (const observer of hub.observers) call(observer)
}

function fakeTransport (name: string, state: { queued?: number, buffered?: number } = {}): Transport & { sent: number } {
  const transport = {
    name,
    sent: 0,
    send () { transport.sent++ },
    bufferedAmount: () => state.buffered ?? 0,
    close () {},
    terminate () {},
    queued: state.queued === undefined ? undefined : () => state.queued as number
  }
  return transport
}

const SESSION_TTL = 60_000

t.test('a WebSocket scenario moves each metric by exactly what happened', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], websocket: { maxMessageSize: 1024 } }, (app) => {
    app.realtime.on('boom', () => { throw new Error('handler bug') })
  })
  const hub = hubOf(app.realtime)
  let m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_connections_total'), 0)
  t.equal(m.value('vix_ws_connections_active'), 0)

  const a = await connect(app)
  const b = await connect(app)
  const c = await connect(app)
  m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_connections_total'), 3, 'connect: +1 each')
  t.equal(m.value('vix_ws_connections_active'), 3)
  t.equal(m.value('vix_ws_rooms_active'), 0)

  await Promise.all([a.join('general'), b.join('general'), c.join('general')])
  m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_messages_inbound_total'), 3, 'join: one frame in each')
  t.equal(m.value('vix_ws_messages_outbound_total'), 3, 'join: one ack out each')
  t.equal(m.value('vix_ws_rooms_active'), 1)

  await hub.publish({ room: 'general', type: 'news', payload: { n: 1 } })
  m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_messages_outbound_total'), 6, 'server publish to 3 recipients: +3')
  t.equal(m.histogram('vix_publish_duration_seconds').count, 1, 'one publish observed')
  t.equal(m.value('vix_ws_messages_inbound_total'), 3, 'a server publish is not inbound')

  a.send({ id: 'm1', room: 'general', type: 'chat.message', payload: { text: 'hi' } })
  await a.waitFor((f) => f.kind === 'ack' && f.id === 'm1')
  await Promise.all([b, c].map((client) => client.waitFor((f) => f.type === 'chat.message')))
  m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_messages_inbound_total'), 4, 'relayed frame: +1 in')
  t.equal(m.value('vix_ws_messages_outbound_total'), 10, 'relayed to 3 members + the ack: +4 out')
  t.equal(m.histogram('vix_publish_duration_seconds').count, 2)

  a.send({ type: 'not a valid type!' })
  await a.waitFor((f) => f.kind === 'error' && f.payload.code === 'VIX_ERR_INVALID_MESSAGE')
  a.send({ room: 'elsewhere', type: 'chat.message' })
  await a.waitFor((f) => f.kind === 'error' && f.payload.code === 'VIX_ERR_NOT_IN_ROOM')
  a.send({ type: 'boom' })
  await a.waitFor((f) => f.kind === 'error' && f.payload.code === 'VIX_ERR_INTERNAL')
  m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_messages_inbound_total'), 7, 'each bad frame is still one frame in')
  t.equal(m.value('vix_ws_messages_outbound_total'), 13, 'each error frame is one frame out')
  t.same(errorsOf(m), { invalid_message: 1, too_large: 0, rate_limited: 0, limit_exceeded: 0, slow_consumer: 0, unauthorized: 0, forbidden: 1, unavailable: 0, internal: 1 })

  c.send('x'.repeat(2048))
  t.equal((await c.closed).code, 1009, 'oversize frame closes 1009')
  m = await eventually(app, (m) => m.value('vix_ws_connections_active') === 2)
  t.equal(m.value('vix_ws_errors_total', { reason: 'too_large' }), 1, 'oversize close counted as too_large')
  t.equal(m.value('vix_ws_messages_inbound_total'), 7, 'the oversize frame was never received')

  // A peer whose send buffer is over maxBufferedAmount (1 MiB by default).
  const slow = fakeTransport('test', { buffered: 2 * 1024 * 1024 })
  const slowSession = hub.openSession(slow)
  hub.join(slowSession, 'general')
  await hub.publish({ room: 'general', type: 'news', payload: { n: 2 } })
  await Promise.all([a, b].map((client) => client.waitForCount((f) => f.type === 'news', 2)))
  m = await scrapeMetrics(app)
  t.equal(slow.sent, 0)
  t.equal(m.value('vix_ws_errors_total', { reason: 'slow_consumer' }), 1, 'slow consumer counted')
  t.equal(m.value('vix_ws_messages_outbound_total'), 15, 'only the 2 delivered frames count')
  t.equal(m.value('vix_ws_connections_total'), 3, 'a non-WebSocket session is not a WebSocket connection')
  hub.closeSession(slowSession, 1013)

  // b vanishes without a close frame; a closes properly.
  b.ws.terminate()
  a.close()
  m = await eventually(app, (m) => m.value('vix_ws_connections_active') === 0)
  t.equal(m.value('vix_ws_rooms_active'), 0, 'rooms gauge back to 0')
  t.equal(m.value('vix_longpoll_sessions_active'), 0)
  t.equal(m.value('vix_ws_connections_total'), 3, 'totals never go down')
})

t.test('a rejected upgrade counts unauthorized and opens nothing', async (t) => {
  const app = await build(t, { authenticate: (request: any) => request.headers.authorization === 'Bearer ok' ? { user: 'u1' } : null })
  await t.rejects(connect(app), { message: /unexpected response 401/ })
  let m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_errors_total', { reason: 'unauthorized' }), 1)
  t.equal(m.value('vix_ws_connections_total'), 0)
  t.equal(m.value('vix_ws_connections_active'), 0)
  const client = await connect(app, '/ws', { headers: { authorization: 'Bearer ok' } })
  m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_connections_total'), 1)
  t.equal(m.value('vix_ws_errors_total', { reason: 'unauthorized' }), 1)
  client.close()
  await eventually(app, (m) => m.value('vix_ws_connections_active') === 0)
})

t.test('long-polling sessions: live gauges and observer-fed counters', async (t) => {
  const app = await build(t)
  const hub = hubOf(app.realtime)
  const state = { queued: 0 }
  const transport = fakeTransport('long-polling', state)
  const session = hub.openSession(transport)
  notify(hub, (o) => o.longPollSessionCreated?.())
  let m = await scrapeMetrics(app)
  t.equal(m.value('vix_longpoll_sessions_total'), 1)
  t.equal(m.value('vix_longpoll_sessions_active'), 1)
  t.equal(m.value('vix_longpoll_buffered_messages'), 0)
  t.equal(m.value('vix_ws_connections_total'), 0, 'a poll session is not a WebSocket connection')
  t.equal(m.value('vix_ws_connections_active'), 0)

  hub.join(session, 'lobby')
  await hub.publish({ room: 'lobby', type: 'news', payload: {} })
  state.queued = 5
  notify(hub, (o) => o.longPollEnqueued?.(5))
  m = await scrapeMetrics(app)
  t.equal(m.value('vix_longpoll_buffered_messages'), 5, 'read from queued() at scrape time')
  t.equal(m.value('vix_longpoll_enqueued_total'), 5)
  t.equal(m.value('vix_ws_rooms_active'), 1, 'poll sessions hold rooms too')
  t.equal(m.value('vix_ws_messages_outbound_total'), 1, 'a fan-out to a poll session is one frame out')

  notify(hub, (o) => o.longPollDropped?.(2))
  notify(hub, (o) => o.longPollPolled?.())
  notify(hub, (o) => o.longPollDrained?.(3))
  notify(hub, (o) => o.longPollDrained?.(0))
  state.queued = 0
  m = await scrapeMetrics(app)
  t.equal(m.value('vix_longpoll_dropped_total'), 2)
  t.equal(m.value('vix_longpoll_polls_total'), 1)
  t.equal(m.value('vix_longpoll_drained_total'), 3)
  t.equal(m.value('vix_longpoll_buffered_messages'), 0)

  // An expired session is closed by the manager; the gauges follow with no extra hook.
  state.queued = 4
  hub.closeSession(session, 1000)
  m = await scrapeMetrics(app)
  t.equal(m.value('vix_longpoll_sessions_active'), 0, 'expired session no longer active')
  t.equal(m.value('vix_longpoll_buffered_messages'), 0, 'its queue no longer counted')
  t.equal(m.value('vix_ws_rooms_active'), 0)
  t.equal(m.value('vix_longpoll_sessions_total'), 1)
})

t.test('store appends: counter and histogram both by message', async (t) => {
  const app = await build(t)
  notify(hubOf(app.realtime), (o) => o.storeAppended?.(3, 0.002))
  notify(hubOf(app.realtime), (o) => o.storeAppended?.(1, 0.0004))
  const m = await scrapeMetrics(app)
  t.equal(m.value('vix_store_appends_total'), 4)
  const histogram = m.histogram('vix_store_append_duration_seconds')
  t.equal(histogram.count, 4, 'one sample per append')
  t.ok(Math.abs(histogram.sum - 0.0064) < 1e-9, 'sum of append times')
  t.equal(histogram.buckets['0.0005'], 1)
  t.equal(histogram.buckets['0.0025'], 4)
  t.equal(histogram.buckets['+Inf'], 4)
})

t.test('an unknown reason from untyped code is counted as internal, not as a new series', async (t) => {
  const app = await build(t)
  hubOf(app.realtime).report('made_up' as any)
  const m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_errors_total', { reason: 'internal' }), 1)
  t.equal(m.families.get('vix_ws_errors_total')?.metrics.length, errorReasons.length)
})

t.test('a refusal counts as its code\'s reason in the error table, the same over WebSocket and HTTP', async (t) => {
  const key = 'a-publish-key-of-24-chars'
  const app = await build(t, { relayTypes: ['chat.message'], limits: { maxRoomsPerSession: 1 }, longPolling: { serverPublish: { key } } })
  app.realtime.on('big', { maxSize: 64 }, () => {})
  const publish = async (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${key}` }): Promise<number> =>
    (await app.inject({ method: 'POST', url: '/ws/send', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) })).statusCode
  const client = await connect(app)
  await client.join('general')

  client.send({ id: 'j', type: 'room.join', payload: { room: 'second' } })
  await client.waitFor((f) => f.kind === 'error' && f.id === 'j' && f.payload.code === 'VIX_ERR_LIMIT_EXCEEDED')
  client.send({ id: 'b', type: 'big', payload: { text: 'x'.repeat(100) } })
  await client.waitFor((f) => f.kind === 'error' && f.id === 'b' && f.payload.code === 'VIX_ERR_PAYLOAD_TOO_LARGE')
  t.equal(await publish({ type: 'nothing.known', room: 'general', payload: {} }), 400)
  t.equal(await publish({ type: 'chat.message', room: 'general', payload: {} }, {}), 401)

  // The store goes away: a relay and a server-side publish are refused alike.
  hubOf(app.realtime).attachPersistence({
    shouldPersist: () => true,
    persist: async () => { throw new StoreUnavailableError('connection refused') },
    joinWithRecovery: async () => { throw new Error('not joined in this test') },
    sequence: () => {}
  })
  client.send({ id: 's', type: 'chat.message', room: 'general', payload: {} })
  await client.waitFor((f) => f.kind === 'error' && f.id === 's' && f.payload.code === 'VIX_ERR_STORE_UNAVAILABLE')
  t.equal(await publish({ type: 'chat.message', room: 'general', payload: {} }), 503)

  const m = await scrapeMetrics(app)
  t.same(errorsOf(m), { invalid_message: 1, too_large: 1, rate_limited: 0, limit_exceeded: 1, slow_consumer: 0, unauthorized: 1, forbidden: 0, unavailable: 2, internal: 0 })
})

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
