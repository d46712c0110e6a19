import t, { type Test } from 'tap'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import Database from 'better-sqlite3'
import { baseUrl, build } from './helpers/app.js'
import { connect, upgradeStatus } from './helpers/ws-client.js'
import { delay, waitFor } from './helpers/wait.js'
import { PollClient } from './helpers/poll-client.js'
import WebSocket from 'ws'
import { VixClient } from '../lib/client/index.js'
import { messageStorePlugin } from '../plugins/message-store.js'
import { hubPlugin } from '../plugins/hub.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { encodePosition } from '../lib/position.js'
import type { VixRealtimeOptions } from '../plugins/index.js'
import { hubOf } from '../lib/hub/realtime.js'
import { Hub } from '../lib/hub/hub.js'
import { StorePersistence } from '../lib/store/persistence.js'
import { FakeTransport } from './helpers/fake-transport.js'

const chat = { relayTypes: ['chat.message'] }

function storeAt (t: Test, extra: Record<string, unknown> = {}): { path: string, options: VixRealtimeOptions } {
  const path = join(t.testdir(), 'data', 'messages.db')
  return { path, options: { ...chat, store: { path, ...extra } } }
}

async function say (client: Awaited<ReturnType<typeof connect>>, room: string, id: string): Promise<void> {
  client.send({ id, room, type: 'chat.message', payload: { text: id } })
  await client.waitFor((f) => f.kind === 'ack' && f.id === id)
}

t.test('room messages are stored before they are acked, and a rejoin with since replays them', async (t) => {
  const { path, options } = storeAt(t)
  const app = await build(t, options)
  t.ok(app.messageStore, 'decorates fastify.messageStore')
  const a = await connect(app)
  const b = await connect(app)
  await a.join('general')
  await b.join('general')
  await say(a, 'general', 'c1')
  const reader = new Database(path, { readonly: true })
  t.teardown(() => reader.close())
  t.equal((reader.prepare('SELECT count(*) AS n FROM messages WHERE id = ?').get('c1') as { n: number }).n, 1, 'committed by the time of the ack')
  await b.waitFor((f) => f.kind === 'event' && f.id === 'c1')
  b.close()
  await b.closed
  await say(a, 'general', 'c2')
  await say(a, 'general', 'c3')
  const back = await connect(app)
  const ack = await back.join('general', 'c1')
  const head = await app.messageStore.latest('general') as { offset: number, epoch: string }
  const c3 = encodePosition(head.offset, head.epoch)
  t.same(ack.payload, { room: 'general', recovered: true, replayed: 2, latestId: 'c3', pos: c3 }, 'pos: the last replayed message\'s')
  t.same(back.frames.filter((f: any) => f.kind === 'event').map((f: any) => f.id), ['c2', 'c3'])
  const fresh = await connect(app)
  const freshAck = await fresh.join('general', 'never-seen')
  t.same(freshAck.payload, { room: 'general', recovered: false, replayed: 0, latestId: 'c3', pos: c3 }, 'pos: the room\'s head')
  t.equal(fresh.frames.filter((f: any) => f.kind === 'event').length, 0, 'no partial replay')
})

t.test('a resent client id gets the same ack and is not delivered twice', async (t) => {
  const { options } = storeAt(t)
  const app = await build(t, options)
  const a = await connect(app)
  const b = await connect(app)
  await a.join('general')
  await b.join('general')
  a.send({ id: 'dup', room: 'general', type: 'chat.message', payload: { text: 'one' } })
  a.send({ id: 'dup', room: 'general', type: 'chat.message', payload: { text: 'two' } })
  await a.waitForCount((f) => f.kind === 'ack' && f.id === 'dup', 2)
  await say(a, 'general', 'after')
  await b.waitFor((f) => f.id === 'after')
  t.same(b.frames.filter((f: any) => f.kind === 'event').map((f: any) => f.payload.text), ['one', 'after'])
})

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

t.test('an anonymous client\'s sender key makes its sessions one sender; another key, or none, is another', async (t) => {
  const { hub } = setup()
  const transport = (): FakeTransport => new FakeTransport()
  const first = hub.openSession(transport(), undefined, undefined, undefined, 'k'.repeat(22))
  const again = hub.openSession(transport(), undefined, undefined, undefined, 'k'.repeat(22))
  const other = hub.openSession(transport(), undefined, undefined, undefined, 'o'.repeat(22))
  const none = hub.openSession(transport())
  t.equal(first.senderScope, again.senderScope, 'one key, one sender')
  t.match(first.senderScope, /^key:[A-Za-z0-9_-]{22}$/, 'a digest: the key itself is never stored')
  t.notOk(first.senderScope.includes('kkkk'))
  t.not(first.senderScope, other.senderScope)
  t.match(none.senderScope, /^session:/, 'no key: the session is the sender')
  const named = hub.openSession(transport(), { user: 'ada' }, undefined, undefined, 'k'.repeat(22))
  t.equal(named.senderScope, 'id:ada', 'an identity wins over a key')
})

t.test('over both transports: a message resent on a new session with the same client_key is a duplicate; a bad client_key is a 400', async (t) => {
  const { options } = storeAt(t)
  const app = await build(t, { ...options, longPolling: {} })
  const key = 'Zk3x0b6bYc2Qm1c8aL0ZfA'
  const watcher = await connect(app)
  await watcher.join('general')
  const first = await connect(app, `/ws?client_key=${key}`)
  await first.join('general')
  first.send({ id: 'resent', room: 'general', type: 'chat.message', payload: { text: 'once' } })
  const firstAck = await first.waitFor((f) => f.kind === 'ack' && f.id === 'resent')
  t.notOk(firstAck.payload.duplicate)
  first.close()
  await first.closed

  const poll = await PollClient.create(app, {}, '/ws', { client_key: key })
  await poll.join('general')
  const resent = await poll.send({ id: 'resent', room: 'general', type: 'chat.message', payload: { text: 'once' } })
  t.equal(resent.statusCode, 202)
  t.same(resent.body, { id: 'resent', pos: firstAck.payload.pos, duplicate: true }, 'long polling, same key: the original\'s position, not stored again')
  const back = await connect(app, `/ws?client_key=${key}`)
  await back.join('general')
  back.send({ id: 'resent', room: 'general', type: 'chat.message', payload: { text: 'once' } })
  const backAck = await back.waitFor((f) => f.kind === 'ack' && f.id === 'resent')
  t.same(backAck.payload, { duplicate: true, pos: firstAck.payload.pos }, 'WebSocket again, same key: a duplicate')
  const stranger = await connect(app, `/ws?client_key=${'S'.repeat(22)}`)
  await stranger.join('general')
  stranger.send({ id: 'resent', room: 'general', type: 'chat.message', payload: { text: 'mine' } })
  const strangerAck = await stranger.waitFor((f) => f.kind === 'ack' && f.id === 'resent')
  t.notOk(strangerAck.payload.duplicate, 'another key is another sender: the same id is its own message')
  await watcher.waitFor((f) => f.kind === 'event' && f.payload.text === 'mine')
  t.same(watcher.frames.filter((f: any) => f.kind === 'event').map((f: any) => f.payload.text), ['once', 'mine'], 'members got each message once')

  for (const bad of ['short', 'x'.repeat(129), 'has space in it here!', '%E2%9C%93'.repeat(6)]) {
    t.equal(await upgradeStatus(app, `/ws?client_key=${encodeURIComponent(bad)}`), 400, `WebSocket: ${bad.slice(0, 12)}`)
    const created = await app.inject({ url: '/ws/poll', query: { client_key: bad } })
    t.equal(created.statusCode, 400, `long polling: ${bad.slice(0, 12)}`)
    t.equal(created.json().code, 'VIX_ERR_INVALID_REQUEST')
    t.match(created.json().message, /client_key/)
  }
})

t.test('the bundled client sends one client_key on every session it opens, and each client its own', async (t) => {
  const app = await build(t, chat)
  const client = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, reconnect: { minDelay: 10, maxDelay: 20 }, autoUnref: true })
  const other = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, autoUnref: true })
  t.teardown(() => { client.close(); other.close() })
  await client.connect()
  await other.connect()
  const scopes = (): string[] => [...app.realtime.sessions.values()].map((session) => session.senderScope)
  const [mine, theirs] = scopes()
  t.match(mine, /^key:/)
  t.match(theirs, /^key:/)
  t.not(mine, theirs, 'each client its own key')
  for (const session of app.realtime.sessions.values()) if (session.senderScope === mine) session.transport.terminate()
  await waitFor(() => client.state === 'open' && app.realtime.sessions.size === 2 && !scopes().every((scope) => scope === theirs) && scopes().includes(mine), { message: 'reconnected' })
  t.ok(scopes().includes(mine), 'the new session is the same sender')
})

t.test('GET /ws/history pages through a room', async (t) => {
  const { options } = storeAt(t)
  const app = await build(t, options)
  for (let i = 1; i <= 7; i++) await app.realtime.publish({ id: `h${i}`, room: 'general', type: 'chat.message', payload: { n: i } })
  const get = async (qs: string): Promise<any> => await app.inject({ method: 'GET', url: `/ws/history?${qs}` })
  const all = await get('room=general')
  t.equal(all.statusCode, 200)
  t.same(all.json().messages.map((m: any) => m.id), ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7'])
  t.match(all.json().messages[0], { id: 'h1', kind: 'event', room: 'general', type: 'chat.message', payload: { n: 1 } })
  t.equal(all.json().hasMore, false)
  const { epoch } = await app.messageStore.latest('general') as { epoch: string }
  t.same(all.json().messages.map((m: any) => m.pos), [1, 2, 3, 4, 5, 6, 7].map((offset) => encodePosition(offset, epoch)), 'each message has its position')
  t.same(Object.keys(all.json().messages[0]).sort(), ['id', 'kind', 'payload', 'pos', 'room', 'ts', 'type'], 'and nothing else: no sender scope')
  const last = (await get('room=general&limit=3')).json()
  t.same([last.messages.map((m: any) => m.id), last.hasMore], [['h5', 'h6', 'h7'], true])
  const older = (await get('room=general&limit=3&before=h5')).json()
  t.same(older.messages.map((m: any) => m.id), ['h2', 'h3', 'h4'])
  const forward = (await get('room=general&after=h5')).json()
  t.same([forward.messages.map((m: any) => m.id), forward.hasMore], [['h6', 'h7'], false])
  t.same((await get('room=empty')).json(), { messages: [], hasMore: false })
})

t.test('GET /ws/history answers bad parameters with coded errors', async (t) => {
  const { options } = storeAt(t)
  const app = await build(t, options)
  await app.realtime.publish({ id: 'x', room: 'general', type: 'chat.message' })
  for (const qs of ['', 'room=', 'room=general&limit=0', 'room=general&limit=501', 'room=general&limit=abc', 'room=general&after=']) {
    const res = await app.inject({ method: 'GET', url: `/ws/history?${qs}` })
    t.equal(res.statusCode, 400, qs)
    t.equal(res.json().code, 'VIX_ERR_INVALID_REQUEST', qs)
    t.match(res.json().path, /^\//, `${qs}: the path names the parameter`)
  }
  const unknown = await app.inject({ method: 'GET', url: '/ws/history?room=general&after=nope' })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'VIX_ERR_MESSAGE_NOT_FOUND')
})

t.test('GET /ws/history: who may not join may not read; authenticate applies', async (t) => {
  const { options } = storeAt(t)
  const readers: unknown[] = []
  const app = await build(t, {
    ...options,
    authenticate: (request: any) => request.headers['x-user'] ?? null,
    authorizeJoin: (session, room) => {
      // A history read is checked as a detached session: not in the hub, and what it is sent goes nowhere.
      readers.push([session.transport.name, app.realtime.getSession(session.id), session.send({ kind: 'system', type: 'x', ts: '', payload: {} })])
      session.close()
      return room !== 'secret' || session.identity === 'admin'
    }
  })
  await app.realtime.publish({ id: 's1', room: 'secret', type: 'chat.message' })
  const anonymous = await app.inject({ method: 'GET', url: '/ws/history?room=secret' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().code, 'VIX_ERR_UNAUTHORIZED')
  const user = await app.inject({ method: 'GET', url: '/ws/history?room=secret', headers: { 'x-user': 'bob' } })
  t.equal(user.statusCode, 403)
  t.equal(user.json().code, 'VIX_ERR_FORBIDDEN')
  const admin = await app.inject({ method: 'GET', url: '/ws/history?room=secret', headers: { 'x-user': 'admin' } })
  t.equal(admin.statusCode, 200)
  t.same(admin.json().messages.map((m: any) => m.id), ['s1'])
  t.same(readers, [['http', undefined, true], ['http', undefined, true]])
})

t.test('an authorizeJoin that throws is a 500, not a crash', async (t) => {
  const { options } = storeAt(t)
  const app = await build(t, { ...options, authorizeJoin: () => { throw new Error('policy service down') } })
  const res = await app.inject({ method: 'GET', url: '/ws/history?room=general' })
  t.equal(res.statusCode, 500)
})

t.test('a retention rule without per-room overrides is accepted', async (t) => {
  const { options } = storeAt(t, { retention: { maxAge: 60_000 } })
  const app = await build(t, options)
  t.ok(app.messageStore)
})

t.test('the persist filter chooses what is stored', async (t) => {
  const { options } = storeAt(t, { persist: { rooms: ['kept'] } })
  const app = await build(t, options)
  await app.realtime.publish({ id: 'k', room: 'kept', type: 'chat.message' })
  await app.realtime.publish({ id: 'e', room: 'ephemeral', type: 'chat.message' })
  t.same(await app.messageStore.rooms(), ['kept'])
})

t.test('retention prunes on its timer', async (t) => {
  const { options } = storeAt(t, { retention: { maxMessages: 2, interval: 10, rooms: { all: {} } } })
  const app = await build(t, options)
  for (let i = 1; i <= 5; i++) {
    await app.realtime.publish({ id: `r${i}`, room: 'general', type: 'chat.message' })
    await app.realtime.publish({ id: `a${i}`, room: 'all', type: 'chat.message' })
  }
  for (let i = 0; i < 300; i++) {
    if ((await app.messageStore.listByRoom('general', { limit: 10 })).messages.length === 2) break
    await delay(10)
  }
  t.same((await app.messageStore.listByRoom('general', { limit: 10 })).messages.map((m) => m.message.id), ['r4', 'r5'])
  t.equal((await app.messageStore.listByRoom('all', { limit: 10 })).messages.length, 5)
})

t.test('close waits for the last commit, then closes the database with the WAL checkpointed', async (t) => {
  const { path, options } = storeAt(t)
  const app = Fastify()
  const { default: vixRealtime } = await import('../plugins/index.js')
  await app.register(vixRealtime, options)
  await app.ready()
  const inFlight = app.realtime.publish({ id: 'last', room: 'general', type: 'chat.message' })
  await app.close()
  t.equal((await inFlight).id, 'last')
  t.notOk(existsSync(`${path}-wal`), 'no -wal file left')
  const db = new Database(path, { readonly: true })
  t.equal((db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n, 1)
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  db.close()
})

t.test('a store instance passed in is used, flushed on close, and left open for its owner', async (t) => {
  const store = new MemoryMessageStore()
  const app = Fastify()
  await app.register(hubPlugin, { relayTypes: ['chat.message'] })
  await app.register(messageStorePlugin, { store })
  t.equal(app.messageStore, store)
  await app.realtime.publish({ id: 'm', room: 'general', type: 'chat.message' })
  await app.close()
  t.equal((await store.append({ id: 'n', kind: 'event', room: 'general', type: 'x', ts: '', payload: {} }, 'server')).duplicate, false, 'still open')
})

t.test('boot fails on a bad store', async (t) => {
  const dir = t.testdir()
  const notDb = join(dir, 'notes.txt')
  writeFileSync(notDb, 'plain text, not SQLite at all. '.repeat(50))
  const app = Fastify()
  app.register(hubPlugin)
  app.register(messageStorePlugin, { path: notDb })
  await t.rejects(async () => { await app.ready() }, { code: 'VIX_ERR_STORE_OPEN', message: /notes\.txt/ })

  const locked = join(dir, 'locked.db')
  const holder = new Database(locked)
  holder.pragma('journal_mode = WAL')
  holder.exec('BEGIN EXCLUSIVE')
  const second = Fastify()
  second.register(hubPlugin)
  second.register(messageStorePlugin, { path: locked, busyTimeout: 50 })
  await t.rejects(async () => { await second.ready() }, { code: 'VIX_ERR_STORE_OPEN', message: /locked\.db/ })
  holder.exec('ROLLBACK')
  holder.close()

  const twice = Fastify()
  twice.register(hubPlugin)
  twice.register(messageStorePlugin, { store: new MemoryMessageStore() })
  twice.register(messageStorePlugin, { store: new MemoryMessageStore() })
  await t.rejects(async () => { await twice.ready() }, { code: 'VIX_ERR_INVALID_OPTION', message: /already plugged/ })
  await twice.close()
})

t.test('options are checked at register time', async (t) => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ path: '' }, 'path'],
    [{ synchronous: 'OFF' }, 'synchronous'],
    [{ busyTimeout: -1 }, 'busyTimeout'],
    [{ replayLimit: 0 }, 'replayLimit'],
    [{ historyPath: 'history' }, 'historyPath'],
    [{ store: {} }, 'store'],
    [{ persist: 'all' }, 'persist'],
    [{ persist: { rooms: [1] } }, 'persist.rooms'],
    [{ persist: { types: 'x' } }, 'persist.types'],
    [{ retention: { maxMessages: 0 } }, 'retention.maxMessages'],
    [{ retention: { maxAge: 1.5 } }, 'retention.maxAge'],
    [{ retention: { interval: 0 } }, 'retention.interval'],
    [{ retention: { batchSize: 0 } }, 'retention.batchSize'],
    [{ retention: { rooms: { x: { maxMessages: -2 } } } }, 'retention.rooms.x.maxMessages']
  ]
  for (const [options, name] of bad) {
    const app = Fastify()
    app.register(hubPlugin)
    app.register(messageStorePlugin, { store: new MemoryMessageStore(), ...options } as any)
    await t.rejects(async () => { await app.ready() }, { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`"${name.replace(/\./g, '\\.')}"`) }, name)
  }
})

t.test('without the store option the umbrella stores nothing', async (t) => {
  const app = await build(t, chat)
  t.equal(app.hasDecorator('messageStore'), false)
  t.equal(hubOf(app.realtime).persistence, null)
  const off = await build(t, { ...chat, store: false })
  t.equal(off.hasDecorator('messageStore'), false)
})
