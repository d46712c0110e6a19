import t, { type Test } from 'tap'
import type { Broker, BrokerEvents, ControlMessage } from '../lib/broker/types.js'
import { Hub } from '../lib/hub/hub.js'
import type { PresenceOptions } from '../lib/presence/options.js'
import { openFake, recordingLogger, type FakeTransport } from './helpers/fake-transport.js'
import { delay, waitFor } from './helpers/wait.js'

/** Nodes in one process whose control messages reach each other (asynchronously, like a network); `cut` drops a node's. */
class Bus {
  readonly brokers = new Set<BusBroker>()
  readonly sent: ControlMessage[] = []
}

class BusBroker implements Broker {
  events: BrokerEvents | undefined
  cut = false
  failNext = false
  constructor (private readonly bus: Bus) { bus.brokers.add(this) }
  start (_deliver: unknown, events: BrokerEvents): void { this.events = events }
  publish (): void {}
  subscribe (): void {}
  unsubscribe (): void {}
  close (): void { this.bus.brokers.delete(this) }
  async publishControl (message: ControlMessage): Promise<void> {
    if (this.failNext) {
      this.failNext = false
      throw new Error('redis down')
    }
    if (this.cut) return
    this.bus.sent.push(message)
    const copy = JSON.parse(JSON.stringify(message)) as ControlMessage
    setImmediate(() => { for (const broker of this.bus.brokers) if (broker !== this && !broker.cut) broker.events?.control?.(copy) })
  }
}

const timings: PresenceOptions = { window: 20, heartbeat: 50, ttl: 300, grace: 150 }

async function node (t: Test, bus: Bus, nodeId: string, options: PresenceOptions = timings): Promise<{ hub: Hub, broker: BusBroker }> {
  const broker = new BusBroker(bus)
  const hub = new Hub({ nodeId, broker, presence: options, logger: recordingLogger() })
  await hub.started
  t.teardown(() => hub.lifecycle.finalizeShutdown())
  return { hub, broker }
}

const keysOf = (hub: Hub, room = 'lobby'): string[] => hub.presence(room).map((m) => m.key).sort()
const diffsOf = (transport: FakeTransport): any[] => transport.frames('system').filter((f) => f.type === 'presence.diff').map((f) => f.payload)

t.test('two nodes: one list, connections summed, a late node learns the others by sync', async (t) => {
  const bus = new Bus()
  const a = await node(t, bus, 'a')
  const b = await node(t, bus, 'b')
  const ada = openFake(a.hub, 'ada')
  a.hub.join(ada.session, 'lobby')
  const bob = openFake(b.hub, 'bob')
  b.hub.join(bob.session, 'lobby')
  const bobTab = openFake(a.hub, 'bob')
  a.hub.join(bobTab.session, 'lobby')
  await waitFor(() => keysOf(a.hub).length === 2 && keysOf(b.hub).length === 2, { timeout: 2000, message: 'one list' })
  await waitFor(() => a.hub.presence('lobby').find((m) => m.key === '"bob"')?.connections === 2, { timeout: 2000, message: 'connections summed over nodes' })
  t.same(keysOf(b.hub), ['"ada"', '"bob"'])

  const late = await node(t, bus, 'c')
  t.ok(bus.sent.some((m) => m.node === 'c' && m.type === 'presence.sync'), 'a new node asks for a sync')
  await waitFor(() => keysOf(late.hub).length === 2, { timeout: 1000, message: 'the late node learned the members' })

  // bob's tab on A closing: bob is still on B, nobody sees a leave.
  await delay(60)
  const before = diffsOf(ada.transport).length
  a.hub.closeSession(bobTab.session, 1000)
  await delay(150)
  t.equal(diffsOf(ada.transport).length, before, 'a member with a connection on another node stays')
  b.hub.closeSession(bob.session, 1000)
  await waitFor(() => diffsOf(ada.transport).some((d) => d.leaves.some((l: any) => l.key === '"bob"')), { timeout: 1000, message: 'bob left everywhere' })
  t.same(keysOf(a.hub), ['"ada"'])
})

t.test('a silent node expires after the ttl; a graceful one after the grace; a returning member does not flap', async (t) => {
  const bus = new Bus()
  const a = await node(t, bus, 'a')
  const b = await node(t, bus, 'b')
  const watcher = openFake(a.hub, 'watcher')
  a.hub.join(watcher.session, 'lobby')
  const crashed = openFake(b.hub, 'crashed')
  b.hub.join(crashed.session, 'lobby')
  await waitFor(() => keysOf(a.hub).includes('"crashed"'), { timeout: 1000, message: 'seen' })
  const killedAt = Date.now()
  b.broker.cut = true
  await waitFor(() => !keysOf(a.hub).includes('"crashed"'), { timeout: 2000, message: 'expired' })
  // The view is live; diffs follow after the window.
  await delay(60)
  t.ok(Date.now() - killedAt >= 200, 'not before the ttl')
  t.same(diffsOf(watcher.transport).at(-1), { room: 'lobby', joins: [], leaves: [{ key: '"crashed"' }] })

  const c = await node(t, bus, 'c')
  const mover = openFake(c.hub, 'mover')
  c.hub.join(mover.session, 'lobby')
  const stayer = openFake(c.hub, 'stayer')
  c.hub.join(stayer.session, 'lobby')
  await waitFor(() => keysOf(a.hub).includes('"mover"') && keysOf(a.hub).includes('"stayer"'), { timeout: 1000, message: 'seen' })
  await delay(60)
  const before = diffsOf(watcher.transport).length
  c.hub.lifecycle.requestStop()
  t.ok(bus.sent.some((m) => m.node === 'c' && m.type === 'presence.leaving' && m.grace === 150))
  c.hub.closeSession(mover.session, 1001)
  c.hub.closeSession(stayer.session, 1001)
  // mover reconnects to A within the grace period.
  await delay(50)
  const moved = openFake(a.hub, 'mover')
  a.hub.join(moved.session, 'lobby')
  await waitFor(() => !keysOf(a.hub).includes('"stayer"'), { timeout: 1000, message: 'stayer left after the grace' })
  await delay(60)
  const after = diffsOf(watcher.transport).slice(before)
  t.same(after, [{ room: 'lobby', joins: [], leaves: [{ key: '"stayer"' }] }], 'only the member that did not come back left; mover never flapped')
  t.equal(a.hub.presence('lobby').find((m) => m.key === '"mover"')?.connections, 1)
})

t.test('control messages: malformed ones are ignored, own ones too, a failed announcement is logged', async (t) => {
  const bus = new Bus()
  const a = await node(t, bus, 'a')
  const control = a.broker.events?.control as (message: ControlMessage) => void
  control({ node: 'a', type: 'presence.announce', full: true, rooms: { lobby: [['"me"', {}, 1]] } })
  control({ node: 'x', type: 'presence.announce', full: true, rooms: 'nope' })
  control({ node: 'x', type: 'presence.announce', full: false, rooms: { lobby: [['"ok"', {}, 2], ['bad'], 7], other: 'nope' } })
  control({ node: 'x', type: 'presence.unknown' })
  control({ node: 'y', type: 'presence.leaving' })
  control({ node: 'x', type: 'presence.leaving', grace: 'soon' })
  t.same(a.hub.presence('lobby'), [{ key: '"ok"', meta: {}, connections: 2 }], 'only well-formed members of others')
  t.same(a.hub.presence('other'), [])
  control({ node: 'x', type: 'presence.announce', full: true, rooms: {} })
  t.same(a.hub.presence('lobby'), [], 'a full announcement without the room clears it')

  const logger = a.hub.logger as ReturnType<typeof recordingLogger>
  let warned = 0
  logger.debug = () => { warned++ }
  a.broker.failNext = true
  a.hub.presenceTracker?.resync()
  await delay(10)
  t.equal(warned, 1, 'a failed control publish is logged, not thrown')
  const throwing = new BusBroker(new Bus())
  throwing.publishControl = () => { throw new Error('sync throw') }
  const broken = new Hub({ broker: throwing, presence: timings, logger })
  await broken.started
  t.teardown(() => broken.lifecycle.finalizeShutdown())
  t.ok(warned >= 2, 'a throwing publishControl too')
})

t.test('without publishControl presence is node-local and announces nothing', async (t) => {
  const hub = new Hub({ presence: timings })
  await hub.started
  const one = openFake(hub, 'one')
  hub.join(one.session, 'lobby')
  hub.presenceTracker?.resync()
  await delay(60)
  t.same(keysOf(hub), ['"one"'])
  t.equal(hub.presenceTracker?.size, 1)
  await hub.lifecycle.finalizeShutdown()
  t.same(diffsOf(one.transport), [{ room: 'lobby', joins: [{ key: '"one"', meta: {} }], leaves: [] }])
})
