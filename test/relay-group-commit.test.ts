import t from 'tap'
import { join } from 'node:path'
import { Hub } from '../lib/hub.js'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import { StorePersistence } from '../lib/store/persistence.js'
import { FakeTransport } from './helpers/fake-transport.js'

t.test('a burst of relayed frames from one client shares one group commit and keeps its order', async (t) => {
  const hub = new Hub({ relayTypes: ['chat'] })
  const store = new SqliteMessageStore({ path: join(t.testdir(), 'messages.db') })
  t.teardown(() => store.close())
  hub.persistence = new StorePersistence(hub, store)
  const transport = new FakeTransport()
  const session = hub.openSession(transport)
  hub.join(session, 'r')
  const results = await Promise.all(Array.from({ length: 200 }, async (_, i) =>
    await hub.receive(session, JSON.stringify({ id: `m${i}`, type: 'chat', room: 'r', payload: { i } }), false)))
  t.ok(results.every((r) => r.ok))
  t.equal(store.commits, 1, 'one transaction for the whole burst, not one per frame')
  const frames = transport.frames()
  t.same(frames.filter((f) => f.kind === 'event').map((f) => f.payload.i), Array.from({ length: 200 }, (_, i) => i), 'events in order')
  t.same(frames.filter((f) => f.kind === 'ack').map((f) => f.id), Array.from({ length: 200 }, (_, i) => `m${i}`), 'acks in order')
  const page = await store.listByRoom('r', { limit: 500 })
  t.same(page.messages.map((m: { id?: string }) => m.id), Array.from({ length: 200 }, (_, i) => `m${i}`), 'stored in order')
})
