import t, { type Test } from 'tap'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import { baseUrl, build } from './helpers/app.js'
import { connect, upgradeStatus, type TestClient } from './helpers/ws-client.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { waitFor } from './helpers/wait.js'

const ROOMS = 5
const SOCKETS = 100
const HELD_POLLS = 4

interface PollAnswer { status: number, body: any, retryAfter: string | null, at: number }

/** One long-poll request over real HTTP (not inject), so the server truly holds it. */
async function httpPoll (app: FastifyInstance, query: Record<string, string> = {}): Promise<PollAnswer> {
  const response = await fetch(`${baseUrl(app)}/ws/poll?${new URLSearchParams(query).toString()}`)
  return { status: response.status, body: await response.json(), retryAfter: response.headers.get('retry-after'), at: Date.now() }
}

/** The full app: every transport, metrics, and a real SQLite store in the test's directory. */
async function fullApp (t: Test): Promise<{ app: FastifyInstance, dbPath: string, clients: TestClient[] }> {
  const dbPath = join(t.testdir(), 'messages.db')
  const app = await build(t, { relayTypes: ['chat.message'], shutdownTimeout: 3000, store: { path: dbPath } })
  const clients = await Promise.all(Array.from({ length: SOCKETS }, async () => await connect(app)))
  await Promise.all(clients.map(async (client, i) => await client.join(`room-${i % ROOMS}`)))
  return { app, dbPath, clients }
}

/** Start `count` polls held on fresh sessions; resolves once the server holds every one. */
async function holdPolls (app: FastifyInstance, count: number): Promise<Array<Promise<PollAnswer>>> {
  const before = (await scrapeMetrics(app)).value('vix_longpoll_polls_total')
  const sessions = await Promise.all(Array.from({ length: count }, async () => await httpPoll(app)))
  const held = sessions.map(async (created) => await httpPoll(app, { session_id: created.body.session_id, wait: '20000' }))
  // A poll is counted when the server takes it; with nothing queued and no stop requested, it is then held.
  await waitFor(async () => (await scrapeMetrics(app)).value('vix_longpoll_polls_total') === before + count, { timeout: 5000, interval: 20, message: 'timed out waiting for the polls to be held' })
  return held
}

/** Every client's acked chat ids. */
function ackedIds (clients: TestClient[]): string[] {
  return clients.flatMap((client) => client.frames.filter((f: any) => f.kind === 'ack' && f.type === 'chat.message').map((f: any) => f.id as string))
}

function walSize (dbPath: string): number {
  const wal = `${dbPath}-wal`
  return existsSync(wal) ? statSync(wal).size : 0
}

t.test('app.close() with 100 sockets, held polls and publishes in flight loses nothing that was acked', async (t) => {
  const { app, dbPath, clients } = await fullApp(t)
  const polls = await holdPolls(app, HELD_POLLS)

  // Settled publishes first (acks surely in), then a burst still in flight when close starts.
  for (let i = 0; i < 20; i++) clients[i].send({ type: 'chat.message', id: `settled-${i}`, room: `room-${i % ROOMS}`, payload: { i } })
  await Promise.all(clients.slice(0, 20).map(async (client, i) => await client.waitFor((f) => f.kind === 'ack' && f.id === `settled-${i}`)))
  for (let i = 0; i < 200; i++) {
    const sender = i % SOCKETS
    clients[sender].send({ type: 'chat.message', id: `burst-${i}`, room: `room-${sender % ROOMS}`, payload: { i } })
  }
  // Close as soon as the burst starts being acked: part of it acked, the rest still in flight.
  await clients[0].waitFor((f) => f.kind === 'ack' && f.id === 'burst-0')

  const closing = Date.now()
  await app.close()
  t.ok(Date.now() - closing < 3000 + 1000, 'close finished within shutdownTimeout + 1 s')

  for (const [i, client] of clients.entries()) {
    const { code } = await client.closed
    t.equal(code, 1001, `socket ${i} closed 1001`)
    const goingAway = client.frames.filter((f: any) => f.kind === 'system' && f.type === 'server.going_away')
    t.equal(goingAway.length, 1, `socket ${i} got server.going_away once`)
    t.equal(client.frames.at(-1), goingAway[0], `socket ${i}: server.going_away is the last frame before the close`)
  }

  for (const answer of await Promise.all(polls)) {
    t.equal(answer.status, 200, 'a held poll is answered 200')
    t.ok(answer.at - closing < 3000, `answered promptly (${answer.at - closing} ms), not after its 20 s wait`)
    t.match(answer.body.messages, [{ kind: 'system', type: 'server.going_away', payload: { retryAfterMs: 1000 } }])
  }

  const acked = ackedIds(clients)
  t.ok(acked.length > 20, `${acked.length} publishes were acked, some of them from the burst`)
  t.equal(new Set(acked).size, acked.length, 'no id was acked twice')
  t.equal(walSize(dbPath), 0, 'the -wal file is checkpointed away')
  const db = new Database(dbPath, { readonly: true })
  t.teardown(() => db.close())
  const count = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM messages WHERE id = ?')
  const missing = acked.filter((id) => count.get(id)?.n !== 1)
  t.same(missing, [], 'every acked message is stored exactly once')
})

t.test('during phase 1 an upgrade and a new poll session get 503 with Retry-After; then close finishes the store', async (t) => {
  const { app, dbPath, clients } = await fullApp(t)
  const polls = await holdPolls(app, 2)
  clients[0].send({ type: 'chat.message', id: 'before-stop', room: 'room-0', payload: {} })
  await clients[0].waitFor((f) => f.kind === 'ack' && f.id === 'before-stop')

  app.realtime.lifecycle.requestStop()
  t.equal(await upgradeStatus(app), 503, 'an upgrade during phase 1 is refused with 503')
  const refused = await httpPoll(app)
  t.equal(refused.status, 503, 'a new poll session is refused with 503')
  t.equal(refused.retryAfter, '1', 'with Retry-After')
  t.equal(refused.body.code, 'VIX_ERR_SHUTTING_DOWN')
  for (const answer of await Promise.all(polls)) t.equal(answer.status, 200, 'held polls are released by phase 1 alone')
  t.same((await Promise.all(clients.map(async (c) => (await c.closed).code))).filter((code) => code !== 1001), [], 'phase 1 closed every socket 1001')

  await app.close()
  t.equal(walSize(dbPath), 0, 'the -wal file is checkpointed away')
  const db = new Database(dbPath, { readonly: true })
  t.teardown(() => db.close())
  t.equal(db.prepare('SELECT COUNT(*) AS n FROM messages WHERE id = ?').pluck().get('before-stop'), 1)
})
