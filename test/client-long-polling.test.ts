import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { test } from 'tap'
import WebSocket from 'ws'
import { VixClient, type VixClientError, type VixClientOptions, type VixMessage } from '../lib/client/index.js'
import { CountingTimers } from './helpers/fake-clock.js'
import { baseUrl } from './helpers/app.js'
import { delay, nextEvent, waitFor } from './helpers/wait.js'

interface Teardown { teardown: (fn: () => unknown) => void }

interface FakeSession { id: string, queue: any[], base: number, rooms: Set<string>, dropped: number, wake?: () => void }

/**
 * A stand-in for the long-polling transport built on another branch, with
 * exactly the contract of DESIGN §3: GET /ws/poll creates or polls a session
 * (frames resent until acked with `next`), POST /ws/send processes one typed
 * message and answers 202 {id}, 404 VIX_ERR_SESSION_NOT_FOUND for an unknown
 * session, `dropped` after an overflow. Rooms replay from `since` out of an
 * in-memory history. There is no WebSocket route, so an upgrade gets 404.
 */
class FakePollServer {
  readonly app: FastifyInstance = Fastify()
  readonly sessions = new Map<string, FakeSession>()
  readonly history = new Map<string, any[]>()
  readonly polls: Array<{ ack?: string, wait?: string }> = []
  readonly sends: any[] = []
  readonly headers: Array<Record<string, unknown>> = []
  created = 0
  refuseCreate: number | undefined
  failPolls = 0
  private readonly holds = new Set<() => void>()

  constructor () {
    this.app.addHook('onRequest', async (request) => { this.headers.push({ ...request.headers, query: request.query }) })
    this.app.get('/ws/poll', async (request, reply) => {
      const query = request.query as { session_id?: string, ack?: string, wait?: string }
      if (query.session_id === undefined) {
        if (this.refuseCreate !== undefined) {
          reply.header('retry-after', '1')
          return await this.error(reply, this.refuseCreate, 'VIX_ERR_SHUTTING_DOWN', 'shutting down')
        }
        const session: FakeSession = { id: randomUUID(), queue: [], base: 0, rooms: new Set(), dropped: 0 }
        this.sessions.set(session.id, session)
        this.created++
        return { session_id: session.id, messages: [], next: 0 }
      }
      this.polls.push({ ack: query.ack, wait: query.wait })
      if (this.failPolls > 0) {
        this.failPolls--
        return await reply.code(500).send('<html>proxy error</html>')
      }
      const session = this.sessions.get(query.session_id)
      if (session === undefined) return await this.error(reply, 404, 'VIX_ERR_SESSION_NOT_FOUND', 'Session not found or expired')
      if (query.ack !== undefined) {
        const confirmed = Number(query.ack) - session.base
        if (confirmed > 0) {
          session.queue.splice(0, confirmed)
          session.base = Number(query.ack)
        }
      }
      if (session.queue.length === 0) await this.hold(session, Number(query.wait ?? 25_000))
      const dropped = session.dropped
      session.dropped = 0
      return { session_id: session.id, messages: [...session.queue], next: session.base + session.queue.length, dropped }
    })
    this.app.post('/ws/send', async (request, reply) => {
      const session = this.sessions.get((request.query as { session_id: string }).session_id)
      if (session === undefined) return await this.error(reply, 404, 'VIX_ERR_SESSION_NOT_FOUND', 'Session not found or expired')
      const message = request.body as { id?: string, room?: string, type: string, payload: any }
      this.sends.push(message)
      const ts = new Date().toISOString()
      if (message.type === 'room.join') {
        const { room, since } = message.payload
        session.rooms.add(room)
        const history = this.history.get(room) ?? []
        const from = since === undefined ? -1 : history.findIndex((e) => e.id === since)
        const recovered = from !== -1
        const replay = recovered ? history.slice(from + 1) : []
        for (const event of replay) this.enqueue(session, event)
        this.enqueue(session, { id: message.id, kind: 'ack', type: 'room.join', room, ts, payload: { room, recovered, replayed: replay.length, latestId: history.at(-1)?.id ?? null } })
      } else if (message.type === 'room.leave') {
        session.rooms.delete(message.payload.room)
        this.enqueue(session, { id: message.id, kind: 'ack', type: 'room.leave', room: message.payload.room, ts, payload: { room: message.payload.room } })
      } else if (message.type === 'chat.message') {
        if (message.room === undefined || !session.rooms.has(message.room)) return await this.error(reply, 403, 'VIX_ERR_NOT_IN_ROOM', 'Not in room')
        this.publish(message.room, message.type, message.payload, message.id)
        this.enqueue(session, { id: message.id, kind: 'ack', type: message.type, room: message.room, ts, payload: {} })
      } else {
        return await this.error(reply, 400, 'VIX_ERR_UNKNOWN_TYPE', `Unknown message type "${message.type}"`)
      }
      return await reply.code(202).send({ id: message.id ?? randomUUID() })
    })
  }

  private async error (reply: FastifyReply, statusCode: number, code: string, message: string): Promise<FastifyReply> {
    return await reply.code(statusCode).send({ statusCode, code, error: 'Error', message })
  }

  private async hold (session: FakeSession, wait: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const release = (): void => {
        clearTimeout(timer)
        this.holds.delete(release)
        session.wake = undefined
        resolve()
      }
      const timer = setTimeout(release, wait)
      session.wake = release
      this.holds.add(release)
    })
  }

  enqueue (session: FakeSession, frame: any): void {
    session.queue.push(frame)
    session.wake?.()
  }

  /** Store an event in the room's history and deliver it to the sessions in the room (unless `deliver` is false). */
  publish (room: string, type: string, payload: any = {}, id: string = randomUUID(), deliver = true): any {
    const event = { id, kind: 'event', room, type, ts: new Date().toISOString(), payload }
    const history = this.history.get(room) ?? []
    history.push(event)
    this.history.set(room, history)
    if (deliver) for (const session of this.sessions.values()) if (session.rooms.has(room)) this.enqueue(session, event)
    return event
  }

  async start (t: Teardown): Promise<string> {
    t.teardown(async () => {
      for (const release of this.holds) release()
      await this.app.close()
    })
    await this.app.listen({ host: '127.0.0.1', port: 0 })
    return `${baseUrl(this.app, 'ws')}/ws`
  }
}

async function setup (t: Teardown, options: Partial<VixClientOptions> = {}): Promise<{ fake: FakePollServer, vix: VixClient }> {
  const fake = new FakePollServer()
  const url = await fake.start(t)
  const vix = new VixClient({ url, WebSocket, transports: ['websocket', 'polling'], longPolling: { wait: 200 }, reconnect: { minDelay: 10, maxDelay: 50, factor: 2, jitter: 0 }, ...options })
  t.teardown(() => { vix.close() })
  return { fake, vix }
}

test('falls back to long polling when the upgrade is refused; join, publish and receive in order', async (t) => {
  const { fake, vix } = await setup(t)
  const switched = nextEvent(vix, 'transport')
  await vix.connect()
  t.same(await switched, ['long-polling', 'websocket'])
  t.equal(vix.transport, 'long-polling')
  t.equal(vix.state, 'open')

  const ack = await vix.join('general')
  t.same(ack, { room: 'general', recovered: false, replayed: 0, latestId: null })

  const received: VixMessage[] = []
  vix.on('chat.message', (msg) => { received.push(msg) })
  const published = await vix.publish('general', 'chat.message', { text: 'hi' })
  t.same(published, { id: published.id, type: 'chat.message', room: 'general' }, 'resolved by 202 {id}')
  t.same(fake.sends.at(-1), { id: published.id, room: 'general', type: 'chat.message', payload: { text: 'hi' } })

  for (let n = 1; n <= 3; n++) fake.publish('general', 'chat.message', { n })
  await nextEvent(vix, 'chat.message', (m) => m.payload.n === 3)
  t.same(received.map((m) => m.payload), [{ text: 'hi' }, { n: 1 }, { n: 2 }, { n: 3 }], 'in order, each once (resent frames are acked away)')
  const acks = fake.polls.map((p) => p.ack).filter((a) => a !== undefined).map(Number)
  t.ok(acks.length > 0 && acks.every((a, i) => i === 0 || a >= acks[i - 1]), 'polls acknowledge with a growing next')
  t.ok(fake.polls.every((p) => p.wait === '200'))

  const refused = await vix.publish('elsewhere', 'chat.message', {}).catch((e: unknown) => e) as VixClientError
  t.equal(refused.code, 'VIX_ERR_NOT_IN_ROOM', 'an HTTP refusal rejects with its code')
  t.equal(refused.status, 403)
  const unknown = nextEvent(vix, 'error')
  vix.send({ type: 'mystery' })
  t.equal((await unknown)[0].code, 'VIX_ERR_UNKNOWN_TYPE', 'a refused raw send is emitted')
  const binary = nextEvent(vix, 'error')
  vix.send(new Uint8Array([1]))
  t.equal((await binary)[0].code, 'VIX_ERR_CLIENT_UNSUPPORTED')

  await vix.leave('general')
  t.same(fake.sends.at(-1).type, 'room.leave')
})

test('session lost (404): a new session, rooms rejoined with since, missed events replayed', async (t) => {
  const { fake, vix } = await setup(t)
  await vix.connect()
  await vix.join('general')
  const first = fake.publish('general', 'news', { n: 1 })
  await nextEvent(vix, 'news')
  t.equal(vix.lastEventId('general'), first.id)

  const got: number[] = []
  vix.on('news', (msg) => { got.push(msg.payload.n) })
  const rejoined = nextEvent(vix, 'rejoined')
  const reconnecting = nextEvent(vix, 'reconnecting')
  fake.sessions.clear() // expired on the server
  fake.publish('general', 'news', { n: 2 }) // missed: nobody is in the room now
  const [schedule] = await reconnecting
  t.equal(schedule.delay, 0, 'a lost session is replaced at once')
  const [ack] = await rejoined
  t.same(ack, { room: 'general', recovered: true, replayed: 1, latestId: fake.history.get('general')!.at(-1).id, since: first.id })
  fake.publish('general', 'news', { n: 3 })
  await nextEvent(vix, 'news', (m) => m.payload.n === 3)
  t.same(got, [2, 3], 'no gap, no duplicate')
  t.equal(fake.created, 2)
})

test('dropped > 0 is a gap: rooms are rejoined with the last id seen before it', async (t) => {
  const { fake, vix } = await setup(t)
  await vix.connect()
  await vix.join('general')
  const first = fake.publish('general', 'news', { n: 1 })
  await nextEvent(vix, 'news')
  const got: number[] = []
  vix.on('news', (msg) => { got.push(msg.payload.n) })

  // Two events overflowed the session's buffer; the next poll reports them.
  fake.publish('general', 'news', { n: 2 }, undefined, false)
  fake.publish('general', 'news', { n: 3 }, undefined, false)
  const session = [...fake.sessions.values()][0]
  session.dropped = 2
  const gap = nextEvent(vix, 'gap')
  fake.publish('general', 'news', { n: 4 })
  t.same((await gap)[0], { dropped: 2 })
  await nextEvent(vix, 'rejoined')
  const rejoin = fake.sends.filter((m) => m.type === 'room.join').at(-1)
  t.same(rejoin.payload, { room: 'general', since: first.id })
  await delay(50)
  t.same([...got].sort(), [2, 3, 4], 'every event once (4 came live, 2 and 3 by replay)')
})

test('poll failures are retried on the same session, then the client reconnects', async (t) => {
  const { fake, vix } = await setup(t)
  await vix.connect()
  fake.failPolls = 1
  const polls = fake.polls.length
  // The failed poll, then at least one more on the same session.
  await waitFor(() => fake.failPolls === 0 && fake.polls.length >= polls + 2, { message: 'the client to resume polling' })
  t.equal(fake.created, 1, 'one failed poll: same session')
  t.equal(vix.state, 'open')

  fake.failPolls = 3
  const [info] = await nextEvent(vix, 'close')
  t.same(info, { code: 1006, reason: 'long polling failed', transport: 'long-polling', willReconnect: true })
  await nextEvent(vix, 'open')
  t.equal(fake.created, 2)
})

test('long polling only (no WebSocket in Node 20): headers, query, going_away, no timers after close', async (t) => {
  const timers = new CountingTimers()
  let token = 0
  const { fake, vix } = await setup(t, {
    WebSocket: undefined,
    query: { tenant: 'acme' },
    headers: () => ({ authorization: `Bearer ${++token}` }),
    timers,
    random: () => 0
  })
  t.equal(vix.transport, 'long-polling', 'Node 20 has no global WebSocket: polling from the start')
  await vix.connect()
  await vix.join('general')
  const create = fake.headers[0]
  t.equal(create.authorization, 'Bearer 1', 'headers function called per request')
  t.match(create.query, { tenant: 'acme', client_key: /^[\w-]{22}$/ }, 'the app\'s query, and the client_key on the request that creates the session')
  t.same(Object.keys(create.query as Record<string, string>), ['tenant', 'client_key'])

  const goingAway = nextEvent(vix, 'going_away')
  const reconnecting = nextEvent(vix, 'reconnecting')
  const session = [...fake.sessions.values()][0]
  fake.enqueue(session, { kind: 'system', type: 'server.going_away', ts: new Date().toISOString(), payload: { retryAfterMs: 40 } })
  t.same((await goingAway)[0], { retryAfterMs: 40 })
  t.equal((await reconnecting)[0].delay, 40)
  await nextEvent(vix, 'open')
  await nextEvent(vix, 'rejoined')

  // A poll is held by the server right now: close() aborts it and leaves no timer.
  await delay(20)
  vix.close()
  t.equal(timers.active.size, 0)
  t.equal(vix.state, 'closed')
})

test('session creation refused with 503: retry after Retry-After', async (t) => {
  const { fake, vix } = await setup(t, { WebSocket: undefined, random: () => 0 })
  fake.refuseCreate = 503
  const failure = nextEvent(vix, 'error')
  const reconnecting = nextEvent(vix, 'reconnecting')
  vix.connect().catch(() => {})
  const [error] = await failure
  t.equal(error.code, 'VIX_ERR_CLIENT_CONNECT')
  t.equal(error.status, 503)
  t.equal((await reconnecting)[0].delay, 1000)
  vix.close()
})

test('falls back after N WebSocket failures, an HTTP check that reaches the server and one more failure, even when the browser says nothing about why', async (t) => {
  class Failing {
    readyState = 0
    binaryType = 'blob'
    onopen: ((e: unknown) => void) | null = null
    onmessage: ((e: unknown) => void) | null = null
    onerror: ((e: unknown) => void) | null = null
    onclose: ((e: unknown) => void) | null = null
    constructor () {
      setTimeout(() => {
        this.onerror?.({ type: 'error' })
        this.onclose?.({ code: 1006, reason: '' })
      }, 1)
    }

    send (): void {}
    close (): void {}
  }
  const { vix } = await setup(t, { WebSocket: Failing as any, longPolling: { wait: 200, afterFailures: 3 } })
  const failures: string[] = []
  vix.on('error', (error) => { failures.push((error as VixClientError).code) })
  const switched = nextEvent(vix, 'transport')
  await vix.connect()
  await switched
  // Three failures, then GET /ws/health answers (a 404 here: any answer means HTTP works), then one more WebSocket try.
  t.same(failures, ['VIX_ERR_CLIENT_CONNECT', 'VIX_ERR_CLIENT_CONNECT', 'VIX_ERR_CLIENT_CONNECT', 'VIX_ERR_CLIENT_CONNECT'])
  t.equal(vix.transport, 'long-polling')
})

test('a refused upgrade falls back even with reconnect off (falling back is part of connecting)', async (t) => {
  const { vix } = await setup(t, { reconnect: false })
  await vix.connect()
  t.equal(vix.transport, 'long-polling')
  t.equal(vix.state, 'open')
})
