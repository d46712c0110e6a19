import t from 'tap'
import WebSocket from 'ws'
import { VixClient, type PresenceDiff } from '../lib/client/index.js'
import { PresenceView } from '../lib/client/presence.js'
import { baseUrl, build } from './helpers/app.js'
import { waitFor } from './helpers/wait.js'
import { connect } from './helpers/ws-client.js'

const keys = (client: VixClient, room = 'lobby'): string[] => client.presence(room).map((m) => m.key).sort()

t.test('the client keeps the members: presence.state, then each diff as a presence event; a reconnect replaces the state', async (t) => {
  const app = await build(t, { authenticate: (request: any) => request.headers['x-user'] ?? null, presence: { window: 20 } })
  const url = `${baseUrl(app, 'ws')}/ws`
  const client = new VixClient({ url, WebSocket, webSocketOptions: { headers: { 'x-user': 'ada' } }, longPolling: false, reconnect: { minDelay: 20, maxDelay: 50 }, autoUnref: true })
  t.teardown(() => client.close())
  const seen: PresenceDiff[] = []
  client.on('presence', (diff) => { seen.push(diff) })
  await client.connect()
  await client.join('lobby')
  await waitFor(() => keys(client).length === 1, { timeout: 10_000, message: 'state' })
  t.same(client.presence('lobby'), [{ key: '"ada"', meta: {}, connections: 1 }])

  const bob = await connect(app, '/ws', { headers: { 'x-user': 'bob' } })
  t.teardown(() => { bob.close() })
  await bob.join('lobby')
  await waitFor(() => keys(client).includes('"bob"'), { timeout: 10_000, message: 'bob joined' })
  t.ok(seen.some((d) => d.room === 'lobby' && d.joins.some((j) => j.key === '"bob"')), 'a presence event with the diff')

  // Away while bob leaves: the fresh presence.state after the rejoin replaces the stale list.
  const rejoined = new Promise((resolve) => client.on('rejoined', resolve))
  for (const session of app.realtime.sessions.values()) if (session.identity === 'ada') session.transport.terminate()
  bob.close()
  await rejoined
  await waitFor(() => keys(client).length === 1 && !keys(client).includes('"bob"'), { timeout: 10_000, message: 'state replaced' })
  t.same(keys(client), ['"ada"'])

  await client.leave('lobby')
  t.same(client.presence('lobby'), [], 'a room left is no longer followed')
})

t.test('PresenceView: idempotent diffs, tolerant of odd frames', async (t) => {
  const view = new PresenceView()
  const frame = (type: string, payload: Record<string, unknown>, room?: string): any => ({ kind: 'system', type, ts: '', payload, room })
  t.equal(view.receive(frame('presence.state', {})), undefined, 'no room: ignored')
  view.receive(frame('presence.state', { members: [{ key: 'a', meta: { n: 1 }, connections: 2 }, { key: 'b' }, 'junk', { nokey: true }] }, 'r'))
  t.same(view.members('r'), [{ key: 'a', meta: { n: 1 }, connections: 2 }, { key: 'b', meta: {}, connections: 1 }])
  t.equal(view.receive(frame('presence.other', { room: 'r' })), undefined)
  const diff = view.receive(frame('presence.diff', { room: 'r', joins: [{ key: 'a', meta: { n: 9 } }, { key: 'c' }], leaves: [{ key: 'b' }, { key: 'zz' }] }))
  t.same(diff, { room: 'r', joins: [{ key: 'a', meta: { n: 9 } }, { key: 'c', meta: {} }], leaves: [{ key: 'b' }, { key: 'zz' }] })
  t.same(view.members('r').map((m) => m.key), ['a', 'c'], 'a known member joining again and an unknown leaving change nothing')
  view.receive(frame('presence.diff', { room: 'new', joins: 'junk' }))
  t.same(view.members('new'), [])
})
