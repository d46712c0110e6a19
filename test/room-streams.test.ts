import t from 'tap'
import type { Broker, Envelope } from '../lib/broker/types.js'
import { StoreUnavailableError } from '../lib/errors.js'
import { Hub } from '../lib/hub/hub.js'
import { decodePosition, encodePosition, epochTag } from '../lib/position.js'
import type { Session } from '../lib/session.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { StorePersistence, type StorePersistenceOptions } from '../lib/store/persistence.js'
import type { MessageStore } from '../lib/store/types.js'
import { FakeTransport } from './helpers/fake-transport.js'
import { delay, waitFor } from './helpers/wait.js'

interface Client { hub: Hub, session: Session, transport: FakeTransport }

/**
 * A bus between hubs that the test steers: `drop` loses what is published
 * meanwhile; `hold` keeps envelopes back until `release()` (a late copy).
 */
function steeredBus (): { drop: boolean, hold: boolean, held: Envelope[], release: () => void, broker: () => Broker } {
  const deliveries: Array<(envelope: Envelope) => void> = []
  const bus = {
    drop: false,
    hold: false,
    held: [] as Envelope[],
    release () {
      for (const envelope of bus.held.splice(0)) for (const deliver of deliveries) deliver(envelope)
    },
    broker: (): Broker => ({
      start: (deliver) => { deliveries.push(deliver) },
      publish: (envelope) => {
        if (bus.drop) return
        const copy = JSON.parse(JSON.stringify(envelope)) as Envelope
        if (bus.hold) bus.held.push(copy)
        else for (const deliver of deliveries) deliver(copy)
      },
      subscribe: () => {},
      unsubscribe: () => {},
      close: () => {}
    })
  }
  return bus
}

/** A store whose reads (not appends) fail while `down` is set: another node's database link cut, while the writers' is fine. */
function flakyReads (store: MemoryMessageStore): MessageStore & { down: boolean, failedReads: number } {
  const flaky = Object.create(store) as MessageStore & { down: boolean, failedReads: number }
  flaky.down = false
  flaky.failedReads = 0
  for (const name of ['readAfter', 'latest', 'replayFrom'] as const) {
    const read = (store[name] as (...args: unknown[]) => Promise<unknown>).bind(store)
    Object.defineProperty(flaky, name, {
      value: async (...args: unknown[]) => {
        if (flaky.down) {
          flaky.failedReads++
          throw new StoreUnavailableError('connection terminated unexpectedly')
        }
        return await read(...args)
      }
    })
  }
  return flaky
}

const quietLogger = { debug () {}, warn () {}, error () {}, info () {} }

function cluster (options: StorePersistenceOptions = {}): { store: MemoryMessageStore, readsOfB: ReturnType<typeof flakyReads>, a: Hub, b: Hub, bus: ReturnType<typeof steeredBus>, pb: StorePersistence } {
  const store = new MemoryMessageStore()
  const bus = steeredBus()
  const a = new Hub({ nodeId: 'a', broker: bus.broker(), relayTypes: ['chat'], logger: quietLogger })
  const b = new Hub({ nodeId: 'b', broker: bus.broker(), relayTypes: ['chat'], logger: quietLogger })
  a.attachPersistence(new StorePersistence(a.persistenceParts(), store, { hold: { checkInterval: 0 } }))
  const readsOfB = flakyReads(store)
  const pb = new StorePersistence(b.persistenceParts(), readsOfB, { ...options, hold: { checkInterval: 0, retryMin: 5, retryMax: 20, ...options.hold } })
  b.attachPersistence(pb)
  t.teardown(() => { pb.close() })
  return { store, readsOfB, a, b, bus, pb }
}

async function client (hub: Hub, room: string, since?: string): Promise<Client & { ack: any }> {
  const transport = new FakeTransport()
  const session = hub.openSession(transport)
  const id = `join-${session.id}`
  const joined = await hub.receiveRequest(session, JSON.stringify({ id, type: 'room.join', payload: since === undefined ? { room } : { room, since } }))
  if (!joined.ok) throw new Error(`join failed: ${joined.message}`)
  const ack = transport.frames().find((f) => f.kind === 'ack' && f.id === id)
  return { hub, session, transport, ack }
}

const events = (c: Client): string[] => c.transport.frames().filter((f) => f.kind === 'event').map((f) => f.id)
const positions = (c: Client): string[] => c.transport.frames().filter((f) => f.kind === 'event').map((f) => f.pos)

t.test('a hole whose store read fails is held, not skipped: the late copy and the retried read both fill it, in order', async (t) => {
  const { readsOfB, a, b, bus } = cluster()
  const reader = await client(b, 'r')
  await a.publish({ id: 'm1', room: 'r', type: 'chat' })
  // m2's envelope is late (a stalled link); B's database link is cut while m3 shows the hole.
  bus.hold = true
  await a.publish({ id: 'm2', room: 'r', type: 'chat' })
  bus.hold = false
  readsOfB.down = true
  await a.publish({ id: 'm3', room: 'r', type: 'chat' })
  await waitFor(() => readsOfB.failedReads >= 2, { message: 'the gap read fails, and is retried' })
  t.same(events(reader), ['m1'], 'm3 is held behind the hole, not delivered past it')
  bus.release()
  t.same(events(reader), ['m1', 'm2', 'm3'], 'the late copy of m2 fills the hole at once: nothing was skipped')

  // The other way: the copy never comes; the store comes back and the retry reads it.
  bus.drop = true
  await a.publish({ id: 'm4', room: 'r', type: 'chat' })
  bus.drop = false
  await a.publish({ id: 'm5', room: 'r', type: 'chat' })
  await delay(30)
  t.same(events(reader), ['m1', 'm2', 'm3'], 'held while the store is unreadable')
  readsOfB.down = false
  await waitFor(() => events(reader).length === 5, { message: () => events(reader).join(',') })
  t.same(events(reader), ['m1', 'm2', 'm3', 'm4', 'm5'], 'the retried read fills the hole, then the held message follows')
  const offsets = positions(reader).map((pos) => decodePosition(pos)?.offset)
  t.same(offsets, [1, 2, 3, 4, 5], 'every event carries its position, dense')
})

t.test('past the hold bound the members are told (room.interrupted) and rejoin by position with nothing lost', async (t) => {
  const { readsOfB, a, b, bus } = cluster({ hold: { maxHoldMs: 40 } })
  const reader = await client(b, 'r')
  const other = await client(b, 'r')
  await a.publish({ id: 'm1', room: 'r', type: 'chat' })
  const last = positions(reader)[0]
  readsOfB.down = true
  bus.drop = true
  await a.publish({ id: 'm2', room: 'r', type: 'chat' })
  bus.drop = false
  await a.publish({ id: 'm3', room: 'r', type: 'chat' })
  const interrupted = await waitFor(() => reader.transport.frames().find((f) => f.type === 'room.interrupted'), { message: 'the member is told' })
  t.match(interrupted, { kind: 'system', room: 'r', payload: { room: 'r', code: 'VIX_ERR_STREAM_BROKEN', pos: last } }, 'with the last position delivered in order')
  t.ok(other.transport.frames().some((f) => f.type === 'room.interrupted'), 'every member of the room is told')
  await a.publish({ id: 'm4', room: 'r', type: 'chat' })
  await delay(10)
  t.same(events(reader), ['m1'], 'the broken stream delivers nothing more, never a message past the hole')
  // The client rejoins from its last position; while the store is down the join fails, coded.
  const refused = await b.receiveRequest(reader.session, JSON.stringify({ id: 'again', type: 'room.join', payload: { room: 'r', since: last } }))
  t.match(refused, { ok: false, code: 'VIX_ERR_STORE_UNAVAILABLE' }, 'a rejoin while the store is unreadable is refused, coded (the client retries)')
  readsOfB.down = false
  const rejoined = await b.receiveRequest(reader.session, JSON.stringify({ id: 'again2', type: 'room.join', payload: { room: 'r', since: last } }))
  t.ok(rejoined.ok)
  const ack = reader.transport.frames().find((f) => f.id === 'again2')
  t.match(ack.payload, { recovered: true, replayed: 3 })
  t.same(events(reader), ['m1', 'm2', 'm3', 'm4'], 'everything after its position, once, in order')
  await a.publish({ id: 'm5', room: 'r', type: 'chat' })
  await waitFor(() => events(reader).length === 5, { message: () => events(reader).join(',') })
  t.same(events(reader).slice(4), ['m5'], 'and the live stream goes on')
})

t.test('the hold is bounded in memory too: past maxHeld envelopes the members are told at once', async (t) => {
  const { readsOfB, a, b, bus } = cluster({ hold: { maxHeld: 2, maxHoldMs: 60_000 } })
  const reader = await client(b, 'r')
  await a.publish({ id: 'm1', room: 'r', type: 'chat' })
  readsOfB.down = true
  bus.drop = true
  await a.publish({ id: 'm2', room: 'r', type: 'chat' })
  bus.drop = false
  for (const id of ['m3', 'm4']) await a.publish({ id, room: 'r', type: 'chat' })
  t.notOk(reader.transport.frames().some((f) => f.type === 'room.interrupted'), 'two held: within the bound')
  await a.publish({ id: 'm5', room: 'r', type: 'chat' })
  t.ok(reader.transport.frames().some((f) => f.type === 'room.interrupted'), 'the third is over it: told at once')
  t.same(events(reader), ['m1'])
})

t.test('a broker outage with the store down: the catch-up read is retried until the store answers, with no new message needed', async (t) => {
  const { readsOfB, a, b, bus, pb } = cluster()
  const reader = await client(b, 'r')
  await a.publish({ id: 'm1', room: 'r', type: 'chat' })
  bus.drop = true
  await a.publish({ id: 'm2', room: 'r', type: 'chat' })
  bus.drop = false
  readsOfB.down = true
  pb.resync()
  await waitFor(() => readsOfB.failedReads >= 3, { message: 'retried' })
  readsOfB.down = false
  await waitFor(() => events(reader).length === 2, { message: () => events(reader).join(',') })
  t.same(events(reader), ['m1', 'm2'])
})

t.test('the periodic check delivers a lost last message without a next one', async (t) => {
  const store = new MemoryMessageStore()
  const bus = steeredBus()
  const a = new Hub({ nodeId: 'a', broker: bus.broker(), logger: quietLogger })
  const b = new Hub({ nodeId: 'b', broker: bus.broker(), logger: quietLogger })
  const pa = new StorePersistence(a.persistenceParts(), store, { hold: { checkInterval: 0 } })
  const pb = new StorePersistence(b.persistenceParts(), store, { hold: { checkInterval: 20 } })
  a.attachPersistence(pa)
  b.attachPersistence(pb)
  t.teardown(() => { pb.close() })
  const reader = await client(b, 'r')
  bus.drop = true
  await a.publish({ id: 'only', room: 'r', type: 'chat' })
  await waitFor(() => events(reader).length === 1, { message: 'the check reads it' })
  t.same(events(reader), ['only'])
})

t.test('room.join with since: a position (as an event carries it) or an id; the ack says where the live stream continues', async (t) => {
  const store = new MemoryMessageStore()
  const hub = new Hub({ relayTypes: ['chat'] })
  const persistence = new StorePersistence(hub.persistenceParts(), store, { replayLimit: 3, hold: { checkInterval: 0 } })
  hub.attachPersistence(persistence)
  t.teardown(() => { persistence.close() })
  const empty = await client(hub, 'r')
  t.same(empty.ack.payload, { room: 'r', recovered: false, replayed: 0, latestId: null, pos: null }, 'an empty room: no position yet')
  for (const id of ['m1', 'm2', 'm3', 'm4', 'm5']) await hub.publish({ id, room: 'r', type: 'chat' })
  const pos = positions(empty)
  t.equal(pos.length, 5)
  const epoch = (await store.latest('r'))?.epoch as string
  t.same(pos, [1, 2, 3, 4, 5].map((offset) => encodePosition(offset, epoch)))
  t.ok(pos.every((p) => Buffer.byteLength(`,"pos":"${p}"`) <= 24), 'the position costs at most 24 bytes of a frame')

  const fromPos = await client(hub, 'r', pos[2])
  t.same(events(fromPos), ['m4', 'm5'], 'replayed after the position')
  t.same(fromPos.ack.payload, { room: 'r', recovered: true, replayed: 2, latestId: 'm5', pos: pos[4] })
  const atHead = await client(hub, 'r', pos[4])
  t.same(atHead.ack.payload, { room: 'r', recovered: true, replayed: 0, latestId: 'm5', pos: pos[4] }, 'at the head: nothing to replay')
  const fromId = await client(hub, 'r', 'm3')
  t.same([events(fromId), fromId.ack.payload.pos], [['m4', 'm5'], pos[4]], 'an id still works')
  const fresh = await client(hub, 'r')
  t.same(fresh.ack.payload, { room: 'r', recovered: false, replayed: 0, latestId: 'm5', pos: pos[4] }, 'no since: the head')

  for (const [why, since] of [
    ['another epoch', `3.${epochTag('another-epoch') === epochTag(epoch) ? 'zzzz' : epochTag('another-epoch')}`],
    ['beyond the head', encodePosition(9, epoch)],
    ['more than replayLimit behind', pos[0]]
  ]) {
    const lost = await client(hub, 'r', since)
    t.same([events(lost), lost.ack.payload], [[], { room: 'r', recovered: false, replayed: 0, latestId: 'm5', pos: pos[4] }], `${why}: recovered false, nothing partial`)
  }
  await store.prune('r', { maxMessages: 2 }, Date.now(), 10)
  const pruned = await client(hub, 'r', pos[1])
  t.equal(pruned.ack.payload.recovered, false, 'pruned by retention: recovered false')
})

t.test('a session joining a room again with since (a client repairing a gap) gets what it missed, and the live stream from there', async (t) => {
  const store = new MemoryMessageStore()
  const hub = new Hub({ relayTypes: ['chat'] })
  const persistence = new StorePersistence(hub.persistenceParts(), store, { hold: { checkInterval: 0 } })
  hub.attachPersistence(persistence)
  t.teardown(() => { persistence.close() })
  const reader = await client(hub, 'r')
  for (const id of ['m1', 'm2', 'm3']) await hub.publish({ id, room: 'r', type: 'chat' })
  const [p1] = positions(reader)
  const again = await hub.receiveRequest(reader.session, JSON.stringify({ id: 'rejoin', type: 'room.join', payload: { room: 'r', since: p1 } }))
  t.ok(again.ok)
  t.same(events(reader), ['m1', 'm2', 'm3', 'm2', 'm3'], 'm2 and m3 replayed (the client drops what it has by position)')
  await hub.publish({ id: 'm4', room: 'r', type: 'chat' })
  t.same(events(reader).slice(5), ['m4'], 'then live, once')
  t.equal(hub.rooms.sessionsIn('r')?.size, 1, 'still one membership')
})

t.test('hold options are checked at register time', async (t) => {
  const { resolveMessageStoreOptions } = await import('../lib/store/options.js')
  t.throws(() => resolveMessageStoreOptions({ hold: { maxHeld: 0 } }), { code: 'VIX_ERR_INVALID_OPTION', message: /hold\.maxHeld/ })
  t.throws(() => resolveMessageStoreOptions({ hold: { maxHoldMS: 5 } as any }), { code: 'VIX_ERR_INVALID_OPTION', message: /hold\.maxHoldMS/ })
  t.doesNotThrow(() => resolveMessageStoreOptions({ hold: { checkInterval: 0, retryMax: 100 } }))
})

t.test('since at the head while a message commits between the two reads of a join: recovered, and the new message arrives live once', async (t) => {
  const store = new MemoryMessageStore()
  const hub = new Hub({ relayTypes: ['chat'] })
  const persistence = new StorePersistence(hub.persistenceParts(), store, { hold: { checkInterval: 0 } })
  hub.attachPersistence(persistence)
  t.teardown(() => { persistence.close() })
  const first = await client(hub, 'r')
  await hub.publish({ id: 'm1', room: 'r', type: 'chat' })
  const [p1] = positions(first)
  // The join reads what follows p1 (nothing), then the head: m2 commits in between.
  const latest = store.latest.bind(store)
  let raced = false
  store.latest = async (room) => {
    if (!raced) {
      raced = true
      await hub.publish({ id: 'm2', room: 'r', type: 'chat' })
    }
    return await latest(room)
  }
  const joiner = await client(hub, 'r', p1)
  t.ok(raced, 'the race happened')
  t.match(joiner.ack.payload, { recovered: true, replayed: 0 })
  t.same(events(joiner), ['m2'], 'm2 reaches it live, once')
})
