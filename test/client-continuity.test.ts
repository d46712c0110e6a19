import { test } from 'tap'
import { VixClient, formatPosition, parsePosition, type FetchLike, type PositionGap, type RecoveryFailed, type VixClientOptions, type VixMessage } from '../lib/client/index.js'
import { FakeClock } from './helpers/fake-clock.js'
import { ScriptedSocket } from './helpers/scripted-socket.js'

// The client checks each stored room's continuity by position (`"<offset>.<tag>"`),
// against a scripted server: every branch of lib/client/rooms.ts's continuity.

interface Harness {
  vix: VixClient
  clock: FakeClock
  socket: () => ScriptedSocket
  /** Payloads of the app's `chat.message` listener, in order. */
  seen: number[]
  gaps: PositionGap[]
  failures: RecoveryFailed[]
  /** The `room.join` frames the client sent on the current socket, in order. */
  joins: () => any[]
  /** Answer the last join the client sent. */
  ack: (payload: Record<string, unknown>) => void
}

async function open (t: { teardown: (fn: () => unknown) => void }, options: Partial<VixClientOptions> = {}): Promise<Harness> {
  ScriptedSocket.sockets = []
  const clock = new FakeClock()
  const vix = new VixClient({ url: 'ws://example.test/ws', WebSocket: ScriptedSocket as any, longPolling: false, timers: clock, timeout: 1000, random: () => 0, ...options })
  t.teardown(() => { vix.close() })
  const socket = (): ScriptedSocket => ScriptedSocket.sockets.at(-1)!
  const seen: number[] = []
  const gaps: PositionGap[] = []
  const failures: RecoveryFailed[] = []
  vix.on('chat.message', (msg: VixMessage<{ n: number }>) => { seen.push(msg.payload.n) })
  vix.on('position_gap', (gap) => { gaps.push(gap) })
  vix.on('recovery_failed', (info) => { failures.push(info) })
  const connecting = vix.connect()
  socket().open()
  await connecting
  const joins = (): any[] => socket().sent.filter((frame) => frame.type === 'room.join')
  const ack = (payload: Record<string, unknown>): void => {
    const join = joins().at(-1)
    socket().receive({ kind: 'ack', type: 'room.join', id: join.id, room: join.payload.room, payload: { room: join.payload.room, replayed: 0, latestId: null, ...payload } })
  }
  return { vix, clock, socket, seen, gaps, failures, joins, ack }
}

/** A stored event of room `room` at `offset` in epoch `tag` (its payload `n` is the offset). */
function event (offset: number, tag = 'AAAA', room = 'general'): Record<string, unknown> {
  return { kind: 'event', type: 'chat.message', room, id: `m-${tag}-${offset}`, pos: `${offset}.${tag}`, ts: '2026-01-01T00:00:00.000Z', payload: { n: offset } }
}

/** Join `general` fresh; the server's head is `head` (null: no stored event). */
async function joined (h: Harness, head: string | null): Promise<void> {
  const joining = h.vix.join('general')
  h.ack({ recovered: false, pos: head })
  await joining
}

test('parsePosition / formatPosition: the wire form only', async (t) => {
  t.same(parsePosition('42.Xb3k'), { offset: 42, tag: 'Xb3k' })
  t.same(parsePosition('1.a-_Z'), { offset: 1, tag: 'a-_Z' })
  for (const bad of ['0.AAAA', '01.AAAA', '42.AAA', '42.AAAAA', '42.AA+A', 'm-41', '', '42', '.AAAA', '12345678901234567.AAAA', 42, null, undefined]) {
    t.equal(parsePosition(bad), null, `${String(bad)} is not a position`)
  }
  t.equal(parsePosition('9007199254740993.AAAA'), null, 'an offset past 2^53 is refused, not rounded')
  t.equal(formatPosition({ offset: 42, tag: 'Xb3k' }), '42.Xb3k')
  t.equal(formatPosition({ offset: 0, tag: 'Xb3k' }), null, 'offset 0 (before the first event) has no wire form')
})

test('contiguous events are delivered; the last position is kept and is the since of a rejoin', async (t) => {
  const h = await open(t)
  await joined(h, '3.AAAA')
  t.equal(h.vix.lastPosition('general'), '3.AAAA', 'the join ack is the baseline')
  h.socket().receive(event(4))
  h.socket().receive(event(5))
  t.same(h.seen, [4, 5])
  t.equal(h.vix.lastPosition('general'), '5.AAAA')
  t.equal(h.vix.lastEventId('general'), 'm-AAAA-5')
  t.same(h.gaps, [])
  t.equal(h.joins().length, 1, 'no rejoin')

  // A reconnect rejoins with the position, not the id.
  h.socket().drop()
  h.clock.tick(10_000)
  h.socket().open()
  t.same(h.joins()[0].payload, { room: 'general', since: '5.AAAA' })
})

test('an event already delivered is dropped by its position, silently', async (t) => {
  const h = await open(t)
  await joined(h, '3.AAAA')
  h.socket().receive(event(4))
  h.socket().receive(event(5))
  h.socket().receive(event(5))
  h.socket().receive(event(4))
  h.socket().receive(event(3))
  // Another id at an old position is still a duplicate: the position is what counts.
  h.socket().receive({ ...event(5), id: 'other' })
  h.socket().receive(event(6))
  t.same(h.seen, [4, 5, 6])
  t.same(h.gaps, [])
  t.equal(h.joins().length, 1)
})

test('an offset jump is not delivered: the room is rejoined from the last position and the app sees every event once, in order', async (t) => {
  const h = await open(t)
  await joined(h, '3.AAAA')
  h.socket().receive(event(4))
  h.socket().receive(event(6)) // 5 was lost on the way
  t.same(h.seen, [4], 'the event past the hole waits')
  t.same(h.gaps, [{ room: 'general', reason: 'jump', expected: '5.AAAA', got: '6.AAAA' }])
  t.equal(h.joins().length, 2, 'one rejoin, at once')
  t.same(h.joins()[1].payload, { room: 'general', since: '4.AAAA' })
  // More live events while the rejoin is in flight: held, no second gap, no second rejoin.
  h.socket().receive(event(7))
  h.socket().receive(event(9))
  t.equal(h.joins().length, 2)
  t.equal(h.gaps.length, 1)
  // The server replays 5..7 before the ack (its replay overlaps what was held).
  h.socket().receive(event(5))
  h.socket().receive(event(6))
  h.socket().receive(event(7))
  h.socket().receive(event(8))
  t.same(h.seen, [4], 'nothing is delivered before the ack')
  h.ack({ recovered: true, replayed: 4, pos: '8.AAAA' })
  t.same(h.seen, [4, 5, 6, 7, 8, 9], 'each once, in order')
  t.equal(h.vix.lastPosition('general'), '9.AAAA')
  t.equal(h.joins().length, 2, 'filled: no further rejoin')
  t.same(h.failures, [])
  h.clock.tick(60_000)
  t.equal(h.joins().length, 2, 'nothing scheduled either')
  h.socket().receive(event(10))
  t.same(h.seen.at(-1), 10)
})

test('an epoch change is a hole: rejoin from the old position; the server cannot fill it, so the app gets one recovered:false event and the stream goes on in the new epoch', async (t) => {
  const h = await open(t)
  await joined(h, '5.AAAA')
  h.socket().receive(event(6))
  h.socket().receive(event(3, 'BBBB'))
  t.same(h.gaps, [{ room: 'general', reason: 'epoch', expected: '7.AAAA', got: '3.BBBB' }])
  t.same(h.joins().at(-1).payload, { room: 'general', since: '6.AAAA' })
  h.socket().receive(event(4, 'BBBB'))
  h.ack({ recovered: false, pos: '3.BBBB', latestId: 'm-BBBB-3' })
  t.same(h.failures, [{
    room: 'general',
    recovered: false,
    reason: 'not_recovered',
    since: '6.AAAA',
    latestId: 'm-BBBB-3',
    pos: '3.BBBB',
    missed: { after: '6.AAAA', until: '3.BBBB', count: null }
  }])
  t.same(h.seen, [6, 4], 'the held event after the new baseline is delivered')
  h.socket().receive(event(5, 'BBBB'))
  t.same(h.seen, [6, 4, 5])
  t.equal(h.vix.lastPosition('general'), '5.BBBB')
  t.equal(h.failures.length, 1, 'one event for the hole')
  t.equal(h.joins().length, 2, 'no loop')
})

test('room.interrupted: the room is rejoined from its last position; during a join, once that join is acked', async (t) => {
  const h = await open(t)
  await joined(h, '2.AAAA')
  h.socket().receive(event(3))
  const interrupted = { kind: 'system', type: 'room.interrupted', room: 'general', payload: { room: 'general', code: 'VIX_ERR_STREAM_BROKEN', message: 'store unreachable', pos: '3.AAAA' } }
  const system: VixMessage[] = []
  h.vix.on('system', (frame) => { system.push(frame) })
  h.socket().receive(interrupted)
  t.equal(system.length, 1, 'the app still sees the system frame')
  t.same(h.gaps, [{ room: 'general', reason: 'interrupted', expected: '4.AAAA', got: null }])
  t.same(h.joins().at(-1).payload, { room: 'general', since: '3.AAAA' })
  h.socket().receive(event(4))
  h.ack({ recovered: true, replayed: 1, pos: '4.AAAA' })
  t.same(h.seen, [3, 4])
  t.equal(h.joins().length, 2)

  // Interrupted while a join is in flight (a reconnect's rejoin): once acked, rejoin again from where it got.
  h.socket().drop()
  h.clock.tick(10_000)
  h.socket().open()
  t.equal(h.joins().length, 1, 'the new socket rejoined')
  h.socket().receive(interrupted)
  t.equal(h.joins().length, 1, 'not while that join is in flight')
  h.socket().receive(event(5))
  h.ack({ recovered: true, replayed: 1, pos: '5.AAAA' })
  t.same(h.joins().at(-1).payload, { room: 'general', since: '5.AAAA' }, 'rejoined after the ack, from the last position')
  t.equal(h.joins().length, 2)
  h.ack({ recovered: true, replayed: 0, pos: '5.AAAA' })
  t.same(h.seen, [3, 4, 5])
  // An interruption of a room the client is not in is ignored.
  h.socket().receive({ ...interrupted, room: 'other', payload: { room: 'other' } })
  t.equal(h.joins().length, 2)
})

test('a hole that rejoins cannot fill: capped backoff between attempts, then one recovered:false event, and no loop', async (t) => {
  const h = await open(t, { gapRecovery: { minDelay: 100, maxDelay: 400, maxAttempts: 6 } })
  await joined(h, '3.AAAA')
  h.socket().receive(event(5)) // 4 is lost and stays lost: every replay misses it too
  const sentAt: number[] = [h.clock.now]
  t.equal(h.joins().length, 2, 'first rejoin at once')
  for (let attempt = 2; attempt <= 6; attempt++) {
    h.socket().receive(event(5))
    h.ack({ recovered: true, replayed: 2, pos: '5.AAAA' })
    const before = h.joins().length
    // Step the clock 10 ms at a time to see when the next rejoin goes out.
    while (h.joins().length === before) h.clock.tick(10)
    sentAt.push(h.clock.now)
  }
  const waits = sentAt.slice(1).map((at, i) => at - sentAt[i])
  t.same(waits, [100, 200, 400, 400, 400], 'exponential from minDelay, capped at maxDelay (random 0: no jitter shortening)')
  t.equal(h.gaps.length, 1, 'one hole, announced once')
  t.same(h.seen, [])
  // The sixth attempt fails too: give up.
  h.socket().receive(event(5))
  h.socket().receive(event(6))
  h.ack({ recovered: true, replayed: 3, pos: '6.AAAA' })
  t.same(h.failures, [{
    room: 'general',
    recovered: false,
    reason: 'gap_unfilled',
    since: '3.AAAA',
    latestId: null,
    pos: '6.AAAA',
    missed: { after: '3.AAAA', until: '6.AAAA', count: 3 }
  }])
  const joins = h.joins().length
  h.clock.tick(60_000)
  t.equal(h.joins().length, joins, 'no further rejoin')
  t.equal(h.clock.pending, 0, 'no timer left')
  h.socket().receive(event(7))
  t.same(h.seen, [7], 'the stream goes on after the position given')
  t.equal(h.vix.lastPosition('general'), '7.AAAA')
  t.equal(h.failures.length, 1)
})

test('jitter only shortens a rejoin delay; a rejoin that is never acked counts as a failed attempt', async (t) => {
  const h = await open(t, { timeout: 500, random: () => 0.5, reconnect: { jitter: 0.5 }, gapRecovery: { minDelay: 1000, maxDelay: 1000, maxAttempts: 2 } })
  await joined(h, '1.AAAA')
  h.socket().receive(event(3))
  t.equal(h.joins().length, 2)
  h.clock.tick(499)
  t.equal(h.joins().length, 2)
  h.clock.tick(1) // no ack within `timeout`
  h.clock.tick(749)
  t.equal(h.joins().length, 2, 'the delay is 1000 * (1 - 0.5 * 0.5) = 750')
  h.clock.tick(1)
  t.equal(h.joins().length, 3)
  t.same(h.joins()[2].payload, { room: 'general', since: '1.AAAA' })
  h.clock.tick(500) // the second is not acked either
  t.equal(h.failures.length, 1)
  t.match(h.failures[0], { reason: 'gap_unfilled', since: '1.AAAA', pos: '3.AAAA', missed: { count: 2 } })
  // A late ack of that last join is still processed as a plain join.
  h.socket().receive(event(2))
  h.ack({ recovered: true, replayed: 1, pos: '2.AAAA' })
  h.socket().receive(event(4))
  t.same(h.seen, [4], 'after giving up, the stream resumes past the hole (2 and 3 were reported missed)')
  t.equal(h.failures.length, 1)
})

test('a join ack ahead of what was replayed is a hole (a replayed event was lost)', async (t) => {
  const h = await open(t)
  await joined(h, '2.AAAA')
  h.socket().drop()
  h.clock.tick(10_000)
  h.socket().open()
  t.same(h.joins()[0].payload, { room: 'general', since: '2.AAAA' })
  h.socket().receive(event(3))
  // 4 and 5 were replayed but never arrived.
  h.ack({ recovered: true, replayed: 3, pos: '5.AAAA' })
  t.same(h.gaps, [{ room: 'general', reason: 'ack', expected: '4.AAAA', got: '5.AAAA' }])
  t.same(h.joins().at(-1).payload, { room: 'general', since: '3.AAAA' })
  h.socket().receive(event(4))
  h.socket().receive(event(5))
  h.ack({ recovered: true, replayed: 2, pos: '5.AAAA' })
  t.same(h.seen, [3, 4, 5])
  t.same(h.failures, [])
})

test('a room without stored events: offset 1 comes next; a first event past it cannot be asked for and is reported at once', async (t) => {
  const h = await open(t)
  await joined(h, null)
  h.socket().receive(event(1))
  t.same(h.seen, [1])
  h.socket().receive(event(2))
  t.same(h.seen, [1, 2])

  const g = await open(t)
  await joined(g, null)
  g.socket().receive(event(3))
  t.same(g.gaps, [{ room: 'general', reason: 'jump', expected: null, got: '3.AAAA' }])
  t.same(g.failures, [{ room: 'general', recovered: false, reason: 'gap_unfilled', since: '', latestId: null, pos: '3.AAAA', missed: { after: '', until: '3.AAAA', count: 3 } }])
  t.equal(g.joins().length, 1, 'no position to rejoin from: no rejoin')
  g.socket().receive(event(4))
  t.same(g.seen, [4])
})

test('events held while a join is in flight are processed against its ack; a fresh join starts at the first held event', async (t) => {
  const h = await open(t)
  const joining = h.vix.join('general')
  // Live events that reached the session before its ack (the server's head was 7 when it answered).
  h.socket().receive(event(7))
  h.socket().receive(event(8))
  t.same(h.seen, [])
  h.ack({ recovered: false, pos: '7.AAAA' })
  await joining
  t.same(h.seen, [7, 8], 'nothing held is lost to the ack')
  t.same(h.gaps, [])
})

test('since given by the app: a position is sent as is; an id is resolved by the ack (replayed events end at its pos)', async (t) => {
  const h = await open(t)
  const byPosition = h.vix.join('general', { since: '10.AAAA' })
  t.same(h.joins()[0].payload, { room: 'general', since: '10.AAAA' })
  t.equal(h.vix.lastPosition('general'), '10.AAAA')
  h.socket().receive(event(11))
  h.ack({ recovered: true, replayed: 1, pos: '11.AAAA' })
  t.match(await byPosition, { recovered: true, replayed: 1, pos: '11.AAAA' })
  t.same(h.seen, [11])

  const byId = h.vix.join('news', { since: 'm-41' })
  t.same(h.joins().at(-1).payload, { room: 'news', since: 'm-41' })
  h.socket().receive(event(42, 'AAAA', 'news'))
  h.socket().receive(event(43, 'AAAA', 'news'))
  h.ack({ recovered: true, replayed: 2, pos: '43.AAAA' })
  await byId
  t.same(h.seen, [11, 42, 43])
  t.equal(h.vix.lastPosition('news'), '43.AAAA')
  h.socket().receive(event(45, 'AAAA', 'news'))
  t.match(h.gaps, [{ room: 'news', reason: 'jump', expected: '44.AAAA' }], 'checked from then on')

  // A server without positions: no pos anywhere, the id is the position as before.
  const old = h.vix.join('legacy', { since: 'x-1' })
  h.ack({ recovered: true, replayed: 0, latestId: 'x-1' })
  t.same(await old, { room: 'legacy', recovered: true, replayed: 0, latestId: 'x-1' }, 'no pos in the ack: none in the result')
  t.equal(h.vix.lastPosition('legacy'), undefined)
})

test('events without a position (rooms that are not stored) are still deduplicated by id', async (t) => {
  const h = await open(t)
  await joined(h, null)
  const plain = (id: string, n: number): Record<string, unknown> => ({ kind: 'event', type: 'chat.message', room: 'general', id, ts: 't', payload: { n } })
  h.socket().receive(plain('a', 1))
  h.socket().receive(plain('b', 2))
  h.socket().receive(plain('a', 1))
  h.socket().receive({ ...plain('c', 3), pos: 'not-a-position' })
  h.socket().receive({ kind: 'event', type: 'chat.message', room: 'general', ts: 't', payload: { n: 4 } })
  t.same(h.seen, [1, 2, 3, 4])
  t.equal(h.vix.lastEventId('general'), 'c')
  t.equal(h.vix.lastPosition('general'), undefined)
  t.same(h.gaps, [])
  t.same(h.joins().at(-1).payload, { room: 'general' }, 'a reconnect would rejoin with the id')
  h.socket().drop()
  h.clock.tick(10_000)
  h.socket().open()
  t.same(h.joins()[0].payload, { room: 'general', since: 'c' })
})

test('a connection lost during a rejoin: held events in order are delivered, the rest are replayed on the next one', async (t) => {
  const h = await open(t)
  await joined(h, '1.AAAA')
  h.socket().receive(event(3))
  t.equal(h.joins().length, 2)
  h.socket().receive(event(2))
  h.socket().receive(event(4))
  h.socket().drop()
  t.same(h.seen, [2], 'the contiguous one is delivered; 4 waits (3 was never delivered)')
  h.clock.tick(10_000)
  h.socket().open()
  t.same(h.joins()[0].payload, { room: 'general', since: '2.AAAA' })
  h.socket().receive(event(3))
  h.socket().receive(event(4))
  h.ack({ recovered: true, replayed: 2, pos: '4.AAAA' })
  t.same(h.seen, [2, 3, 4])
  t.equal(h.gaps.length, 1)
  t.same(h.failures, [])
})

test('leaving a room during a rejoin cancels its filling', async (t) => {
  const h = await open(t, { gapRecovery: { minDelay: 100, maxDelay: 100, maxAttempts: 3 } })
  await joined(h, '1.AAAA')
  h.socket().receive(event(3))
  // The server replays nothing (its store lags behind what this node sent live): 3 was seen, so the hole is still there.
  h.ack({ recovered: true, replayed: 0, pos: '1.AAAA' })
  t.equal(h.clock.pending > 0, true, 'the next attempt waits')
  const leaving = h.vix.leave('general')
  const leave = h.socket().sent.at(-1)
  h.socket().receive({ kind: 'ack', type: 'room.leave', id: leave.id, payload: {} })
  await leaving
  h.clock.tick(10_000)
  t.equal(h.joins().length, 2, 'no rejoin of a room left')
  t.same(h.failures, [])
})

test('publish acks carry the position and duplicate: true', async (t) => {
  const h = await open(t)
  const first = h.vix.publish('general', 'chat.message', { text: 'hi' }, { id: 'p-1' })
  h.socket().receive({ kind: 'ack', type: 'chat.message', id: 'p-1', room: 'general', payload: { pos: '7.AAAA' } })
  t.same(await first, { id: 'p-1', type: 'chat.message', room: 'general', pos: '7.AAAA' })
  const again = h.vix.publish('general', 'chat.message', { text: 'hi' }, { id: 'p-1' })
  h.socket().receive({ kind: 'ack', type: 'chat.message', id: 'p-1', room: 'general', payload: { duplicate: true, pos: '7.AAAA' } })
  t.same(await again, { id: 'p-1', type: 'chat.message', room: 'general', pos: '7.AAAA', duplicate: true })
  const plain = h.vix.publish(null, 'ping', {}, { id: 'p-2' })
  h.socket().receive({ kind: 'ack', type: 'ping', id: 'p-2', payload: {} })
  t.same(await plain, { id: 'p-2', type: 'ping' }, 'unstored: neither field')
})

test('gapRecovery options are checked', async (t) => {
  const base = { url: 'ws://x/ws', WebSocket: ScriptedSocket as any, longPolling: false as const }
  t.throws(() => new VixClient({ ...base, gapRecovery: { maxAttempts: 0 } }), /"gapRecovery.maxAttempts"/)
  t.throws(() => new VixClient({ ...base, gapRecovery: { maxAttempts: Infinity } }), /"gapRecovery.maxAttempts"/)
  t.throws(() => new VixClient({ ...base, gapRecovery: { minDelay: 500, maxDelay: 100 } }), /"gapRecovery.maxDelay"/)
  t.throws(() => new VixClient({ ...base, gapRecovery: { minDelay: -1 } }), /"gapRecovery.minDelay"/)
})

test('long polling: the 202 of a publish carries its pos and duplicate, and the publish resolves with them', async (t) => {
  const answers = [{ id: 'p-1', pos: '7.AAAA' }, { id: 'p-1', pos: '7.AAAA', duplicate: true }, { id: 'p-2' }]
  const fetch: FetchLike = async (url, init) => {
    const json = async (): Promise<unknown> => {
      if (init.method === 'POST') return answers.shift()
      if (!url.includes('session_id')) return { session_id: 's-1', messages: [], next: 0 }
      await new Promise((resolve) => setTimeout(resolve, 20))
      return { messages: [], next: 0 }
    }
    return { status: init.method === 'POST' ? 202 : 200, headers: { get: () => null }, json }
  }
  const vix = new VixClient({ url: 'ws://example.test/ws', WebSocket: null, transports: ['polling'], fetch, longPolling: { wait: 0 }, autoUnref: true })
  t.teardown(() => { vix.close() })
  await vix.connect()
  t.same(await vix.publish(null, 'chat.message', { n: 1 }, { id: 'p-1' }), { id: 'p-1', type: 'chat.message', pos: '7.AAAA' })
  t.same(await vix.publish(null, 'chat.message', { n: 1 }, { id: 'p-1' }), { id: 'p-1', type: 'chat.message', pos: '7.AAAA', duplicate: true })
  t.same(await vix.publish(null, 'chat.message', { n: 2 }, { id: 'p-2' }), { id: 'p-2', type: 'chat.message' }, 'a 202 without them: neither')
})

test('a rejoin refused for now (the node\'s store unreachable) is sent again with backoff, keeping the room and its position; a real refusal ends it', async (t) => {
  const h = await open(t, { timeout: 60_000 })
  await joined(h, '3.AAAA')
  h.socket().receive(event(4))
  h.socket().receive(event(6))
  const rejoin = h.joins().at(-1)
  t.same(rejoin.payload, { room: 'general', since: '4.AAAA' }, 'the gap rejoin')
  const errors: string[] = []
  h.vix.on('error', (error) => { errors.push(error.code) })
  for (let i = 0; i < 8; i++) {
    const last = h.joins().at(-1)
    h.socket().receive({ kind: 'error', type: 'error', id: last.id, ts: '', payload: { code: 'VIX_ERR_STORE_UNAVAILABLE', message: 'down' } })
    t.equal(h.joins().length, 2 + i, 'nothing sent at once')
    h.clock.tick(5000)
    t.equal(h.joins().length, 3 + i, `then sent again (attempt ${i + 2}), past maxAttempts too`)
    t.same(h.joins().at(-1).payload, { room: 'general', since: '4.AAAA' }, 'from the same position')
  }
  t.same(h.failures, [], 'a passing refusal is not an unfillable gap')
  t.equal(errors.length, 8, 'each refusal is reported as an error event')
  h.socket().receive(event(5, 'AAAA'))
  h.socket().receive(event(6, 'AAAA'))
  h.ack({ recovered: true, replayed: 2, pos: '6.AAAA' })
  t.same(h.seen, [4, 5, 6], 'filled once the node answers')
  h.socket().receive(event(7))
  h.socket().receive(event(9))
  const last = h.joins().at(-1)
  h.socket().receive({ kind: 'error', type: 'error', id: last.id, ts: '', payload: { code: 'VIX_ERR_FORBIDDEN', message: 'no' } })
  h.clock.tick(10_000)
  t.equal(h.joins().at(-1).id, last.id, 'a refusal that means no is not retried')
})
