import t from 'tap'
import Fastify from 'fastify'
import { join } from 'node:path'
import WebSocket from 'ws'
import { VixClient } from '../lib/client/index.js'
import { Hub } from '../lib/hub/hub.js'
import type { Session } from '../lib/session.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { StorePersistence } from '../lib/store/persistence.js'
import vixRealtime, { hubPlugin, messageStorePlugin, type VixRealtimeOptions } from '../plugins/index.js'
import { baseUrl, build } from './helpers/app.js'
import { FakeTransport } from './helpers/fake-transport.js'
import { PollClient } from './helpers/poll-client.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { redisAvailable, redisUrl, uniquePrefix } from './helpers/redis.js'
import { requireService } from './helpers/services.js'
import { seeded, ShuffleBus } from './helpers/shuffle-broker.js'
import { waitFor } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'

// Who a client is comes from the request (here a header), never from what it sends.
const byName = (request: any): { name: string } | null => typeof request.headers['x-name'] === 'string' ? { name: request.headers['x-name'] } : null
const nameOf = (session: Session): { name: string } => ({ name: (session.identity as { name: string }).name })
const as = (name: string): { headers: Record<string, string> } => ({ headers: { 'x-name': name } })

const chat = (id: string, text = id): Record<string, unknown> => ({ id, room: 'general', type: 'chat.message', payload: { text } })
const isChat = (id: string) => (frame: any): boolean => frame.kind === 'event' && frame.id === id

type App = Awaited<ReturnType<typeof build>>

/** A WebSocket client named `name`, in `general`. */
async function member (app: App, name: string): Promise<TestClient> {
  const client = await connect(app, '/ws', as(name))
  await client.join('general')
  return client
}

/** A long-poll client named `name`, in `general`. */
async function pollMember (app: App, name: string): Promise<PollClient> {
  const client = await PollClient.create(app, as(name).headers)
  await client.join('general')
  return client
}

/** `GET /ws/history` of `general` as a member reads it (history is authenticated like the transports). */
async function history (app: App): Promise<any[]> {
  const response = await app.inject({ url: '/ws/history?room=general', ...as('Ada') })
  if (response.statusCode !== 200) throw new Error(`history: ${response.statusCode} ${response.body}`)
  return response.json().messages
}

/** Ada and Bob on WebSockets, Cy long-polling, all in `general`. */
async function room (app: App): Promise<{ a: TestClient, b: TestClient, c: PollClient }> {
  const [a, b, c] = await Promise.all([member(app, 'Ada'), member(app, 'Bob'), pollMember(app, 'Cy')])
  return { a, b, c }
}

const senderOptions = (t: { testdir: () => string }, extra: VixRealtimeOptions = {}): VixRealtimeOptions => ({
  relayTypes: ['chat.message'],
  authenticate: byName,
  senderInfo: nameOf,
  store: { path: join(t.testdir(), 'messages.db') },
  ...extra
})

t.test('a relay carries its sender as the server sees it, to WebSocket and long-poll members alike', async (t) => {
  const app = await build(t, senderOptions(t))
  const { a, b, c } = await room(app)
  a.send(chat('a-1', 'hi from Ada'))
  for (const client of [a, b]) t.same((await client.waitFor(isChat('a-1'))).from, { name: 'Ada' }, 'a WebSocket member sees Ada')
  const [polled] = await c.pollUntil(isChat('a-1'))
  t.same(polled.from, { name: 'Ada' }, 'the long-poll member sees Ada')
  t.equal(polled.payload.text, 'hi from Ada')

  const sent = await c.send(chat('c-1', 'hi from Cy'))
  t.equal(sent.statusCode, 202)
  for (const client of [a, b]) t.same((await client.waitFor(isChat('c-1'))).from, { name: 'Cy' }, 'a message sent over POST /ws/send carries its poll session\'s sender')
})

t.test('a from in a client\'s message is refused (VIX_ERR_INVALID_MESSAGE), on both transports, and nothing is delivered', async (t) => {
  const app = await build(t, senderOptions(t))
  const { a, b, c } = await room(app)
  a.send({ ...chat('spoof-ws'), from: { name: 'Bob' } })
  const error = await a.waitFor((f) => f.kind === 'error' && f.id === 'spoof-ws')
  t.match(error.payload, { code: 'VIX_ERR_INVALID_MESSAGE', path: '/from' })
  const spoofed = await c.send({ ...chat('spoof-http'), from: { name: 'Bob' } })
  t.equal(spoofed.statusCode, 400)
  t.match(spoofed.body, { code: 'VIX_ERR_INVALID_MESSAGE', path: '/from' })

  // What comes after them arrives: had either been delivered, it would be there first.
  a.send(chat('after'))
  await b.waitFor(isChat('after'))
  t.same(b.frames.filter((f: any) => f.kind === 'event').map((f: any) => f.id), ['after'], 'Bob got neither spoof')
  const stored = await history(app)
  t.same(stored.map((m: any) => m.id), ['after'], 'neither was stored')
})

t.test('history and replay after a reconnect return the sender; server code may name one, HTTP server publish carries none', async (t) => {
  const app = await build(t, senderOptions(t, { longPolling: { serverPublish: { key: 'k'.repeat(16) } } }))
  const { a, b } = await room(app)
  a.send(chat('a-1'))
  await b.waitFor(isChat('a-1'))
  b.close()
  await b.closed
  a.send(chat('a-2'))
  await a.waitFor(isChat('a-2'))
  await app.realtime.publish({ id: 's-1', room: 'general', type: 'chat.message', payload: { text: 'from the server' }, from: { name: 'Moderator', bot: true } })
  const http = await app.inject({ method: 'POST', url: '/ws/send', headers: { authorization: `Bearer ${'k'.repeat(16)}`, 'content-type': 'application/json' }, payload: chat('h-1') })
  t.equal(http.statusCode, 202)
  await app.realtime.publish({ id: 's-2', room: 'general', type: 'chat.message', payload: {} })

  const stored = await history(app)
  t.same(stored.map((m: any) => [m.id, m.from]), [['a-1', { name: 'Ada' }], ['a-2', { name: 'Ada' }], ['s-1', { name: 'Moderator', bot: true }], ['h-1', undefined], ['s-2', undefined]])
  t.notOk('from' in stored[3], 'an HTTP server publish has no from key')
  t.notOk('from' in stored[4], 'nor a server publish that names none')

  const back = await connect(app, '/ws', as('Bob'))
  const ack = await back.join('general', 'a-1')
  t.match(ack.payload, { recovered: true, replayed: 4 })
  const replayed = back.frames.filter((f: any) => f.kind === 'event')
  t.same(replayed.map((f: any) => [f.id, f.from]), [['a-2', { name: 'Ada' }], ['s-1', { name: 'Moderator', bot: true }], ['h-1', undefined], ['s-2', undefined]], 'the replay has the senders the store kept')
})

t.test('a from that server code gives publish must be a JSON object of at most 1 KiB', async (t) => {
  const app = await build(t, senderOptions(t))
  const bad: Array<[unknown, RegExp]> = [
    [['Ada'], /^\/from: expected a JSON object, got an array$/],
    ['Ada', /^\/from: expected a JSON object, got string$/],
    [null, /^\/from: expected a JSON object, got null$/],
    [{ name: 'x'.repeat(1020) }, /^\/from: 1031 bytes as JSON, more than 1024$/],
    [{ n: 1n }, /^\/from: not serializable as JSON/],
    [new Date(0), /^\/from: expected a JSON object, got something that serializes otherwise$/]
  ]
  for (const [from, message] of bad) {
    await t.rejects(app.realtime.publish({ room: 'general', type: 'chat.message', from: from as any }), { code: 'VIX_ERR_INVALID_MESSAGE', path: '/from', message }, String(message))
  }
  await t.rejects(app.realtime.publish({ room: 'r'.repeat(200), type: 'chat.message', from: { name: 'Ada' } }), { code: 'VIX_ERR_INVALID_MESSAGE', path: '/room' }, 'the rest of the envelope is still checked')
  const stored = await app.realtime.publish({ room: 'general', type: 'chat.message', from: { name: 'Ada', at: new Date(0), skip: undefined } })
  t.same(stored.from, { name: 'Ada', at: '1970-01-01T00:00:00.000Z' }, 'the sender goes through JSON once: what every transport, node and store sees')
  t.same((await history(app)).map((m: any) => m.from), [{ name: 'Ada', at: '1970-01-01T00:00:00.000Z' }], 'none of the refused ones was stored')
})

t.test('a senderInfo that throws or answers what cannot be a sender fails that message with VIX_ERR_INTERNAL, logged; the neighbour goes on', async (t) => {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } })
  const answers: Record<string, (session: Session) => unknown> = {
    Boom: () => { throw new Error('no directory today') },
    Huge: () => ({ name: 'x'.repeat(2000) }),
    List: () => ['Ada'],
    Leak: (session) => ({ name: 'Leak', session: session.id })
  }
  const errors: Error[] = []
  await app.register(vixRealtime, {
    relayTypes: ['chat.message'],
    authenticate: byName,
    senderInfo: (session) => (answers[nameOf(session).name] ?? nameOf)(session) as Record<string, unknown>,
    store: { store: new MemoryMessageStore() }
  })
  app.realtime.onError((_session, error) => { errors.push(error) })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const ada = await member(app, 'Ada')

  const expected: Record<string, string> = {
    Boom: 'senderInfo failed: no directory today',
    Huge: 'senderInfo returned no usable sender: 2011 bytes as JSON, more than 1024',
    List: 'senderInfo returned no usable sender: expected a JSON object, got an array',
    Leak: 'senderInfo returned the session id: it is the session\'s secret and must not reach other clients'
  }
  for (const name of Object.keys(answers)) {
    const client = await member(app, name)
    client.send(chat(`${name}-1`))
    const error = await client.waitFor((f) => f.kind === 'error' && f.id === `${name}-1`)
    t.match(error.payload, { code: 'VIX_ERR_INTERNAL', message: 'Internal error while handling the message' }, `${name}: a coded error frame`)
    t.notMatch(JSON.stringify(error), /no directory|bytes as JSON|session id/, `${name}: the cause stays on the server`)
    const handed = errors.at(-1) as Error
    t.equal(handed.cause === undefined ? handed.message : `${handed.message}: ${(handed.cause as Error).message}`, expected[name], `${name}: handed to onError`)
    t.ok(lines.map((line) => JSON.parse(line)).some((entry) => entry.level === 50 && entry.err?.message === expected[name]), `${name}: logged as an error`)
    ada.send(chat(`ada-after-${name}`))
    await ada.waitFor(isChat(`ada-after-${name}`))
    t.notOk(ada.frames.some(isChat(`${name}-1`)), `${name}: its message reached nobody`)
  }
  const stored = await history(app)
  t.same(stored.map((m: any) => m.id), Object.keys(answers).map((name) => `ada-after-${name}`), 'only Ada\'s messages were stored')
  t.ok(stored.every((m: any) => m.from.name === 'Ada'))

  // Over POST /ws/send the same failure is the HTTP answer.
  const boom = await pollMember(app, 'Boom')
  const failed = await boom.send(chat('boom-http'))
  t.equal(failed.statusCode, 500)
  t.match(failed.body, { code: 'VIX_ERR_INTERNAL' })
})

t.test('without senderInfo no message has a from key: live on both transports, history, replay', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], authenticate: byName, store: { path: join(t.testdir(), 'messages.db') } })
  const { a, b, c } = await room(app)
  a.send(chat('a-1'))
  a.send(chat('a-2'))
  const live = [await b.waitFor(isChat('a-1')), ...(await c.pollUntil(isChat('a-1')))]
  t.ok(live.every((frame) => !('from' in frame)), 'live frames have no from')
  t.ok(b.frames.every((frame: any) => !('from' in frame)))
  await b.waitFor(isChat('a-2'))
  const stored = await history(app)
  t.same(stored.map((m: any) => m.id), ['a-1', 'a-2'])
  t.ok(stored.every((m: any) => !('from' in m)), 'history has no from')
  const back = await connect(app, '/ws', as('Bob'))
  await back.join('general', 'a-1')
  const replayed = await back.waitFor(isChat('a-2'))
  t.notOk('from' in replayed, 'the replay has no from')
})

t.test('the client passes from through to its listeners', async (t) => {
  const app = await build(t, senderOptions(t))
  const client = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, longPolling: false, webSocketOptions: as('Bob'), autoUnref: true })
  t.teardown(() => client.close())
  const received: any[] = []
  client.on('chat.message', (message) => { received.push(message) })
  await client.connect()
  await client.join('general')
  const ada = await member(app, 'Ada')
  ada.send(chat('a-1', 'hello Bob'))
  await client.publish('general', 'chat.message', { text: 'hello Ada' })
  await waitFor(() => received.length >= 2, { message: () => `received ${JSON.stringify(received)}` })
  t.same(received.map((m) => [m.payload.text, m.from]), [['hello Bob', { name: 'Ada' }], ['hello Ada', { name: 'Bob' }]])
})

t.test('across nodes: the sender crosses the broker (as JSON) and is stored once for both', async (t) => {
  const bus = new ShuffleBus(seeded(7))
  const store = new MemoryMessageStore()
  const node = (name: string): Hub => {
    const hub = new Hub({ relayTypes: ['chat'], nodeId: name, broker: bus.broker(name), senderInfo: nameOf })
    hub.attachPersistence(new StorePersistence(hub.persistenceParts(), store))
    t.teardown(() => hub.lifecycle.finalizeShutdown())
    return hub
  }
  const hubs = [node('node-a'), node('node-b')]
  const clients = await Promise.all([['Ada', 0], ['Bob', 1]].map(async ([name, h]) => {
    const hub = hubs[h as number]
    const transport = new FakeTransport()
    const session = hub.openSession(transport, { name })
    const joined = await hub.receiveRequest(session, JSON.stringify({ id: 'join', type: 'room.join', payload: { room: 'r' } }))
    t.ok(joined.ok)
    return { hub, session, transport }
  }))
  for (let i = 0; i < 5; i++) {
    for (const { hub, session } of clients) await hub.receiveRequest(session, JSON.stringify({ id: `${(session.identity as { name: string }).name}-${i}`, room: 'r', type: 'chat', payload: { i } }))
  }
  const senders = (transport: FakeTransport): Array<[string, unknown]> => transport.frames('event').map((f) => [f.id, f.from.name])
  const expected = (from: string[]): Array<[string, string]> => from.flatMap((name) => Array.from({ length: 5 }, (_, i): [string, string] => [`${name}-${i}`, name]))
  for (const { transport } of clients) {
    await transport.waitForFrames(10, (f) => f.kind === 'event')
    t.same(senders(transport).sort(), expected(['Ada', 'Bob']).sort(), 'every message with its sender, whichever node accepted it')
  }
  await bus.idle()
  const kept = (await store.listByRoom('r', { limit: 100 })).messages.map((e) => e.message)
  t.same(kept.map((m) => [m.id, m.from?.name]).sort(), expected(['Ada', 'Bob']).sort(), 'stored once each, with the sender')
})

t.test('across nodes over Redis with history in PostgreSQL: live, polled and read back on the other node with the sender', async (t) => {
  const [redis, postgres] = await Promise.all([redisAvailable(), postgresAvailable()])
  if (!requireService(t, 'redis', redis.ok, redis.reason)) return
  if (!requireService(t, 'postgresql', postgres.ok, postgres.reason)) return
  t.teardown(() => dropRunSchemas())
  const prefix = uniquePrefix()
  const schema = schemaFor(t.fullname)
  const node = async (): Promise<App> => {
    const store = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 2 })
    return await build(t, { relayTypes: ['chat.message'], authenticate: byName, senderInfo: nameOf, docs: false, broker: { redis: redisUrl, prefix }, store: { store } })
  }
  const a = await node()
  const b = await node()
  const ada = await member(a, 'Ada')
  const [bob, cy] = await Promise.all([member(b, 'Bob'), pollMember(b, 'Cy')])
  ada.send(chat('a-1'))
  t.same((await bob.waitFor(isChat('a-1'))).from, { name: 'Ada' }, 'a WebSocket member of the other node')
  t.same((await cy.pollUntil(isChat('a-1')))[0].from, { name: 'Ada' }, 'a long-poll member of the other node')
  t.same((await history(b)).map((m) => [m.id, m.from]), [['a-1', { name: 'Ada' }]], 'the other node\'s history, from PostgreSQL')
})

t.test('handler code relaying for a session cannot choose its from', async (t) => {
  const hub = new Hub({ senderInfo: nameOf })
  t.teardown(() => hub.lifecycle.finalizeShutdown())
  hub.on('chat.say', async (session, message) => {
    await hub.relay(session, { ...message, type: 'chat.said', from: { name: 'Someone else' } } as any)
  })
  hub.on('chat.said', () => {})
  const transport = new FakeTransport()
  const session = hub.openSession(transport, { name: 'Ada' })
  await hub.receiveRequest(session, JSON.stringify({ type: 'room.join', payload: { room: 'r' } }))
  const result = await hub.receiveRequest(session, JSON.stringify({ room: 'r', type: 'chat.say', payload: {} }))
  t.ok(result.ok)
  const [said] = await transport.waitForFrames(1, (f) => f.type === 'chat.said')
  t.same(said.from, { name: 'Ada' })

  const anonymous = new Hub({ senderInfo: () => undefined })
  t.teardown(() => anonymous.lifecycle.finalizeShutdown())
  anonymous.on('chat.said', () => {})
  const other = new FakeTransport()
  const nobody = anonymous.openSession(other)
  await anonymous.receiveRequest(nobody, JSON.stringify({ type: 'room.join', payload: { room: 'r' } }))
  const relayed = await anonymous.relay(nobody, { room: 'r', type: 'chat.said', payload: {}, from: { name: 'Someone else' } } as any)
  t.notOk('from' in relayed, 'senderInfo answering undefined: no from, whatever the message carried')
})

t.test('senderInfo is a hub option: checked at register time, refused by the parts', async (t) => {
  t.throws(() => new Hub({ senderInfo: 'name' as any }), { code: 'VIX_ERR_INVALID_OPTION', message: /^Invalid option "senderInfo": expected a function/ })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(hubPlugin)
  await t.rejects(async () => { await app.register(messageStorePlugin, { store: new MemoryMessageStore(), senderInfo: nameOf } as any) }, { code: 'VIX_ERR_INVALID_OPTION', message: /"senderInfo": is a hub option/ })
})
