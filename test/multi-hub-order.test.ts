import t from 'tap'
import type { Broker, BrokerEvents, Envelope } from '../lib/broker/types.js'
import { Hub } from '../lib/hub/hub.js'
import type { Session } from '../lib/session.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { StorePersistence } from '../lib/store/persistence.js'
import type { MessageStore } from '../lib/store/types.js'
import { FakeTransport } from './helpers/fake-transport.js'
import { seeded, ShuffleBus } from './helpers/shuffle-broker.js'
import { delay, waitFor } from './helpers/wait.js'

interface Client { hub: Hub, session: Session, transport: FakeTransport }

function node (bus: ShuffleBus, store: MessageStore, name: string): Hub {
  const hub = new Hub({ relayTypes: ['chat'], nodeId: name, broker: bus.broker(name) })
  hub.attachPersistence(new StorePersistence(hub.persistenceParts(), store))
  return hub
}

async function client (hub: Hub, room: string, since?: string): Promise<Client> {
  const transport = new FakeTransport()
  const session = hub.openSession(transport)
  const joined = await hub.receiveRequest(session, JSON.stringify({ id: `join-${session.id}`, type: 'room.join', payload: since === undefined ? { room } : { room, since } }))
  if (!joined.ok) throw new Error(`join failed: ${joined.message}`)
  return { hub, session, transport }
}

/** The ids of the room events a client received, in arrival order. */
const eventIds = (c: Client): string[] => c.transport.frames().filter((f) => f.kind === 'event').map((f) => f.id)

for (const seed of [1, 2, 3]) {
  t.test(`two hubs, one store, a bus that reorders and duplicates (seed ${seed}): every client gets every message once, in offset order`, async (t) => {
    const random = seeded(seed)
    const bus = new ShuffleBus(random)
    const store = new MemoryMessageStore()
    const a = node(bus, store, 'node-a')
    const b = node(bus, store, 'node-b')
    const clients = [await client(a, 'r'), await client(a, 'r'), await client(b, 'r'), await client(b, 'r')]
    const publishers = [clients[0], clients[2]]

    // Interleaved relays from both nodes, and server publishes on each, with random pauses.
    const perPublisher = 40
    const sends: Array<Promise<unknown>> = []
    for (const [p, publisher] of publishers.entries()) {
      sends.push((async () => {
        for (let i = 0; i < perPublisher; i++) {
          publisher.hub.receive(publisher.session, JSON.stringify({ id: `p${p}-${i}`, room: 'r', type: 'chat', payload: { i } }))
          if (random() < 0.3) await delay(Math.floor(random() * 5))
        }
      })())
    }
    for (const [h, hub] of [a, b].entries()) {
      sends.push((async () => {
        for (let i = 0; i < 10; i++) {
          await hub.publish({ id: `s${h}-${i}`, room: 'r', type: 'chat', payload: { i } })
          await delay(Math.floor(random() * 5))
        }
      })())
    }
    // A client that joins on node B mid-stream, resuming from what it last saw.
    let late: Client | undefined
    let lateSince: string | undefined
    sends.push((async () => {
      await delay(20)
      const seen = await store.listByRoom('r', { limit: 5 })
      lateSince = seen.messages[seen.messages.length - 1]?.message.id
      t.ok(lateSince !== undefined, 'the late client resumes from a stored id')
      late = await client(b, 'r', lateSince)
    })())
    await Promise.all(sends)

    const total = publishers.length * perPublisher + 2 * 10
    await waitFor(async () => (await store.listByRoom('r', { limit: 1000 })).messages.length === total, { message: 'every message stored' })
    const history = (await store.listByRoom('r', { limit: 1000 })).messages.map((m) => m.message.id)
    t.equal(new Set(history).size, total, 'stored once each')
    await waitFor(() => clients.every((c) => eventIds(c).length >= total), { timeout: 5000, message: () => `deliveries: ${clients.map((c) => eventIds(c).length).join(', ')} of ${total}` })
    await bus.idle()
    await delay(20)

    for (const [i, c] of clients.entries()) {
      t.same(eventIds(c), history, `client ${i} (node ${c.hub.nodeId}): each message once, in offset order, no gap`)
    }
    const lateClient = late as Client
    const expected = history.slice(history.indexOf(lateSince as string) + 1)
    t.ok(expected.length > 0 && expected.length < total, 'the late client joined mid-stream')
    t.same(eventIds(lateClient), expected, 'the late client: exactly what followed its since, once, in order')
    t.ok(bus.duplicated > 0, `the bus did duplicate (${bus.duplicated} times)`)
  })
}

t.test('a message lost by the bus is read from the store before anything newer is delivered', async (t) => {
  const store = new MemoryMessageStore()
  const deliveries: Array<(envelope: any) => void> = []
  let drop = false
  const lossy = (name: string): any => ({
    start: (deliver: (envelope: any) => void) => { deliveries.push(deliver) },
    publish: (envelope: any) => {
      if (drop) return
      for (const deliver of deliveries) deliver({ ...JSON.parse(JSON.stringify(envelope)), node: envelope.node })
    },
    subscribe: () => {},
    unsubscribe: () => {},
    close: () => {},
    name
  })
  const a = new Hub({ nodeId: 'a', broker: lossy('a') })
  const b = new Hub({ nodeId: 'b', broker: lossy('b') })
  a.attachPersistence(new StorePersistence(a.persistenceParts(), store))
  b.attachPersistence(new StorePersistence(b.persistenceParts(), store))
  const reader = await client(b, 'r')
  await a.publish({ id: 'one', room: 'r', type: 'chat' })
  drop = true
  await a.publish({ id: 'two', room: 'r', type: 'chat' })
  drop = false
  await a.publish({ id: 'three', room: 'r', type: 'chat' })
  await waitFor(() => eventIds(reader).length === 3, { message: () => `got ${eventIds(reader).join(',')}` })
  t.same(eventIds(reader), ['one', 'two', 'three'], 'the lost one was repaired, in order')
})

/** Two hubs on one store over a bus that can go down; `events` are what each hub gave its broker's start. */
function outageBus (): { down: boolean, events: BrokerEvents[], broker: (name: string) => Broker } {
  const bus = { down: false, events: [] as BrokerEvents[], deliveries: [] as Array<(envelope: Envelope) => void> }
  return {
    get down () { return bus.down },
    set down (value: boolean) { bus.down = value },
    events: bus.events,
    broker: () => ({
      start: (deliver, events) => { bus.deliveries.push(deliver); bus.events.push(events) },
      publish: (envelope) => {
        if (bus.down) return
        for (const deliver of bus.deliveries) deliver(JSON.parse(JSON.stringify(envelope)))
      },
      subscribe: () => {},
      unsubscribe: () => {},
      close: () => {}
    })
  }
}

t.test('a broker reconnect (resync) reads what every open room missed from the store, before anything newer, with no new message needed', async (t) => {
  const store = new MemoryMessageStore()
  const bus = outageBus()
  const a = new Hub({ nodeId: 'a', broker: bus.broker('a') })
  const b = new Hub({ nodeId: 'b', broker: bus.broker('b') })
  a.attachPersistence(new StorePersistence(a.persistenceParts(), store))
  b.attachPersistence(new StorePersistence(b.persistenceParts(), store))
  const repaired: number[] = []
  b.addObserver({ gapRepaired: (count) => { repaired.push(count) } })
  const readers = [await client(b, 'r'), await client(b, 's')]
  await a.publish({ id: 'r1', room: 'r', type: 'chat' })
  bus.down = true
  for (const id of ['r2', 'r3']) await a.publish({ id, room: 'r', type: 'chat' })
  await a.publish({ id: 's1', room: 's', type: 'chat' })
  await delay(10)
  t.same(readers.map(eventIds), [['r1'], []], 'the outage lost them')
  bus.down = false
  bus.events[1].resync()
  await a.publish({ id: 'r4', room: 'r', type: 'chat' })
  await waitFor(() => eventIds(readers[0]).length === 4 && eventIds(readers[1]).length === 1, { message: () => readers.map(eventIds).join(' | ') })
  t.same(readers.map(eventIds), [['r1', 'r2', 'r3', 'r4'], ['s1']], 'every room repaired, in order, once; newer after')
  t.same(repaired.sort(), [1, 2], 'each repair counted')
  bus.events[1].resync()
  await delay(10)
  t.same(readers.map(eventIds), [['r1', 'r2', 'r3', 'r4'], ['s1']], 'a resync with nothing missing delivers nothing')
})

t.test('resync: a failed store read is logged once and retried; an epoch change orders the room from its start again and tells the members', async (t) => {
  const store = new MemoryMessageStore()
  const errors: unknown[] = []
  const logger = { debug () {}, warn () {}, error (obj: unknown) { errors.push(obj) } }
  const bus = outageBus()
  const b = new Hub({ nodeId: 'b', broker: bus.broker('b'), logger })
  const persistence = new StorePersistence(b.persistenceParts(), store, { hold: { checkInterval: 0, retryMin: 5, retryMax: 10 } })
  b.attachPersistence(persistence)
  t.teardown(() => { persistence.close() })
  const reader = await client(b, 'r')
  await b.publish({ id: 'x1', room: 'r', type: 'chat' })
  const readAfter = store.readAfter.bind(store)
  let failed = 0
  store.readAfter = async () => { failed++; throw new Error('database gone') }
  bus.events[0].resync()
  await waitFor(() => failed >= 3, { message: 'the failed read is retried' })
  t.equal(errors.length, 1, 'and logged once per outage')
  // The history was reset under a new epoch (a new database): the node orders the room from its start again.
  store.readAfter = async (room, _after, limit) => {
    const range = await readAfter(room, 0, limit)
    return { epoch: 'new-epoch', messages: range.messages }
  }
  const told = await waitFor(() => reader.transport.frames().find((f) => f.type === 'room.interrupted'), { message: 'the member is told its stream broke' })
  t.equal(told.payload.code, 'VIX_ERR_STREAM_BROKEN')
  t.same(eventIds(reader), ['x1'], 'the new epoch\'s offset 1 is not passed off as the next message: the client rejoins and learns recovered: false')
})
