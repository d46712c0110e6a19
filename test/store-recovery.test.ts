import t from 'tap'
import { Hub } from '../lib/hub/hub.js'
import type { Session, Transport } from '../lib/session.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { persistPredicate, StorePersistence } from '../lib/store/persistence.js'
import { MemberGate } from '../lib/store/member-gate.js'
import { RetentionSweeper } from '../lib/store/retention.js'
import type { MessageStore, ReplayResult } from '../lib/store/types.js'
import type { Envelope } from '../lib/broker/types.js'
import type { RealtimeMessage } from '../lib/frames.js'
import { PreparedFrame } from '../lib/prepared-frame.js'
import { join } from 'node:path'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import type { MessageStorePluginOptions } from '../plugins/message-store.js'
import { build } from './helpers/app.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { delay } from './helpers/wait.js'

interface FakeClient { session: Session, frames: any[], prepared: PreparedFrame[] }

/** A session over a fake transport; `prepared`: take fan-out frames as prepared (as the WebSocket transport does) and record them. */
function fakeClient (hub: Hub, prepared = false): FakeClient {
  const frames: any[] = []
  const seen: PreparedFrame[] = []
  const transport: Transport = {
    name: 'fake',
    send: (data) => { frames.push(JSON.parse(String(data))) },
    bufferedAmount: () => 0,
    close () {},
    terminate () {}
  }
  if (prepared) transport.sendPrepared = (frame) => { seen.push(frame); frames.push(JSON.parse(frame.text)) }
  return { session: hub.openSession(transport), frames, prepared: seen }
}

const prepared = (text: string): PreparedFrame => new PreparedFrame(text)

function setup (store: MessageStore = new MemoryMessageStore(), options: ConstructorParameters<typeof StorePersistence>[2] = {}): { hub: Hub, store: MessageStore, outbound: number[] } {
  const hub = new Hub({ relayTypes: ['chat.message', 'chat.typing'] })
  hub.attachPersistence(new StorePersistence(hub.persistenceParts(), store, options))
  const outbound: number[] = []
  hub.addObserver({ messagesOutbound: (count) => { outbound.push(count) } })
  return { hub, store, outbound }
}

const events = (client: FakeClient): string[] => client.frames.filter((f) => f.kind === 'event').map((f) => f.id)
const joinAck = (client: FakeClient): any => client.frames.find((f) => f.kind === 'ack' && f.type === 'room.join')

async function publishMany (hub: Hub, room: string, ids: string[]): Promise<void> {
  for (const id of ids) await hub.publish({ id, room, type: 'chat.message', payload: { text: id } })
}

/** A store whose replay read can be held open, to publish while a join is replaying. */
class HeldReplayStore extends MemoryMessageStore {
  hold: Promise<void> | undefined
  reading: (() => void) | undefined
  override async replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult> {
    const result = await super.replayFrom(room, afterId, limit)
    this.reading?.()
    await this.hold
    return result
  }
}

t.test('join with since replays what was missed, in order, then the ack', async (t) => {
  const { hub } = setup()
  await publishMany(hub, 'general', ['m1', 'm2', 'm3', 'm4'])
  const client = fakeClient(hub)
  await hub.receiveRequest(client.session, JSON.stringify({ type: 'room.join', payload: { room: 'general', since: 'm2' } }))
  t.same(events(client), ['m3', 'm4'])
  t.same(client.frames.map((f) => f.kind), ['event', 'event', 'ack'])
  t.match(joinAck(client).payload, { room: 'general', recovered: true, replayed: 2, latestId: 'm4' })
  await publishMany(hub, 'general', ['m5'])
  t.same(events(client), ['m3', 'm4', 'm5'], 'then live messages')

  const upToDate = fakeClient(hub)
  await hub.receiveRequest(upToDate.session, JSON.stringify({ type: 'room.join', payload: { room: 'general', since: 'm5' } }))
  t.match(joinAck(upToDate).payload, { room: 'general', recovered: true, replayed: 0, latestId: 'm5' })
})

t.test('a message published while the join is replaying arrives once, after the replayed ones', async (t) => {
  const store = new HeldReplayStore()
  const { hub, outbound } = setup(store)
  await publishMany(hub, 'general', ['m1', 'm2', 'm3'])
  let release!: () => void
  store.hold = new Promise((resolve) => { release = resolve })
  const read = new Promise<void>((resolve) => { store.reading = resolve })
  const client = fakeClient(hub)
  const joined = hub.receiveRequest(client.session, JSON.stringify({ type: 'room.join', payload: { room: 'general', since: 'm1' } }))
  await read
  // The replay snapshot is taken; these two are live deliveries to a session already in the room.
  await publishMany(hub, 'general', ['m4', 'm5'])
  t.same(events(client), [], 'held back while replaying')
  release()
  await joined
  t.same(events(client), ['m2', 'm3', 'm4', 'm5'])
  t.ok(outbound.includes(4), 'replayed and released frames are counted as outbound')
  t.equal(client.session.gates.size, 1, 'the gate lasts as long as the membership')
})

t.test('the fast path: live frames held back during a replay are the prepared frames the room got, released once, after the replay', async (t) => {
  const store = new HeldReplayStore()
  const { hub } = setup(store)
  await publishMany(hub, 'general', ['m1', 'm2'])
  const member = fakeClient(hub, true)
  await hub.receiveRequest(member.session, JSON.stringify({ type: 'room.join', payload: { room: 'general' } }))
  let release!: () => void
  store.hold = new Promise((resolve) => { release = resolve })
  const read = new Promise<void>((resolve) => { store.reading = resolve })
  const joiner = fakeClient(hub, true)
  const joined = hub.receiveRequest(joiner.session, JSON.stringify({ type: 'room.join', payload: { room: 'general', since: 'm1' } }))
  await read
  await publishMany(hub, 'general', ['m3', 'm4'])
  t.same(events(member), ['m3', 'm4'], 'the member in the room got them live')
  t.same(events(joiner), [], 'the joiner gets nothing live while its replay runs')
  release()
  await joined
  t.same(events(joiner), ['m2', 'm3', 'm4'], 'replayed, then the held frames, each once, in order')
  t.equal(joiner.prepared.length, 2, 'the held frames leave as prepared frames')
  t.ok(joiner.prepared.every((frame, i) => frame === member.prepared[i]), 'the very frames (and bytes) the room got: prepared once')
})

t.test('a stored message delivered after the replay that carried it is dropped, however late or out of order it comes', async (t) => {
  const { hub, store } = setup()
  await publishMany(hub, 'general', ['m1'])
  // m2 is committed (so the replay reads it) but its live delivery has not run yet.
  const m2: RealtimeMessage = { id: 'm2', kind: 'event', room: 'general', type: 'chat.message', ts: new Date().toISOString(), payload: {} }
  const stored = await store.append({ ...m2, id: 'm2', room: 'general' }, 'server')
  const late: Envelope = { node: 'elsewhere', room: 'general', ...stored.position, message: m2 }
  const client = fakeClient(hub)
  await hub.receiveRequest(client.session, JSON.stringify({ type: 'room.join', payload: { room: 'general', since: 'm1' } }))
  t.same(events(client), ['m2'])
  t.equal(hub.deliverLocal(late), 0, 'the late delivery of m2 is not delivered again')
  hub.deliverLocal({ node: 'elsewhere', room: 'general', message: { id: 'note', kind: 'event', room: 'general', type: 'chat.typing', ts: new Date().toISOString(), payload: {} } })
  t.same(events(client), ['m2', 'note'], 'an unstored message (no offset) still passes')
  await publishMany(hub, 'general', ['m3'])
  t.same(events(client), ['m2', 'note', 'm3'])
  t.equal(hub.deliverLocal(late), 0, 'after newer traffic, an old offset (from another node, say) is still a duplicate')
  t.equal(client.session.gates.size, 1, 'the watermark lasts as long as the membership')
  t.same(events(client), ['m2', 'note', 'm3'])
})

t.test('a member gate passes each offset once and contiguously; a jump or a new epoch closes it and tells the session', async (t) => {
  const { hub } = setup()
  const message = (id: string): RealtimeMessage => ({ id, kind: 'event', room: 'r', type: 'x', ts: new Date().toISOString(), payload: {} })
  const admit = (gate: MemberGate, offset: number, epoch: string): boolean => gate.admit({ node: 'n', room: 'r', offset, epoch, message: message(`m${offset}`) }, prepared('{}'))
  for (const [label, offset, epoch] of [['a jump', 8, 'e1'], ['a new epoch', 1, 'e2']] as const) {
    const client = fakeClient(hub)
    await hub.receiveRequest(client.session, JSON.stringify({ type: 'room.join', payload: { room: 'r' } }))
    const gate = client.session.gates.get('r') as MemberGate
    t.equal(admit(gate, 5, 'e1'), true, 'the first offset sets the baseline')
    t.equal(admit(gate, 5, 'e1'), false, 'same offset, same epoch: duplicate')
    t.equal(admit(gate, 6, 'e1'), true, 'the next offset passes')
    t.equal(admit(gate, offset, epoch), false, `${label} does not pass`)
    const told = client.frames.filter((f) => f.type === 'room.interrupted')
    t.match(told, [{ kind: 'system', room: 'r', payload: { room: 'r', code: 'VIX_ERR_STREAM_BROKEN' } }], `${label}: the session is told once`)
    t.equal(told[0].payload.pos.split('.')[0], '6', 'with its last position')
    t.equal(admit(gate, 7, 'e1'), false, 'a closed gate drops everything until the session rejoins')
    t.equal(client.frames.filter((f) => f.type === 'room.interrupted').length, 1)
  }
})

t.test('recovered:false sends nothing when since is unknown or too far back; live traffic follows', async (t) => {
  const { hub } = setup(undefined, { replayLimit: 2 })
  await publishMany(hub, 'general', ['m1', 'm2', 'm3', 'm4'])
  for (const since of ['unknown-id', 'm1']) {
    const client = fakeClient(hub)
    await hub.receiveRequest(client.session, JSON.stringify({ type: 'room.join', payload: { room: 'general', since } }))
    t.same(events(client), [], `no partial replay for since=${since}`)
    t.match(joinAck(client).payload, { room: 'general', recovered: false, replayed: 0, latestId: 'm4' })
    t.ok(client.session.rooms.has('general'), 'still joined')
  }
  const fresh = fakeClient(hub)
  await hub.receiveRequest(fresh.session, JSON.stringify({ type: 'room.join', payload: { room: 'general' } }))
  t.match(joinAck(fresh).payload, { room: 'general', recovered: false, replayed: 0, latestId: 'm4' }, 'no since: the head of the room')
  await publishMany(hub, 'general', ['m5'])
  t.same(events(fresh), ['m5'])
  const empty = fakeClient(hub)
  await hub.receiveRequest(empty.session, JSON.stringify({ type: 'room.join', payload: { room: 'quiet', since: 'x' } }))
  t.match(joinAck(empty).payload, { room: 'quiet', recovered: false, replayed: 0, latestId: null })
  const emptyNoSince = fakeClient(hub)
  await hub.receiveRequest(emptyNoSince.session, JSON.stringify({ type: 'room.join', payload: { room: 'quiet' } }))
  t.match(joinAck(emptyNoSince).payload, { room: 'quiet', recovered: false, replayed: 0, latestId: null })
})

t.test('unstored messages published during a replay are delivered after it', async (t) => {
  const store = new HeldReplayStore()
  const { hub } = setup(store, { persist: { types: ['chat.message'] } })
  await publishMany(hub, 'general', ['m1', 'm2'])
  let release!: () => void
  store.hold = new Promise((resolve) => { release = resolve })
  const client = fakeClient(hub)
  const joined = hub.receiveRequest(client.session, JSON.stringify({ type: 'room.join', payload: { room: 'general', since: 'm1' } }))
  await new Promise((resolve) => setImmediate(resolve))
  await hub.publish({ id: 't1', room: 'general', type: 'chat.typing' })
  release()
  await joined
  t.same(events(client), ['m2', 't1'])
  t.same((await store.listByRoom('general', { limit: 10 })).messages.map((m) => m.message.id), ['m1', 'm2'], 'chat.typing was not stored')
})

t.test('a store failure during join answers VIX_ERR_INTERNAL and leaves the session out of the room', async (t) => {
  const store = new MemoryMessageStore()
  store.replayFrom = async () => { throw new Error('disk on fire') }
  const { hub } = setup(store)
  const client = fakeClient(hub)
  const result = await hub.receiveRequest(client.session, JSON.stringify({ type: 'room.join', payload: { room: 'general', since: 'x' } }))
  t.match(result, { ok: false, code: 'VIX_ERR_INTERNAL' })
  t.equal(client.session.rooms.size, 0)
  t.equal(client.session.gates.size, 0)
})

t.test('a duplicate client id is acked again but neither stored nor delivered twice', async (t) => {
  const { hub, store } = setup()
  const sender = fakeClient(hub)
  const member = fakeClient(hub)
  hub.join(sender.session, 'general')
  hub.join(member.session, 'general')
  const frame = JSON.stringify({ id: 'c-1', room: 'general', type: 'chat.message', payload: { text: 'once' } })
  await hub.receiveRequest(sender.session, frame)
  await hub.receiveRequest(sender.session, frame)
  t.same(sender.frames.filter((f) => f.kind === 'ack').map((f) => f.id), ['c-1', 'c-1'], 'the sender gets the same ack twice')
  t.same(events(member), ['c-1'], 'delivered once')
  t.equal((await store.listByRoom('general', { limit: 10 })).messages.length, 1, 'stored once')
  // Idempotency is per sender: server code is another sender, its equal id is a message of its own.
  const again = await hub.publish({ id: 'c-1', room: 'general', type: 'chat.message', payload: { text: 'changed' } })
  t.equal(again.payload.text, 'changed', 'another sender\'s equal id: publish returns its own message')
  t.same((await store.listByRoom('general', { limit: 10 })).messages.map((e) => [e.offset, e.message.payload.text]), [[1, 'once'], [2, 'changed']], 'stored after the first one')
  const retried = await hub.publish({ id: 'c-1', room: 'general', type: 'chat.message', payload: { text: 'changed again' } })
  t.equal(retried.payload.text, 'changed', 'the same sender again: the stored message')
})

t.test('a gate releases once: a second release sends nothing', async (t) => {
  const { hub } = setup()
  const client = fakeClient(hub)
  const gate = new MemberGate(client.session, (frame) => client.session.send(frame))
  const live: Envelope = { node: 'n', room: 'general', message: { id: 'live', kind: 'event', room: 'general', type: 'x', ts: '', payload: {} } }
  t.equal(gate.admit(live, prepared('{"kind":"event","id":"live"}')), false, 'buffered before release')
  t.equal(gate.release(null), 1)
  t.equal(gate.release(null), 0)
  t.same(events(client), ['live'])
})

t.test('leaving a room drops its replay gate', async (t) => {
  const { hub } = setup()
  await publishMany(hub, 'general', ['m1'])
  const client = fakeClient(hub)
  await hub.receiveRequest(client.session, JSON.stringify({ type: 'room.join', payload: { room: 'general', since: 'm1' } }))
  t.equal(client.session.gates.size, 1)
  hub.leave(client.session, 'general')
  t.equal(client.session.gates.size, 0)
})

const REJOINS = 6

/**
 * SQLite reads are synchronous, so live fan-out can hardly slip between the
 * join and the replay read. A store with read latency (as a networked one
 * has) widens both windows: messages fanned out before the read, and
 * messages committed after it but before the replay is sent.
 */
class SlowReadStore extends SqliteMessageStore {
  override async replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult> {
    await delay(3)
    const result = await super.replayFrom(room, afterId, limit)
    await delay(3)
    return result
  }
}

const variants: Array<[string, (dir: string) => MessageStorePluginOptions]> = [
  ['SQLite', (dir) => ({ path: join(dir, 'race.db') })],
  ['SQLite with read latency', (dir) => ({ store: new SlowReadStore({ path: join(dir, 'race.db') }) })]
]

for (const [name, storeOptions] of variants) {
  t.test(`${name}: a client that keeps rejoining with since while another publishes nonstop gets every message once, in order`, async (t) => {
    const options = storeOptions(t.testdir())
    if (options.store !== undefined) t.teardown(() => options.store?.close())
    const app = await build(t, { relayTypes: ['chat.message'], store: options })
    const publisher = await connect(app)
    await publisher.join('race')

    const state = { sending: true }
    let sent = 0
    const publishing = (async () => {
      while (state.sending) {
      // A few frames per turn, without waiting for acks: appends keep landing during every replay.
        for (let i = 0; i < 3; i++) publisher.send({ id: `p${++sent}`, room: 'race', type: 'chat.message', payload: { n: sent } })
        await new Promise((resolve) => setImmediate(resolve))
        if (sent % 30 === 0) await delay(1)
      }
    })()

    const received: string[] = []
    const eventsOf = (client: TestClient): string[] => client.frames.filter((f: any) => f.kind === 'event').map((f: any) => f.id)
    let subscriber = await connect(app)
    const first = await subscriber.join('race')
    t.equal(first.payload.recovered, false, 'the first join has nothing to recover')
    const recoveries: any[] = []
    for (let round = 0; round < REJOINS; round++) {
      await subscriber.waitForCount((f) => f.kind === 'event', 5)
      subscriber.close()
      await subscriber.closed
      received.push(...eventsOf(subscriber))
      await delay(5)
      subscriber = await connect(app)
      const ack = await subscriber.join('race', received[received.length - 1])
      recoveries.push(ack.payload)
    }
    await subscriber.waitForCount((f) => f.kind === 'event', 5)
    state.sending = false
    await publishing
    const lastId = `p${sent}`
    await publisher.waitFor((f) => f.kind === 'ack' && f.id === lastId, 10_000)
    await subscriber.waitFor((f) => f.kind === 'event' && f.id === lastId, 10_000)
    received.push(...eventsOf(subscriber))

    t.ok(recoveries.every((payload) => payload.recovered === true), 'every rejoin recovered')
    t.ok(recoveries.some((payload) => payload.replayed > 0), 'and some had something to replay')
    const firstSeen = Number(received[0].slice(1))
    const expected = Array.from({ length: sent - firstSeen + 1 }, (_, i) => `p${firstSeen + i}`)
    t.equal(new Set(received).size, received.length, 'no duplicates')
    t.same(received, expected, `every message from the first one seen on, in order (${received.length} messages)`)

    const history = await app.inject({ method: 'GET', url: `/ws/history?room=race&after=${received[0]}&limit=500` })
    t.same(history.json().messages.map((m: any) => m.id), expected.slice(1, 501), 'the same order as the stored history')
  })
}

t.test('persistPredicate: default every room message; lists and functions narrow it; never room-less', async (t) => {
  const m = (room: string | undefined, type: string): RealtimeMessage => ({ kind: 'event', type, ts: '', payload: {}, ...(room === undefined ? {} : { room }) })
  const all = persistPredicate(undefined)
  t.equal(all(m('a', 'x')), true)
  t.equal(all(m(undefined, 'x')), false)
  const lists = persistPredicate({ rooms: ['a'], types: ['x'] })
  t.same([lists(m('a', 'x')), lists(m('b', 'x')), lists(m('a', 'y'))], [true, false, false])
  const fn = persistPredicate((message) => message.type.startsWith('chat.'))
  t.same([fn(m('a', 'chat.message')), fn(m('a', 'presence')), fn(m(undefined, 'chat.message'))], [true, false, false])
})

t.test('the hub reports each stored append to observers', async (t) => {
  const { hub } = setup()
  const appended: number[] = []
  hub.addObserver({ storeAppended: (count, seconds) => { appended.push(count); t.ok(seconds >= 0) } })
  await publishMany(hub, 'general', ['a', 'b'])
  await hub.publish({ type: 'broadcast' })
  t.same(appended, [1, 1], 'room-less broadcasts are not stored')
})

t.test('RetentionSweeper', async (t) => {
  t.test('applies the default rule and per-room overrides, in batches', async (t) => {
    const store = new MemoryMessageStore()
    for (const room of ['a', 'b', 'keep']) {
      for (let i = 1; i <= 10; i++) await store.append({ id: `${room}${i}`, kind: 'event', room, type: 'x', ts: new Date().toISOString(), payload: {} }, 'server')
    }
    const sweeper = new RetentionSweeper(store, { maxMessages: 3, batchSize: 2, rooms: { b: { maxMessages: 8 }, keep: {} } })
    t.same(sweeper.ruleFor('a'), { maxMessages: 3, batchSize: 2, rooms: { b: { maxMessages: 8 }, keep: {} } })
    t.equal(sweeper.ruleFor('keep'), undefined, 'an empty rule keeps everything')
    const first = sweeper.sweep()
    t.equal(sweeper.sweep(), first, 'a second call joins the pass in progress')
    t.equal(await first, 7 + 2)
    t.same((await store.listByRoom('a', { limit: 50 })).messages.map((m) => m.message.id), ['a8', 'a9', 'a10'])
    t.equal((await store.listByRoom('b', { limit: 50 })).messages.length, 8)
    t.equal((await store.listByRoom('keep', { limit: 50 })).messages.length, 10)
    await sweeper.stop()
  })

  t.test('runs on its timer, logs a failed pass, and stop waits for a pass in progress', async (t) => {
    const store = new MemoryMessageStore()
    await store.append({ id: 'old', kind: 'event', room: 'r', type: 'x', ts: new Date(0).toISOString(), payload: {} }, 'server')
    const errors: unknown[] = []
    const logger = { debug () {}, warn () {}, error: (obj: unknown) => { errors.push(obj) } }
    const sweeper = new RetentionSweeper(store, { maxAge: 1000, interval: 5 }, logger)
    sweeper.start()
    sweeper.start()
    for (let i = 0; i < 200 && (await store.rooms()).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
    t.same(await store.rooms(), [], 'the timer pruned the old message')
    store.rooms = async () => { throw new Error('boom') }
    for (let i = 0; i < 200 && errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
    t.match(errors[0], { err: { message: 'boom' } })
    await sweeper.stop()
    sweeper.start()
    t.equal(await sweeper.sweep(), 0, 'a stopped sweeper does not restart')
  })

  t.test('stop interrupts a pass between batches', async (t) => {
    const store = new MemoryMessageStore()
    for (let i = 0; i < 10; i++) await store.append({ id: `m${i}`, kind: 'event', room: 'r', type: 'x', ts: new Date().toISOString(), payload: {} }, 'server')
    const sweeper = new RetentionSweeper(store, { maxMessages: 1, batchSize: 1 })
    const pass = sweeper.sweep()
    await sweeper.stop()
    t.ok(await pass < 9, 'stopped before pruning everything')
  })
})
