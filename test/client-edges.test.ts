import { test } from 'tap'
import { VixClient, type FetchLike, type ResponseLike, type VixClientError, type VixClientOptions } from '../lib/client/index.js'
import { FakeClock } from './helpers/fake-clock.js'
import { ScriptedSocket } from './helpers/scripted-socket.js'
import { delay, nextEvent } from './helpers/wait.js'

function scripted (t: { teardown: (fn: () => unknown) => void }, options: Partial<VixClientOptions> = {}): { vix: VixClient, clock: FakeClock, socket: () => ScriptedSocket } {
  ScriptedSocket.sockets = []
  const clock = new FakeClock()
  const vix = new VixClient({ url: 'ws://example.test/ws', WebSocket: ScriptedSocket as any, longPolling: false, timers: clock, timeout: 100, random: () => 0, ...options })
  t.teardown(() => { vix.close() })
  return { vix, clock, socket: () => ScriptedSocket.sockets.at(-1)! }
}

test('join with since, one join in flight per room, join timeout', async (t) => {
  const { vix, clock, socket } = scripted(t)
  const connecting = vix.connect()
  socket().open()
  await connecting
  const first = vix.join('general', { since: 'm-41' })
  const second = vix.join('general')
  t.equal(socket().sent.length, 1, 'one join for two callers')
  const join = socket().sent[0]
  t.same(join.payload, { room: 'general', since: 'm-41' })
  socket().receive({ kind: 'ack', type: 'room.join', id: join.id, room: 'general', payload: { room: 'general', recovered: true, latestId: 'm-42' } })
  t.same(await first, { room: 'general', recovered: true, replayed: 0, latestId: 'm-42' })
  t.same(await second, { room: 'general', recovered: true, replayed: 0, latestId: 'm-42' })
  t.equal(vix.lastEventId('general'), 'm-42', 'the latest stored id is the resume point')

  const late = vix.join('quiet').catch((e: unknown) => e)
  clock.tick(100)
  t.equal((await late as VixClientError).code, 'VIX_ERR_CLIENT_TIMEOUT')
  // The room stays wanted: its ack still counts, and reconnects rejoin it.
  const quietJoin = socket().sent.at(-1)
  socket().receive({ kind: 'ack', type: 'room.join', id: quietJoin.id, room: 'quiet', payload: { room: 'quiet', recovered: false, replayed: 0, latestId: null } })
  t.same(vix.rooms, ['general', 'quiet'])
  // Acks without an id, or for nothing we asked, are ignored.
  socket().receive({ kind: 'ack', type: 'x', payload: {} })
  socket().receive({ kind: 'ack', type: 'x', id: 'unknown', payload: {} })
})

test('leave: aborts a join in flight, rejects on an error frame, times out, resolves when the connection drops', async (t) => {
  const { vix, clock, socket } = scripted(t, { reconnect: { minDelay: 10, maxDelay: 10, factor: 1, jitter: 0 } })
  const connecting = vix.connect()
  socket().open()
  await connecting
  const joining = vix.join('general').catch((e: unknown) => e)
  const leaving = vix.leave('general').catch((e: unknown) => e)
  t.equal((await joining as VixClientError).code, 'VIX_ERR_CLIENT_ABORTED')
  const leave = socket().sent.at(-1)
  t.same(leave.payload, { room: 'general' })
  socket().receive({ kind: 'error', type: 'error', id: leave.id, payload: { code: 'VIX_ERR_INTERNAL', message: 'nope' } })
  t.equal((await leaving as VixClientError).code, 'VIX_ERR_INTERNAL')

  const slow = vix.leave('other').catch((e: unknown) => e)
  clock.tick(100)
  t.equal((await slow as VixClientError).code, 'VIX_ERR_CLIENT_TIMEOUT')

  const dropped = vix.leave('third')
  socket().drop()
  await dropped // the server session is gone, so is the membership
  t.equal(vix.state, 'reconnecting')
  await vix.leave('not-connected') // resolves at once
})

test('malformed error frames, odd going_away, frames of unknown kind', async (t) => {
  const { vix, socket } = scripted(t, { reconnect: { minDelay: 25, maxDelay: 25, factor: 1, jitter: 0 } })
  const connecting = vix.connect()
  socket().open()
  await connecting
  const error = nextEvent(vix, 'error')
  socket().receive({ kind: 'error', type: 'error', payload: { code: 7 } })
  const [emitted] = await error
  t.equal(emitted.code, 'VIX_ERR_INTERNAL')
  t.equal(emitted.message, 'Error frame without a message')

  const events = nextEvent(vix, 'message')
  socket().receive({ type: 'legacy', payload: { a: 1 } })
  t.equal((await events)[0].type, 'legacy', 'a typed frame without kind is an event')

  const notice = nextEvent(vix, 'system')
  socket().receive({ kind: 'system', type: 'server.maintenance', payload: {} })
  t.equal((await notice)[0].type, 'server.maintenance')
  t.equal(vix.state, 'open', 'only going_away closes')

  const reconnecting = nextEvent(vix, 'reconnecting')
  socket().receive({ kind: 'system', type: 'server.going_away', payload: { retryAfterMs: 'soon' } })
  t.equal((await reconnecting)[0].delay, 25, 'an unusable retryAfterMs falls back to minDelay')
})

test('a WebSocket constructor that throws is a failed attempt', async (t) => {
  class Throwing {
    constructor () { throw new SyntaxError('bad URL') }
  }
  const clock = new FakeClock()
  const vix = new VixClient({ url: 'ws://example.test/ws', WebSocket: Throwing as any, longPolling: false, timers: clock })
  t.teardown(() => { vix.close() })
  const error = nextEvent(vix, 'error')
  vix.connect().catch(() => {})
  t.match((await error)[0].message, /bad URL/)
  t.equal(vix.state, 'reconnecting')
})

/** A fetch that answers from a script, one function per request. */
function scriptedFetch (script: Array<(url: string, init: any) => ResponseLike | Promise<ResponseLike>>): FetchLike & { calls: string[] } {
  const calls: string[] = []
  const fetch = async (url: string, init: any): Promise<ResponseLike> => {
    calls.push(`${init.method as string} ${url}`)
    const step = script.shift()
    if (step === undefined) {
      // Hold like a long poll until aborted.
      return await new Promise((_resolve, reject) => { init.signal.addEventListener('abort', () => { reject(new Error('aborted')) }) })
    }
    return await step(url, init)
  }
  return Object.assign(fetch, { calls })
}

function respond (status: number, body: unknown, headers: Record<string, string> = {}): ResponseLike {
  return {
    status,
    headers: { get: (name) => headers[name] ?? null },
    json: async () => { if (typeof body === 'string') throw new SyntaxError('not JSON'); return body }
  }
}

function pollingClient (t: { teardown: (fn: () => unknown) => void }, fetch: FetchLike): VixClient {
  const vix = new VixClient({ url: 'http://example.test/ws', fetch, transports: ['polling'], longPolling: { wait: 10 }, reconnect: { minDelay: 5, maxDelay: 5, factor: 1, jitter: 0 }, random: () => 0 })
  t.teardown(() => { vix.close() })
  return vix
}

test('long polling: failed session creation (network, not JSON, no session_id, non-numeric Retry-After)', async (t) => {
  const fetch = scriptedFetch([
    () => { throw new Error('ECONNREFUSED') },
    () => respond(200, 'oops'),
    () => respond(200, { messages: [] }),
    () => respond(503, 'busy', { 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT' }),
    () => respond(200, { session_id: 's1', messages: [], next: 0 })
  ])
  const vix = pollingClient(t, fetch)
  const reasons: string[] = []
  vix.on('error', (error) => { reasons.push(error.message) })
  const delays: number[] = []
  vix.on('reconnecting', ({ delay }) => { delays.push(delay) })
  const opened = vix.connect()
  await opened
  t.match(reasons[0], /session could not be created/)
  t.match(reasons[1], /without session_id/)
  t.match(reasons[2], /without session_id/)
  t.match(reasons[3], /HTTP 503/)
  t.same(delays, [5, 5, 5, 5], 'an unparsable Retry-After falls back to backoff')
})

test('long polling: 503 on a poll, 404 and network failure on a send', async (t) => {
  const fetch = scriptedFetch([
    () => respond(200, { session_id: 's1', messages: [{ kind: 'event', type: 'hello', id: 'e1', payload: {} }], next: 1 }),
    () => respond(503, { code: 'VIX_ERR_SHUTTING_DOWN', message: 'bye' }, { 'retry-after': '2' }),
    () => respond(200, { session_id: 's2', messages: [], next: 0 })
  ])
  const vix = pollingClient(t, fetch)
  const hello = nextEvent(vix, 'hello')
  const reconnecting = nextEvent(vix, 'reconnecting')
  await vix.connect()
  await hello
  t.equal((await reconnecting)[0].delay, 2000, 'Retry-After of a 503 poll')
  vix.close()

  const fetch2 = scriptedFetch([
    () => respond(200, { session_id: 's1', messages: [], next: 0 }),
    async () => { await delay(30); return respond(200, { session_id: 's1', messages: [], next: 0 }) },
    () => respond(404, { code: 'VIX_ERR_SESSION_NOT_FOUND', message: 'gone' }),
    () => respond(200, { session_id: 's2', messages: [], next: 0 }),
    async () => { await delay(30); return respond(200, { session_id: 's2', messages: [], next: 0 }) },
    () => { throw new Error('socket hang up') }
  ])
  const vix2 = pollingClient(t, fetch2)
  await vix2.connect()
  const lost = nextEvent(vix2, 'reconnecting')
  t.equal(vix2.send({ type: 'a' }), true)
  t.equal((await lost)[0].delay, 0, 'a 404 on a send replaces the session at once')
  await nextEvent(vix2, 'open')
  const failed = nextEvent(vix2, 'close')
  vix2.send({ type: 'b' })
  t.match((await failed)[0], { reason: 'long-polling send failed', willReconnect: true })
  t.match(fetch2.calls, [/^GET .*\/ws\/poll\?client_key=[\w-]{22}$/, /session_id=s1/, /^POST .*\/ws\/send\?session_id=s1$/, /^GET .*\/ws\/poll\?client_key=[\w-]{22}$/, /session_id=s2/, /^POST .*session_id=s2$/])
})

test('a publish larger than maxMessageSize (UTF-8 bytes) is refused before it is sent', async (t) => {
  const { vix, socket } = scripted(t, { maxMessageSize: 200 })
  const connecting = vix.connect()
  socket().open()
  await connecting
  const ascii = await vix.publish('r', 'big', { text: 'x'.repeat(300) }).catch((e: unknown) => e) as VixClientError
  t.equal(ascii.code, 'VIX_ERR_PAYLOAD_TOO_LARGE')
  const accented = await vix.publish('r', 'big', { text: 'é'.repeat(100) }).catch((e: unknown) => e) as VixClientError
  t.equal(accented.code, 'VIX_ERR_PAYLOAD_TOO_LARGE', 'fewer than 200 characters but more than 200 bytes')
  t.equal(socket().sent.length, 0)
  const fits = vix.publish('r', 'big', { text: 'é'.repeat(20) })
  t.equal(socket().sent.length, 1, 'characters * 3 > max but bytes <= max: sent')
  socket().receive({ kind: 'ack', type: 'big', id: socket().sent[0].id, room: 'r', payload: {} })
  t.same(await fits, { id: socket().sent[0].id, type: 'big', room: 'r' })
})

test('publishes and requests wait offline without a clock: the timeout runs only from each send, on a connection', async (t) => {
  const { vix, clock, socket } = scripted(t, { reconnect: { minDelay: 1000, maxDelay: 1000, factor: 1, jitter: 0 } })
  const connecting = vix.connect()
  socket().open()
  await connecting
  const outcome = (promise: Promise<unknown>): { state: string } => {
    const seen = { state: 'waiting' }
    promise.then(() => { seen.state = 'resolved' }, (error: VixClientError) => { seen.state = error.code })
    return seen
  }
  const sent = outcome(vix.publish(null, 'chat.message', { text: 'sent, then the connection dropped' }))
  t.equal(socket().sent.length, 1)
  socket().drop()
  const queued = outcome(vix.publish(null, 'chat.message', { text: 'made while offline' }))
  const asked = outcome(vix.request('who', {}))
  clock.tick(999)
  await delay(0)
  t.same([sent.state, queued.state, asked.state], ['waiting', 'waiting', 'waiting'], 'ten timeouts offline: nothing timed out, nothing dropped')

  clock.tick(1)
  socket().open()
  await delay(0)
  const resent = socket().sent
  t.same(resent.map((frame: any) => frame.payload.text ?? frame.type), ['sent, then the connection dropped', 'made while offline', 'who'], 'all three sent on the new connection, in order')
  clock.tick(99)
  await delay(0)
  t.same([sent.state, queued.state, asked.state], ['waiting', 'waiting', 'waiting'], 'the clock started again at the resend')
  socket().receive({ kind: 'ack', type: 'chat.message', id: resent[0].id, payload: {} })
  socket().receive({ kind: 'ack', type: 'chat.message', id: resent[1].id, payload: {} })
  clock.tick(1)
  await delay(0)
  t.same([sent.state, queued.state, asked.state], ['resolved', 'resolved', 'VIX_ERR_CLIENT_TIMEOUT'], 'acked ones resolve; on a connection the timeout still applies')
})
