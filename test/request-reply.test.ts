import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import WebSocket from 'ws'
import vixRealtime from '../plugins/index.js'
import { VixClient, type VixClientError } from '../lib/client/index.js'
import { Hub } from '../lib/hub/hub.js'
import { ReplyCache } from '../lib/hub/replies.js'
import { baseUrl } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'

// Request / reply over a real port, on both transports: the handler's return
// value comes back in the request's ack, and a resent request runs once.

const Add = Type.Object({ a: Type.Number(), b: Type.Number() })
const Sum = Type.Object({ sum: Type.Number() })

interface Built { app: FastifyInstance, logs: any[], calls: Map<string, number> }

/** An app with a few request types; `calls` counts handler runs by type. */
async function build (t: Test, setup?: (app: FastifyInstance, calls: Map<string, number>) => void): Promise<Built> {
  const logs: any[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { logs.push(JSON.parse(line)) } } } })
  await app.register(vixRealtime, { docs: false, metrics: false, longPolling: { wait: 200 } })
  const calls = new Map<string, number>()
  const count = (type: string): void => { calls.set(type, (calls.get(type) ?? 0) + 1) }
  app.realtime.on('math.add', { schema: Add, reply: Sum }, (session, msg) => {
    count('math.add')
    return { sum: msg.payload.a + msg.payload.b }
  })
  app.realtime.on('math.slow', { schema: Add, reply: Sum }, async (session, msg) => {
    count('math.slow')
    await sleep(20)
    return { sum: msg.payload.a * msg.payload.b }
  })
  app.realtime.on('fail.throw', { reply: Sum }, () => {
    count('fail.throw')
    throw new Error('boom')
  })
  app.realtime.on('fail.wrong', { reply: Sum }, () => {
    count('fail.wrong')
    return { sum: 'not a number' } as any
  })
  app.realtime.on('never', { reply: Sum }, async () => await new Promise<{ sum: number }>(() => {}))
  setup?.(app, calls)
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, logs, calls }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

const transports = [
  { name: 'websocket', options: { WebSocket, longPolling: false as const } },
  { name: 'long-polling', options: { WebSocket: undefined as any, transports: ['polling'], longPolling: { wait: 200 } } }
]

function clientOf (t: Test, app: FastifyInstance, options: Record<string, unknown>): VixClient {
  const client = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, reconnect: { minDelay: 20, maxDelay: 50 }, autoUnref: true, ...options })
  t.teardown(() => client.close())
  return client
}

async function rejection (promise: Promise<unknown>): Promise<VixClientError> {
  try {
    await promise
  } catch (error) {
    return error as VixClientError
  }
  throw new Error('expected a rejection')
}

for (const transport of transports) {
  t.test(`${transport.name}: request resolves with the typed reply, sync and async`, async (t) => {
    const { app, calls } = await build(t)
    const client = clientOf(t, app, transport.options)
    await client.connect()
    t.equal(client.transport, transport.name)
    t.same(await client.request<{ sum: number }>('math.add', { a: 2, b: 3 }), { sum: 5 })
    t.same(await client.request('math.slow', { a: 4, b: 5 }), { sum: 20 })
    t.equal(calls.get('math.add'), 1)
    t.equal(calls.get('math.slow'), 1)
  })

  t.test(`${transport.name}: a handler that throws, a bad payload and a wrong reply reject with their codes`, async (t) => {
    const { app, logs } = await build(t)
    const client = clientOf(t, app, transport.options)
    await client.connect()
    t.equal((await rejection(client.request('fail.throw'))).code, 'VIX_ERR_INTERNAL')
    const invalid = await rejection(client.request('math.add', { a: 'x', b: 1 }))
    t.equal(invalid.code, 'VIX_ERR_INVALID_MESSAGE')
    // Over HTTP the client takes the code and message of the 400, not its path.
    if (transport.name === 'websocket') t.equal(invalid.path, '/payload/a')
    const wrong = await rejection(client.request('fail.wrong'))
    t.equal(wrong.code, 'VIX_ERR_INVALID_REPLY')
    t.match(wrong.message, /fail\.wrong.*\/sum/)
    t.ok(logs.some((line) => line.type === 'fail.wrong' && line.problem?.includes('/sum') === true), 'the wrong reply is logged')
  })

  t.test(`${transport.name}: timeout and abort reject with their own codes`, async (t) => {
    const { app } = await build(t)
    const client = clientOf(t, app, transport.options)
    await client.connect()
    t.equal((await rejection(client.request('never', {}, { timeout: 100 }))).code, 'VIX_ERR_CLIENT_TIMEOUT')
    const controller = new AbortController()
    const aborted = rejection(client.request('never', {}, { signal: controller.signal }))
    controller.abort()
    t.equal((await aborted).code, 'VIX_ERR_CLIENT_ABORTED')
    t.equal((await rejection(client.request('math.add', { a: 1, b: 1 }, { signal: AbortSignal.abort() }))).code, 'VIX_ERR_CLIENT_ABORTED', 'an aborted signal sends nothing')
  })

  for (const timing of ['after the handler returned', 'while the handler still runs']) {
    t.test(`${transport.name}: a request whose connection died ${timing} is resent and runs once`, async (t) => {
      const { app, calls } = await build(t, (app, calls) => {
        app.realtime.on('once', { reply: Sum }, async (session) => {
          calls.set('once', (calls.get('once') ?? 0) + 1)
          // The server received it: drop the connection before its ack can leave.
          session.transport.terminate()
          if (timing === 'while the handler still runs') await sleep(300)
          return { sum: 42 }
        })
      })
      const client = clientOf(t, app, transport.options)
      await client.connect()
      const reconnected = new Promise((resolve) => client.on('reconnecting', resolve))
      t.same(await client.request('once', {}, { timeout: 5000 }), { sum: 42 })
      await reconnected
      t.equal(calls.get('once'), 1, 'the handler ran once')
    })
  }
}

t.test('a request without an id is refused with a coded error frame, and its handler does not run', async (t) => {
  const { app, calls } = await build(t)
  const ws = await connect(app)
  ws.send({ type: 'math.add', payload: { a: 1, b: 2 } })
  const error = await ws.waitFor((f) => f.kind === 'error')
  t.match(error.payload, { code: 'VIX_ERR_INVALID_MESSAGE', path: '/id' })
  ws.send({ id: 'r1', type: 'math.add', payload: { a: 1, b: 2 } })
  const ack = await ws.waitFor((f) => f.kind === 'ack' && f.id === 'r1')
  t.same(ack.payload, { reply: { sum: 3 } }, 'the reply is the ack payload\'s reply')
  t.equal(calls.get('math.add'), 1)
  ws.send({ id: 'r1', type: 'math.add', payload: { a: 1, b: 2 } })
  await ws.waitForCount((f) => f.kind === 'ack' && f.id === 'r1', 2)
  t.equal(calls.get('math.add'), 1, 'a repeated id is answered from the cache')
})

t.test('a request type with several handlers: each runs in turn, the reply is the last one\'s, and a repeat runs none', async (t) => {
  const ran: string[] = []
  const { app } = await build(t, (app) => {
    app.realtime.on('multi', { reply: Sum }, async () => {
      await sleep(10)
      ran.push('first')
      return { sum: 1 }
    })
    app.realtime.on('multi', (session, msg) => {
      ran.push('second')
      return { sum: (msg.payload as { n: number }).n }
    })
  })
  const ws = await connect(app)
  ws.send({ id: 'm1', type: 'multi', payload: { n: 7 } })
  t.same((await ws.waitFor((f) => f.kind === 'ack' && f.id === 'm1')).payload, { reply: { sum: 7 } })
  t.same(ran, ['first', 'second'], 'in registration order, the second after the first resolved')
  ws.send({ id: 'm1', type: 'multi', payload: { n: 8 } })
  t.same((await ws.waitForCount((f) => f.kind === 'ack' && f.id === 'm1', 2))[1].payload, { reply: { sum: 7 } }, 'the repeat is answered from the cache')
  t.same(ran, ['first', 'second'])
})

t.test('in production a reply is not checked', async (t) => {
  const before = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
  t.teardown(() => { process.env.NODE_ENV = before })
  const { app } = await build(t)
  const ws = await connect(app)
  ws.send({ id: 'w1', type: 'fail.wrong', payload: {} })
  t.same((await ws.waitFor((f) => f.id === 'w1')).payload, { reply: { sum: 'not a number' } })
})

t.test('the catalogue carries a request type\'s reply schema', async (t) => {
  const { app } = await build(t)
  t.equal(app.realtime.catalogue().find((entry) => entry.type === 'math.add')?.reply, Sum)
  t.equal(app.realtime.catalogue().find((entry) => entry.type === 'never')?.schema, undefined)
})

t.test('replyCache options out of range are refused at boot', async (t) => {
  for (const replyCache of [{ size: 0 }, { ttl: 10 }, { size: 1.5 }, { sizes: 3 }] as any[]) {
    t.throws(() => new Hub({ replyCache }), { code: 'VIX_ERR_INVALID_OPTION' }, JSON.stringify(replyCache))
  }
  t.throws(() => new Hub({ relayTypes: ['chat'] }).on('chat', { reply: Sum }), { code: 'VIX_ERR_INVALID_OPTION' }, 'a relay type cannot be a request')
})

t.test('the reply cache: the oldest is evicted past its size, an entry expires after its TTL, duplicates of a run in flight wait', async (t) => {
  let now = 0
  const cache = new ReplyCache({ size: 2, ttl: 1000 }, () => now)
  const key = (id: string): string => ReplyCache.keyOf('key:abc', id)
  /** Run `id` synchronously unless it is known: what the dispatcher does. */
  const run = (id: string, reply: unknown): unknown => {
    const earlier = cache.lookup(key(id))
    if (earlier !== undefined) return earlier
    cache.settle(key(id), { ok: true, reply })
    return undefined
  }
  t.equal(cache.lookup(key('a')), undefined, 'first time: run it')
  cache.markRunning(key('a'))
  const waiting = cache.lookup(key('a'))
  t.ok(waiting instanceof Promise, 'running asynchronously: a duplicate waits')
  t.equal(cache.lookup(key('a')), waiting, 'every duplicate waits on the same answer')
  cache.settle(key('a'), { ok: true, reply: 1 })
  t.same(await waiting, { ok: true, reply: 1 })
  t.same(cache.lookup(key('a')), { ok: true, reply: 1 }, 'settled: answered from the cache')
  t.equal(run('b', 2), undefined)
  t.equal(run('c', 3), undefined)
  t.equal(cache.size, 2)
  t.equal(run('a', 4), undefined, 'the oldest was evicted: runs again')
  t.same(cache.lookup(key('c')), { ok: true, reply: 3 })
  t.equal(cache.lookup(key('b')), undefined, 'b, now the oldest, was evicted by a')
  now = 999
  t.same(cache.lookup(key('c')), { ok: true, reply: 3 }, 'within the TTL')
  now = 1000
  t.equal(run('c', 5), undefined, 'past the TTL: runs again')
  t.same(cache.lookup(key('c')), { ok: true, reply: 5 }, 'and answers with its new outcome')
  t.equal(run('d', 6), undefined)
  t.equal(cache.lookup(key('a')), undefined, 'a was the oldest')
  // An answer run again after its TTL is remembered anew: the slot of its first answer, reused later, does not evict it.
  const three = new ReplyCache({ size: 3, ttl: 1000 }, () => now)
  const again = (id: string, reply: unknown): void => { if (three.lookup(key(id)) === undefined) three.settle(key(id), { ok: true, reply }) }
  again('x', 1)
  again('y', 2)
  now += 1000
  again('x', 3)
  again('z', 4)
  t.same(three.lookup(key('x')), { ok: true, reply: 3 }, 'x\'s newer answer stays when its first slot is reused')
  t.equal(three.size, 3)
  t.not(ReplyCache.keyOf('key:abc', 'x'), ReplyCache.keyOf('key:abd', 'x'), 'keyed by sender scope')
  // A request still running is never evicted: however many answers come meanwhile, a duplicate waits for it.
  t.equal(cache.lookup(key('slow')), undefined)
  cache.markRunning(key('slow'))
  for (const id of ['e', 'f', 'g', 'h', 'i']) run(id, id)
  const duplicate = cache.lookup(key('slow'))
  t.ok(duplicate instanceof Promise, 'still running: the duplicate waits')
  cache.settle(key('slow'), { ok: true, reply: 'slow' })
  t.same(await duplicate, { ok: true, reply: 'slow' })
  t.same(cache.lookup(key('slow')), { ok: true, reply: 'slow' })
  t.equal(cache.size, 2)
})
