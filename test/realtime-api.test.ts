import t from 'tap'
import { Hub } from '../lib/hub/hub.js'
import { Realtime } from '../lib/hub/realtime.js'
import { openFake } from './helpers/fake-transport.js'
import { build } from './helpers/app.js'
import { readDoc } from './helpers/markdown.js'

/** Every public member of `value`: own properties and those of its prototypes, constructors and `#private` fields aside. */
function publicMembers (value: object): string[] {
  const names = new Set(Object.keys(value))
  for (let proto = Object.getPrototypeOf(value); proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) if (name !== 'constructor') names.add(name)
  }
  return [...names].sort()
}

/** The members docs/server-api.md documents: one `### \`name…\`` heading each. */
function documentedMembers (): string[] {
  return [...readDoc('docs/server-api.md').matchAll(/^### `([A-Za-z]+)/gm)].map((match) => match[1] as string).sort()
}

t.test('every public member of app.realtime is documented in docs/server-api.md, and every documented one exists', async (t) => {
  const app = await build(t)
  const members = publicMembers(app.realtime)
  t.ok(members.length >= 15, `found the facade's members (${members.join(', ')})`)
  t.same(members.filter((name) => !documentedMembers().includes(name)), [], 'no member without its section')
  t.same(documentedMembers().filter((name) => !members.includes(name)), [], 'no section without its member')
})

t.test('the hub\'s wiring is not reachable from app.realtime', async (t) => {
  const app = await build(t)
  const realtime = app.realtime as unknown as Record<string, unknown>
  for (const internal of ['router', 'pipeline', 'admission', 'observers', 'limits', 'persistence', 'broker', 'options', 'health', 'openSession', 'closeSession', 'receive', 'report', 'deliverLocal', 'messageValidator', 'presenceTracker']) {
    t.equal(realtime[internal], undefined, internal)
  }
  t.equal(JSON.stringify(Object.keys(app.realtime)), JSON.stringify(['rooms', 'lifecycle']), 'its own fields are the two read-only views')
})

t.test('the views are read-only and live: sessions, rooms, lifecycle', async (t) => {
  const hub = new Hub()
  const realtime = new Realtime(hub)
  const { session } = openFake(hub)
  hub.join(session, 'r')

  t.equal(realtime.sessions.size, 1)
  t.equal(realtime.sessions.get(session.id), session)
  t.ok(realtime.sessions.has(session.id))
  t.same([...realtime.sessions.keys()], [session.id])
  t.same([...realtime.sessions.values()], [session])
  t.same([...realtime.sessions.entries()], [[session.id, session]])
  t.same([...realtime.sessions], [[session.id, session]])
  const seen: string[] = []
  realtime.sessions.forEach((value, key, map) => { seen.push(key); t.equal(map, realtime.sessions) })
  t.same(seen, [session.id])
  t.notOk(realtime.sessions instanceof Map, 'not the hub\'s map')
  t.equal((realtime.sessions as unknown as Record<string, unknown>).delete, undefined, 'no delete')
  t.ok(Object.isFrozen(realtime.sessions))

  t.equal(realtime.rooms.count, 1)
  t.same(realtime.rooms.names(), ['r'])
  t.ok(realtime.rooms.has('r'))
  t.equal(realtime.rooms.size('r'), 1)
  t.same(realtime.rooms.members('r'), [session])
  t.same(realtime.rooms.members('none'), [])
  t.equal((realtime.rooms as unknown as Record<string, unknown>).join, undefined, 'joins go through realtime.join')
  t.ok(Object.isFrozen(realtime.rooms))

  const seen2: string[] = []
  const created = (room: string): void => { seen2.push(`created ${room}`) }
  realtime.rooms.on('created', created).on('joined', (room, member) => { seen2.push(`joined ${room} ${member === session ? 'session' : '?'}`) })
  t.ok(realtime.join(session, 'b'))
  t.equal(realtime.rooms.count, 2, 'live')
  realtime.rooms.off('created', created)
  t.ok(realtime.leave(session, 'b'))
  t.ok(realtime.join(session, 'c'))
  t.same(seen2, ['created b', 'joined b session', 'joined c session'], 'room events; off removes a listener')
  t.equal(realtime.getSession(session.id), session)

  const ran: string[] = []
  realtime.lifecycle.add({ name: 'app', requestStop () { ran.push('stop') }, finalize () { ran.push('finalize') } })
  t.equal(realtime.lifecycle.stopping, false)
  realtime.lifecycle.requestStop()
  t.equal(realtime.lifecycle.stopping, true)
  t.same(ran, ['stop'])
  await realtime.lifecycle.finalizeShutdown()
  t.same(ran, ['stop', 'finalize'])
})

t.test('the facade hands on to the hub: handlers, publish, relay, presence, catalogue, resolvers, observers, readiness, nodeId', async (t) => {
  const hub = new Hub({ nodeId: 'n1', relayTypes: ['chat'] })
  const realtime = new Realtime(hub)
  const events: string[] = []
  realtime
    .on('ping', () => { events.push('ping') })
    .onOpen(() => { events.push('open') })
    .onClose(() => { events.push('close') })
    .onMessage(() => { events.push('raw') })
    .onError(() => { events.push('error') })
  const { session } = openFake(hub)
  hub.receive(session, '{"type":"ping","payload":{}}')
  hub.receive(session, 'plain text')
  await new Promise((resolve) => setImmediate(resolve))
  hub.emitError(session, new Error('x'))
  hub.closeSession(session, 1000)
  t.same(events, ['open', 'raw', 'ping', 'raw', 'error', 'close'], 'raw handlers see typed frames too (flagged typed)')

  t.equal(realtime.nodeId, 'n1')
  t.same(realtime.catalogue().map((entry) => entry.type).sort(), ['chat', 'ping'])
  t.same(realtime.presence('r'), [], 'presence off')
  t.same(realtime.readiness(), { ready: true, shuttingDown: false, dependencies: {} })

  const published: string[] = []
  const detach = realtime.addObserver({ published: (message) => { published.push(message.type) } })
  const { session: member } = openFake(hub)
  const { session: extra, transport: other } = openFake(hub)
  realtime.join(member, 'r')
  const removeResolver = realtime.addRecipientResolver(() => [extra])
  const message = await realtime.publish({ room: 'r', type: 'news', payload: { n: 1 } })
  t.equal(message.type, 'news')
  t.equal(other.sent.length, 1, 'the resolver added a recipient')
  removeResolver()
  const relayed = await realtime.relay(member, { room: 'r', type: 'chat', payload: {} })
  t.equal(relayed.type, 'chat')
  t.equal(other.sent.length, 1, 'resolver removed')
  detach()
  await realtime.publish({ type: 'after' })
  t.same(published, ['news', 'chat'], 'observer detached')
})
