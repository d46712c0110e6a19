import t from 'tap'
import { Hub } from '../lib/hub/hub.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { StorePersistence } from '../lib/store/persistence.js'
import { FakeTransport } from './helpers/fake-transport.js'

function setup (): { hub: Hub, store: MemoryMessageStore, open: (name?: string) => { transport: FakeTransport, send: (frame: object) => Promise<any> } } {
  const hub = new Hub({ relayTypes: ['chat'], identityKey: (identity) => (identity as { user?: string } | undefined)?.user })
  const store = new MemoryMessageStore()
  const persistence = new StorePersistence(hub.persistenceParts(), store, { hold: { checkInterval: 0 } })
  hub.attachPersistence(persistence)
  t.teardown(() => { persistence.close() })
  const open = (name?: string): { transport: FakeTransport, send: (frame: object) => Promise<any> } => {
    const transport = new FakeTransport()
    const session = hub.openSession(transport, name === undefined ? undefined : { user: name })
    hub.join(session, 'r')
    return { transport, send: async (frame) => await hub.receiveRequest(session, JSON.stringify(frame)) }
  }
  return { hub, store, open }
}

t.test('idempotency is per sender: an identity, an anonymous session, server code and HTTP publishes each have their own ids', async (t) => {
  const { hub, store, open } = setup()
  const ada = open('ada')
  const adaAgain = open('ada')
  const anon1 = open()
  const anon2 = open()
  const results = []
  for (const client of [ada, anon1, anon2]) results.push(await client.send({ id: 'm1', room: 'r', type: 'chat' }))
  results.push(await adaAgain.send({ id: 'm1', room: 'r', type: 'chat' }))
  t.same(results.map((r) => r.duplicate === true), [false, false, false, true], 'ada, two anonymous sessions: three messages; ada on another connection: her duplicate')
  t.equal(results[3].pos, results[0].pos, 'the duplicate names the original\'s position')
  const server = await hub.publishFrom({ id: 'm1', room: 'r', type: 'chat' }, 'server')
  const http = await hub.publishFrom({ id: 'm1', room: 'r', type: 'chat' }, 'http')
  const serverAgain = await hub.publishFrom({ id: 'm1', room: 'r', type: 'chat' }, 'server')
  t.same([server.duplicate, http.duplicate, serverAgain.duplicate], [false, false, true], 'server code and HTTP publishes are senders of their own')
  const stored = (await store.listByRoom('r', { limit: 10 })).messages
  t.equal(stored.length, 5, 'five messages with the id m1, from five senders')
  const events = anon1.transport.frames().filter((f) => f.kind === 'event')
  t.equal(events.length, 5, 'each delivered once')
  const ack = ada.transport.frames().find((f) => f.kind === 'ack' && f.id === 'm1')
  t.same(Object.keys(ack.payload), ['pos'], 'a first ack carries the position only')
})
