import { test } from 'tap'
import WebSocket from 'ws'
import { VixClient, VixClientError, type VixClientOptions, type VixMessage } from '../lib/client/index.js'
import { CountingTimers, FakeClock } from './helpers/fake-clock.js'
import { baseUrl, build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { nextEvent, waitFor } from './helpers/wait.js'
import type { FastifyInstance } from 'fastify'

interface Teardown { teardown: (fn: () => unknown) => void }

function client (t: Teardown, app: FastifyInstance, options: Partial<VixClientOptions> = {}): VixClient {
  const vix = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, longPolling: false, ...options })
  t.teardown(() => { vix.close() })
  return vix
}

/** Every typed frame the server received, parsed. */
function recordInbound (app: FastifyInstance): any[] {
  const frames: any[] = []
  app.realtime.onMessage((_session, data, info) => { if (info.typed) frames.push(JSON.parse(String(data))) })
  return frames
}

function dropAllSockets (app: FastifyInstance): void {
  for (const session of app.realtime.sessions.values()) session.transport.terminate()
}

test('connects, joins, publishes and receives over WebSocket', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const vix = client(t, app)
  const states: string[] = []
  vix.on('state', (state) => { states.push(state) })
  t.equal(vix.state, 'closed')
  t.equal(vix.transport, 'websocket')
  await vix.connect()
  t.equal(vix.state, 'open')
  await vix.connect() // already open: resolves at once
  t.same(states, ['connecting', 'open'])

  const ack = await vix.join('general')
  t.same(ack, { room: 'general', recovered: false, replayed: 0, latestId: null, pos: null }, 'no store: pos null')
  t.same(vix.rooms, ['general'])

  const peer = await connect(app)
  await peer.join('general')
  const received: VixMessage[] = []
  vix.on('chat.message', (msg) => { received.push(msg) })
  const published = await vix.publish('general', 'chat.message', { text: 'hello' })
  t.equal(published.type, 'chat.message')
  t.equal(published.room, 'general')
  const seenByPeer = await peer.waitFor((f) => f.kind === 'event' && f.type === 'chat.message')
  t.equal(seenByPeer.id, published.id, 'the event carries the client id')
  t.same(seenByPeer.payload, { text: 'hello' })
  t.equal(received.length, 1, 'the sender receives its own event once')
  t.equal(vix.lastEventId('general'), published.id)

  // Server-side publish reaches the typed listener and the 'message' listener.
  const [message] = await Promise.all([
    nextEvent(vix, 'message', (m) => m.type === 'news'),
    app.realtime.publish({ room: 'general', type: 'news', payload: { n: 1 } })
  ])
  t.same(message[0].payload, { n: 1 })

  await vix.leave('general')
  t.same(vix.rooms, [])
  t.equal(vix.lastEventId('general'), undefined)
  peer.close()
})

test('error frames reject the publish with the server code; no ack rejects on timeout', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] }, (app) => {
    app.realtime.on('never.acked', () => new Promise(() => {}))
  })
  const vix = client(t, app, { timeout: 100 })
  await vix.connect()

  const notInRoom = await vix.publish('general', 'chat.message', { text: 'x' }).catch((e: unknown) => e)
  t.ok(notInRoom instanceof VixClientError)
  t.equal((notInRoom as VixClientError).code, 'VIX_ERR_NOT_IN_ROOM')

  const unknown = await vix.publish(null, 'what.is.this').catch((e: unknown) => e)
  t.equal((unknown as VixClientError).code, 'VIX_ERR_UNKNOWN_TYPE')

  const invalid = await vix.publish('general', 'bad type!').catch((e: unknown) => e) as VixClientError
  t.equal(invalid.code, 'VIX_ERR_INVALID_MESSAGE')
  t.equal(invalid.path, '/type')

  // An error frame nobody waits for (a raw send) is emitted as 'error'.
  const [emitted] = await Promise.all([nextEvent(vix, 'error'), Promise.resolve(vix.send({ type: 'nope', id: 'raw-1' }))])
  t.equal(emitted[0].code, 'VIX_ERR_UNKNOWN_TYPE')
  t.equal(emitted[0].id, 'raw-1')

  const timedOut = await vix.publish(null, 'never.acked').catch((e: unknown) => e) as VixClientError
  t.equal(timedOut.code, 'VIX_ERR_CLIENT_TIMEOUT')

  const duplicate = vix.publish(null, 'never.acked', {}, { id: 'same', timeout: 1000 })
  const second = await vix.publish(null, 'never.acked', {}, { id: 'same' }).catch((e: unknown) => e) as VixClientError
  t.equal(second.code, 'VIX_ERR_INVALID_MESSAGE', 'a second publish with a waiting id is refused')
  vix.close()
  t.equal((await duplicate.catch((e: unknown) => e) as VixClientError).code, 'VIX_ERR_CLIENT_CLOSED')
})

test('a refused join rejects and the room is not rejoined', async (t) => {
  const app = await build(t, { authorizeJoin: (_session, room) => room !== 'secret' })
  const vix = client(t, app)
  await vix.connect()
  const refused = await vix.join('secret').catch((e: unknown) => e) as VixClientError
  t.equal(refused.code, 'VIX_ERR_FORBIDDEN')
  t.equal(refused.room, 'secret')
  t.same(vix.rooms, [])
})

test('after the server drops the socket: reconnect, rejoin with since = last id, resend unacked publishes with the same id', async (t) => {
  let attempts = 0
  const seen: string[] = []
  const app = await build(t, { relayTypes: ['chat.message'] }, (app) => {
    app.realtime.on('order.place', (session, msg) => {
      seen.push(msg.id as string)
      // The first delivery dies with the connection before its ack.
      if (++attempts === 1) session.transport.terminate()
    })
  })
  const inbound = recordInbound(app)
  const clock = new FakeClock()
  const vix = client(t, app, { timers: clock, random: () => 0, reconnect: { minDelay: 100, maxDelay: 1000, factor: 2, jitter: 0.5 } })
  await vix.connect()
  await vix.join('general')
  await Promise.all([nextEvent(vix, 'news'), app.realtime.publish({ room: 'general', type: 'news', payload: {} })])
  const lastId = vix.lastEventId('general') as string
  t.type(lastId, 'string')

  const closed = nextEvent(vix, 'close')
  const reconnecting = nextEvent(vix, 'reconnecting')
  const order = vix.publish(null, 'order.place', { sku: 'A' })
  const [info] = await closed
  t.equal(info.willReconnect, true)
  t.equal(info.transport, 'websocket')
  const [schedule] = await reconnecting
  t.same(schedule, { attempt: 1, delay: 100, transport: 'websocket' })
  t.equal(vix.state, 'reconnecting')
  t.equal(vix.send('lost'), false, 'raw sends are not queued while disconnected')

  // A publish made while disconnected is queued, then sent after the rejoin.
  const queued = vix.publish('general', 'chat.message', { text: 'while away' })
  const rejoined = nextEvent(vix, 'rejoined')
  const recoveryFailed = nextEvent(vix, 'recovery_failed')
  clock.tick(100)
  const [rejoin] = await rejoined
  t.same(rejoin, { room: 'general', recovered: false, replayed: 0, latestId: null, pos: null, since: lastId })
  const [failed] = await recoveryFailed
  t.same(failed, { room: 'general', recovered: false, reason: 'not_recovered', since: lastId, latestId: null, pos: null, missed: { after: lastId, until: null, count: null } }, 'no store here: the app is told to fetch history')

  const ack = await order
  t.same(seen, [ack.id, ack.id], 'the unacked publish was resent with the same id')
  await queued
  const joins = inbound.filter((f) => f.type === 'room.join')
  t.same(joins.map((f) => f.payload), [{ room: 'general' }, { room: 'general', since: lastId }])
  const afterRejoin = inbound.slice(inbound.indexOf(joins[1]) + 1).map((f) => f.type)
  t.same(afterRejoin.slice(0, 2), ['order.place', 'chat.message'], 'rooms are rejoined before pending publishes are resent')
})

test('drops an event delivered twice (replay overlapping live delivery)', async (t) => {
  const app = await build(t)
  const vix = client(t, app, { dedupeWindow: 2 })
  await vix.connect()
  await vix.join('general')
  const got: string[] = []
  vix.on('tick', (msg) => { got.push(msg.id as string) })
  for (const id of ['a', 'b', 'a', 'c', 'd', 'a']) await app.realtime.publish({ room: 'general', id, type: 'tick' })
  // Room-less events are deduplicated too.
  for (const id of ['x', 'x']) await app.realtime.publish({ id, type: 'tick' })
  await app.realtime.publish({ room: 'general', id: 'end', type: 'tick' })
  await nextEvent(vix, 'tick', (m) => m.id === 'end')
  // The repeated 'a' is dropped; with a window of 2 ids, 'a' is forgotten once 'c' and 'd' came (bounded memory).
  t.same(got, ['a', 'b', 'c', 'd', 'a', 'x', 'end'])
})

test('server.going_away: the client reconnects after retryAfterMs (plus jitter)', async (t) => {
  const app = await build(t, { goingAwayRetryAfter: 300 })
  const clock = new FakeClock()
  const vix = client(t, app, { timers: clock, random: () => 0.5, reconnect: { minDelay: 10, maxDelay: 100, factor: 2, jitter: 0.5 } })
  await vix.connect()
  const goingAway = nextEvent(vix, 'going_away')
  const reconnecting = nextEvent(vix, 'reconnecting')
  const systems = nextEvent(vix, 'system')
  const closing = app.close()
  const [notice] = await goingAway
  t.same(notice, { retryAfterMs: 300 })
  t.equal((await systems)[0].type, 'server.going_away')
  const [schedule] = await reconnecting
  t.equal(schedule.delay, 375, 'retryAfterMs * (1 + jitter * random), beyond maxDelay')
  await closing
  vix.close()
  t.equal(clock.pending, 0, 'close() cleared the reconnect timer')
})

test('backoff: exponential, capped, then gives up after maxAttempts', async (t) => {
  const app = await build(t)
  const url = `${baseUrl(app, 'ws')}/ws`
  await app.close()
  const clock = new FakeClock()
  const vix = new VixClient({ url, WebSocket, longPolling: false, timers: clock, random: () => 0, reconnect: { minDelay: 100, maxDelay: 350, factor: 2, jitter: 0.5, maxAttempts: 4 } })
  t.teardown(() => { vix.close() })
  const delays: number[] = []
  const errors: string[] = []
  vix.on('reconnecting', ({ delay }) => { delays.push(delay) })
  vix.on('error', (error) => { errors.push((error as VixClientError).code) })
  const connecting = vix.connect()
  for (let attempt = 1; attempt <= 4; attempt++) {
    await nextEvent(vix, 'reconnecting')
    clock.tick(delays[attempt - 1])
  }
  const failure = await connecting.catch((e: unknown) => e) as VixClientError
  t.equal(failure.code, 'VIX_ERR_CLIENT_CLOSED')
  t.same(delays, [100, 200, 350, 350])
  t.same(errors, ['VIX_ERR_CLIENT_CONNECT', 'VIX_ERR_CLIENT_CONNECT', 'VIX_ERR_CLIENT_CONNECT', 'VIX_ERR_CLIENT_CONNECT', 'VIX_ERR_CLIENT_CONNECT', 'VIX_ERR_CLIENT_RECONNECT_FAILED'])
  t.equal(vix.state, 'closed')
  t.equal(clock.pending, 0)
})

test('close() stops everything: no timer left, waiting requests rejected, no reconnect', async (t) => {
  const app = await build(t, {}, (app) => { app.realtime.on('never.acked', () => new Promise(() => {})) })
  const timers = new CountingTimers()
  const vix = client(t, app, { timers, reconnect: { minDelay: 5, maxDelay: 5, factor: 1, jitter: 0 } })
  await vix.connect()
  const closes: any[] = []
  vix.on('close', (info) => { closes.push(info) })
  const waiting = vix.publish(null, 'never.acked')
  const joining = vix.join('general')
  t.ok(timers.active.size > 0)
  vix.close()
  t.equal(timers.active.size, 0, 'no timer left')
  t.equal(vix.state, 'closed')
  t.same(closes, [{ code: 1000, reason: 'client closed', transport: 'websocket', willReconnect: false }])
  t.equal((await waiting.catch((e: unknown) => e) as VixClientError).code, 'VIX_ERR_CLIENT_CLOSED')
  t.equal((await joining.catch((e: unknown) => e) as VixClientError).code, 'VIX_ERR_CLIENT_CLOSED')
  await waitFor(() => app.realtime.sessions.size === 0, { message: 'every session to close' })
  t.pass('the socket is closed')
  t.equal(vix.state, 'closed', 'and it stays closed')
  t.equal(vix.send('x'), false)
  vix.close() // twice is harmless

  // Rooms are kept: a later connect() rejoins them.
  const reopened = vix.connect()
  const [ack] = await nextEvent(vix, 'open')
  t.same(ack, { transport: 'websocket' })
  await reopened
})

test('a server-side close 1000 is a kick: no reconnect', async (t) => {
  const app = await build(t)
  const vix = client(t, app)
  await vix.connect()
  const [info] = await Promise.all([nextEvent(vix, 'close'), Promise.resolve(app.realtime.sessions.values().next().value!.close(1000, 'bye'))])
  t.same(info[0], { code: 1000, reason: 'bye', transport: 'websocket', willReconnect: false })
  t.equal(vix.state, 'closed')
})

test('reconnect: false gives up on the first loss', async (t) => {
  const app = await build(t)
  const vix = client(t, app, { reconnect: false })
  await vix.connect()
  const failed = nextEvent(vix, 'error', (e) => e.code === 'VIX_ERR_CLIENT_RECONNECT_FAILED')
  dropAllSockets(app)
  await failed
  t.equal(vix.state, 'closed')
})

test('raw frames, binary frames, and listeners that throw', async (t) => {
  const app = await build(t, {}, (app) => {
    app.realtime.onMessage((session, data, info) => {
      if (info.typed) return
      if (info.binary) session.transport.send(Buffer.from([1, 2, 3]))
      else session.transport.send(`echo: ${String(data)}`)
    })
  })
  const vix = client(t, app)
  await vix.connect()
  const [text] = await Promise.all([nextEvent(vix, 'raw'), Promise.resolve(vix.send('hi'))])
  t.equal(text[0], 'echo: hi')
  const [binary] = await Promise.all([nextEvent(vix, 'raw'), Promise.resolve(vix.send(new Uint8Array([9])))])
  t.ok(binary[0] instanceof ArrayBuffer)
  t.same([...new Uint8Array(binary[0])], [1, 2, 3])

  const off = vix.on('boom', () => { throw new Error('listener failed') })
  const [error] = await Promise.all([nextEvent(vix, 'error'), app.realtime.publish({ type: 'boom' })])
  t.equal(error[0].message, 'listener failed')
  off()
  // A typed message named like a lifecycle event needs onType.
  const opened: unknown[] = []
  const offType = vix.onType('open', (msg) => { opened.push(msg.payload) })
  const throwing = (): void => { throw new Error('error listener failed') }
  vix.on('error', throwing)
  await Promise.all([nextEvent(vix, 'message', (m) => m.type === 'open'), app.realtime.publish({ type: 'open', payload: { door: 1 } })])
  t.same(opened, [{ door: 1 }])
  offType()
  vix.off('error', throwing)
  vix.off('tick', () => {})
})

test('a WebSocket that stays connecting is abandoned after connectTimeout', async (t) => {
  const clock = new FakeClock()
  class Silent {
    readyState = 0
    binaryType = 'blob'
    onopen = null
    onmessage = null
    onclose = null
    onerror = null
    closed = false
    send (): void {}
    close (): void { this.closed = true; throw new Error('cannot close while connecting') }
  }
  const vix = new VixClient({ url: 'ws://127.0.0.1:9/ws', WebSocket: Silent as any, longPolling: false, timers: clock, connectTimeout: 50, random: () => 0 })
  t.teardown(() => { vix.close() })
  const failure = nextEvent(vix, 'error')
  vix.connect().catch(() => {})
  clock.tick(50)
  const [error] = await failure
  t.equal(error.code, 'VIX_ERR_CLIENT_CONNECT')
  t.match(error.message, /connect timeout/)
  t.equal(vix.state, 'reconnecting')
})

test('Node: webSocketOptions carry headers; a 401 upgrade is reported with its status and retried, not a fallback', async (t) => {
  const app = await build(t, { authenticate: (request: any) => request.headers['x-token'] === 'ok' ? { user: 'ann' } : null })
  const clock = new FakeClock()
  const refused = client(t, app, { timers: clock, longPolling: { afterFailures: 5 }, fetch: async () => { throw new Error('unused') } })
  const failure = nextEvent(refused, 'error')
  refused.connect().catch(() => {})
  const [error] = await failure
  t.equal(error.code, 'VIX_ERR_CLIENT_CONNECT')
  t.equal(error.status, 401)
  t.equal(refused.transport, 'websocket', 'auth failures do not switch transport')
  t.equal(refused.state, 'reconnecting')

  const allowed = client(t, app, { webSocketOptions: { headers: { 'x-token': 'ok' } } })
  await allowed.connect()
  t.same([...app.realtime.sessions.values()][0].identity, { user: 'ann' })
})
