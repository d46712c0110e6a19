import t, { type Test } from 'tap'
import { join } from 'node:path'
import WebSocket from 'ws'
import { VixClient, type VixClientOptions } from '../lib/client/index.js'
import { baseUrl, build } from './helpers/app.js'

// The README's browser snippet stores `client.lastEventId(room) ?? ''` on pagehide and
// joins with `localStorage.getItem(...)` on the next load: '' before any event was
// seen, null when nothing was stored. Both mean "no position", against a real server.

async function withJoins (t: Test): Promise<{ app: Awaited<ReturnType<typeof build>>, joins: unknown[], client: (options?: Partial<VixClientOptions>) => VixClient }> {
  const joins: unknown[] = []
  const app = await build(t, { relayTypes: ['chat.message'], store: { path: join(t.testdir(), 'messages.db') } }, (app) => {
    // What the server received: the payload of every room.join, as sent.
    app.realtime.on('room.join', (_session, message) => { joins.push(message.payload) })
  })
  const client = (options: Partial<VixClientOptions> = {}): VixClient => {
    const vix = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, longPolling: false, autoUnref: true, ...options })
    t.teardown(() => { vix.close() })
    return vix
  }
  return { app, joins, client }
}

t.test("since '' , null and undefined join without since; the next page load resumes from the stored id", async (t) => {
  const { app, joins, client } = await withJoins(t)
  const first = client()
  await first.connect()
  t.match(await first.join('general'), { room: 'general', recovered: false })
  const stored = first.lastEventId('general') ?? ''
  t.equal(stored, '', 'no event seen: the snippet stores an empty string')
  first.close()

  // The next page load.
  const second = client()
  await second.connect()
  t.match(await second.join('general', { since: stored }), { room: 'general', recovered: false, replayed: 0 }, "since: '' is accepted")
  t.match(await second.join('news', { since: null }), { room: 'news', recovered: false }, 'since: null (nothing in localStorage) too')
  t.match(await second.join('sports', { since: undefined }), { room: 'sports' })
  t.same(joins, [{ room: 'general' }, { room: 'general' }, { room: 'news' }, { room: 'sports' }], 'every join went out without since')
  t.equal(second.lastEventId('general'), undefined, "'' is not taken as an id")

  await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'one' } })
  const one = await new Promise<any>((resolve) => second.on('chat.message', resolve))
  t.equal(second.lastEventId('general'), one.id)
  const resumeFrom = second.lastEventId('general') ?? ''
  second.close()
  await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'two' } })

  const third = client()
  const texts: string[] = []
  third.on('chat.message', (msg: any) => { texts.push(msg.payload.text) })
  await third.connect()
  t.match(await third.join('general', { since: resumeFrom }), { recovered: true, replayed: 1 }, 'a real id still resumes')
  t.same(texts, ['two'])
  t.same(joins.at(-1), { room: 'general', since: resumeFrom })
})

t.test('an empty since keeps the position the client already has', async (t) => {
  const { app, joins, client } = await withJoins(t)
  const vix = client()
  await vix.connect()
  await vix.join('general')
  await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'one' } })
  const one = await new Promise<any>((resolve) => vix.on('chat.message', resolve))
  t.match(await vix.join('general', { since: '' }), { recovered: true, replayed: 0 })
  t.same(joins.at(-1), { room: 'general', since: one.pos }, "joined again from the last position seen, not from ''")
  t.match(one.pos, /^1\.[A-Za-z0-9_-]{4}$/, 'a stored room: the position, not the id')
  t.equal(vix.lastEventId('general'), one.id)
})

t.test("long polling: join with since '' is accepted by the real server", async (t) => {
  const { joins, client } = await withJoins(t)
  const vix = client({ WebSocket: undefined as any, transports: ['polling'], longPolling: { wait: 200 } })
  await vix.connect()
  t.equal(vix.transport, 'long-polling')
  t.match(await vix.join('general', { since: '' }), { room: 'general', recovered: false })
  t.same(joins, [{ room: 'general' }])
})
