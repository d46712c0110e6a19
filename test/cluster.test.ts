import t from 'tap'
import { fileURLToPath } from 'node:url'
import { bundleForChild, startNode } from './helpers/child.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { redisAvailable, redisUrl, uniquePrefix } from './helpers/redis.js'
import { requireService } from './helpers/services.js'
import { delay, waitFor } from './helpers/wait.js'
import { connectUrl, type TestClient } from './helpers/ws-client.js'

const serverFile = fileURLToPath(new URL('../example-app/server.ts', import.meta.url))

/** A long-poll client over real HTTP (the session lives on the node that created it). */
class Poller {
  next = 0
  readonly received: any[] = []
  private constructor (readonly base: string, readonly sessionId: string) {}

  static async create (base: string): Promise<Poller> {
    const body = await (await fetch(`${base}/ws/poll`)).json() as { session_id: string, next: number }
    const poller = new Poller(base, body.session_id)
    poller.next = body.next
    return poller
  }

  async poll (base = this.base): Promise<number> {
    const response = await fetch(`${base}/ws/poll?session_id=${this.sessionId}&ack=${this.next}&wait=200`)
    if (response.status !== 200) return response.status
    const body = await response.json() as { next: number, messages: any[] }
    this.next = body.next
    this.received.push(...body.messages)
    return 200
  }

  async send (message: unknown): Promise<number> {
    const response = await fetch(`${this.base}/ws/send?session_id=${this.sessionId}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) })
    return response.status
  }

  async until (predicate: (frame: any) => boolean, count = 1): Promise<void> {
    await waitFor(async () => {
      await this.poll()
      return this.received.filter(predicate).length >= count
    }, { timeout: 10_000, interval: 1, message: () => `poller got ${this.received.filter(predicate).length}/${count}` })
  }
}

const eventIds = (client: TestClient): string[] => client.frames
  .filter((f): f is Record<string, any> => typeof f === 'object' && f.kind === 'event' && f.type === 'chat.message')
  .map((f) => f.id)

/** Ids of `publisher`'s messages, in the order `seen` has them. */
const ofPublisher = (seen: string[], publisher: string): string[] => seen.filter((id) => id.startsWith(`${publisher}-`))

t.test('three nodes in separate processes over Redis and PostgreSQL', async (t) => {
  const [redis, postgres] = await Promise.all([redisAvailable(), postgresAvailable()])
  if (!requireService(t, 'redis', redis.ok, redis.reason)) return
  if (!requireService(t, 'postgresql', postgres.ok, postgres.reason)) return
  t.teardown(() => dropRunSchemas())
  const bundle = await bundleForChild(serverFile, t.testdir())
  const env = { REDIS_URL: redisUrl, VIX_REDIS_PREFIX: uniquePrefix(), DATABASE_URL: postgresUrl, VIX_PG_SCHEMA: schemaFor(t.fullname) }
  // The first node creates the schema; the others find it.
  const nodes = [await startNode(t, bundle, 'a', env)]
  nodes.push(...await Promise.all([startNode(t, bundle, 'b', env), startNode(t, bundle, 'c', env)]))

  const clients = await Promise.all(nodes.flatMap((node) => [0, 1].map(async () => {
    const client = await connectUrl(node.ws)
    t.teardown(() => { client.close() })
    await client.join('general')
    return client
  })))
  const leaver = clients[0]
  const poller = await Poller.create(nodes[2].base)
  t.equal(await poller.send({ type: 'room.join', payload: { room: 'general' } }), 202)
  await poller.until((f) => f.kind === 'ack' && f.type === 'room.join')

  // Every node publishes over WebSocket, node C also over POST /ws/send, interleaved.
  const perPublisher = 15
  const wsPublishers = [clients[1], clients[3], clients[5]]
  const names = ['wa', 'wb', 'wc']
  for (let i = 0; i < perPublisher; i++) {
    for (const [p, publisher] of wsPublishers.entries()) publisher.send({ type: 'chat.message', id: `${names[p]}-${i}`, room: 'general', payload: { text: `${i}` } })
    t.equal(await poller.send({ type: 'chat.message', id: `hc-${i}`, room: 'general', payload: { text: `${i}` } }), 202)
  }
  const total = perPublisher * 4
  for (const client of clients) await client.waitForCount((f) => f.kind === 'event', total, 15_000)
  await poller.until((f) => f.kind === 'event', total)
  await delay(200)

  const history = await (await fetch(`${nodes[0].base}/ws/history?room=general&limit=100`)).json() as { messages: Array<{ id: string }> }
  const order = history.messages.map((m) => m.id)
  t.equal(order.length, total, 'every message stored once')
  for (const [i, client] of clients.entries()) {
    t.same(eventIds(client), order, `client ${i} (node ${nodes[Math.floor(i / 2)].name}): every message exactly once, in the one stored order`)
  }
  t.same(poller.received.filter((f) => f.kind === 'event').map((f) => f.id), order, 'the long-poll client too')
  for (const name of [...names, 'hc']) {
    t.same(ofPublisher(order, name), Array.from({ length: perPublisher }, (_, i) => `${name}-${i}`), `${name}: in its publisher's order`)
  }

  // History pages are the same on every node.
  const pages = await Promise.all(nodes.map(async (node) => await (await fetch(`${node.base}/ws/history?room=general&limit=7&before=${order[30]}`)).text()))
  t.equal(new Set(pages).size, 1, 'one page, whichever node answers')
  t.same((JSON.parse(pages[0]) as { messages: Array<{ id: string }> }).messages.map((m) => m.id), order.slice(23, 30))

  // A client leaves node A and comes back on node B with since: exactly what it missed.
  const since = order[order.length - 1]
  leaver.close()
  await leaver.closed
  for (let i = 0; i < 5; i++) clients[3].send({ type: 'chat.message', id: `missed-${i}`, room: 'general', payload: { text: 'x' } })
  await clients[2].waitForCount((f) => f.kind === 'event', total + 5)
  const back = await connectUrl(nodes[1].ws)
  t.teardown(() => { back.close() })
  const ack = await back.join('general', since)
  t.same([ack.payload.recovered, ack.payload.replayed], [true, 5])
  t.same(eventIds(back), ['missed-0', 'missed-1', 'missed-2', 'missed-3', 'missed-4'], 'rejoined on another node: exactly what it missed')

  // No sticky sessions: a long-poll session lives on its node; elsewhere it is 404, and the client rejoins there.
  t.equal(await poller.poll(nodes[0].base), 404, 'a poll that reaches another node gets 404')

  // Shutdown closes both Redis connections and the pool: the process exits by itself.
  const exited = new Promise<number | null>((resolve) => { nodes[2].process.once('exit', resolve) })
  nodes[2].process.kill('SIGTERM')
  t.equal(await exited, 0, 'a node with Redis and PostgreSQL exits 0 on SIGTERM, by itself')
})
