import t, { type Test } from 'tap'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import WebSocket from 'ws'
import { VixClient, type VixClientOptions } from '../lib/client/index.js'
import { baseUrl, build } from './helpers/app.js'
import { FakeClock } from './helpers/fake-clock.js'
import { delay, until } from './helpers/wait.js'

/** Tokens `user:expiresAt` (fake clock ms); `bad…` is refused. Every token the server saw, in order. */
async function server (t: Test, fake: FakeClock): Promise<{ app: FastifyInstance, seen: string[] }> {
  const seen: string[] = []
  const app = await build(t, {
    relayTypes: ['chat'],
    docs: false,
    clock: { now: () => fake.now, setTimeout: fake.setTimeout, clearTimeout: fake.clearTimeout },
    identityKey: (identity) => (identity as { user: string }).user,
    authenticate: (request: FastifyRequest) => {
      const token = (request.query as { token?: string }).token ?? ''
      seen.push(token)
      const [user, expires] = token.split(':')
      if (user === '' || user.startsWith('bad') || expires === undefined) return null
      return { identity: { user }, expiresAt: Number(expires) }
    }
  })
  return { app, seen }
}

/** A `getToken` handing out `tokens` in turn (then ''), counting calls and the most running at once. */
function tokenSource (tokens: string[], wait = 0): { getToken: () => Promise<string>, calls: () => number, maxInFlight: () => number } {
  let calls = 0
  let running = 0
  let most = 0
  return {
    getToken: async () => {
      calls++
      running++
      most = Math.max(most, running)
      await delay(wait)
      running--
      return tokens.shift() ?? ''
    },
    calls: () => calls,
    maxInFlight: () => most
  }
}

function client (t: Test, app: FastifyInstance, options: Partial<VixClientOptions>): VixClient {
  const vix = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, reconnect: { minDelay: 10, maxDelay: 20 }, longPolling: { wait: 200 }, autoUnref: true, ...options })
  t.teardown(() => { vix.close() })
  return vix
}

const sessionOf = (app: FastifyInstance): any => [...app.realtime.sessions.values()].find((s) => !s.closed)

for (const transport of ['websocket', 'sse', 'long-polling'] as const) {
  const ws = transport === 'websocket' ? WebSocket : null
  const transports = ({ websocket: ['websocket'], sse: ['sse'], 'long-polling': ['polling'] } as const)[transport]

  t.test(`${transport}: getToken gives the first token, then refreshes in-band on session.expiring; one getToken at a time`, async (t) => {
    const fake = new FakeClock()
    const { app, seen } = await server(t, fake)
    const source = tokenSource(['ada:60000', 'ada:500000'], 30)
    const vix = client(t, app, { getToken: source.getToken, WebSocket: ws, transports: [...transports] })
    await vix.connect()
    t.equal(vix.transport, transport)
    await vix.join('general')
    const session = sessionOf(app)
    t.equal(session.expiresAt, 60_000)
    // Two notices in a row: one getToken, one refresh.
    session.send({ kind: 'system', type: 'session.expiring', payload: {} })
    fake.tick(30_000)
    await until(() => session.expiresAt === 500_000, 5000)
    t.equal(source.calls(), 2, 'the first token, then one for both notices')
    t.equal(source.maxInFlight(), 1, 'never two getToken at once')
    t.equal(sessionOf(app), session, 'the same session: no reconnect')
    t.same([...session.rooms], ['general'], 'its rooms kept')
    fake.tick(100_000)
    await delay(30)
    t.equal(vix.state, 'open', 'still open past the first token\'s grace')
    if (transport === 'long-polling') {
      await until(() => seen.at(-1) === 'ada:500000', 5000)
      t.pass('the polls now carry the new token')
    }
    // The connection drops (a node dies): the next session, wherever it is, is opened with the refreshed token.
    session.transport.terminate()
    await until(() => sessionOf(app) !== undefined && sessionOf(app) !== session && vix.state === 'open', 5000)
    t.equal(sessionOf(app).expiresAt, 500_000, 'the next session has the refreshed token')
    t.equal(source.calls(), 2, 'no getToken for it: the token is still good')
  })

  t.test(`${transport}: closed for an expired token, the client fetches one before it reconnects, and rejoins`, async (t) => {
    const fake = new FakeClock()
    const { app, seen } = await server(t, fake)
    const source = tokenSource(['ada:1000', 'bad', 'ada:900000'])
    const vix = client(t, app, { getToken: source.getToken, WebSocket: ws, transports: [...transports] })
    await vix.connect()
    await vix.join('general')
    // The in-band refresh is refused ('bad'): that alone is terminal, so send the close directly instead.
    const session = sessionOf(app)
    session.send({ kind: 'system', type: 'session.closed', payload: { code: 4001, error: 'VIX_ERR_TOKEN_EXPIRED', reason: 'token expired', reconnect: true } })
    session.close(4001, 'VIX_ERR_TOKEN_EXPIRED: token expired')
    await until(() => vix.state === 'unauthorized', 5000)
    t.equal(vix.state, 'unauthorized', 'the token fetched for the reconnect was refused: unauthorized, not a loop')
    const attempts = seen.length
    await delay(150)
    t.equal(seen.length, attempts, 'no further attempt')
    t.equal(source.calls(), 2)
    await vix.connect().catch(() => {})
    await until(() => vix.state === 'open', 5000)
    t.equal(seen.at(-1), 'ada:900000', 'a new connect() fetches a token again and opens')
    t.same(vix.rooms, ['general'])
  })

  t.test(`${transport}: a refused in-band refresh ends in unauthorized without a reconnect loop`, async (t) => {
    const fake = new FakeClock()
    const { app } = await server(t, fake)
    let opened = 0
    app.realtime.onOpen(() => { opened++ })
    const source = tokenSource(['ada:60000', 'bad'])
    const vix = client(t, app, { getToken: source.getToken, WebSocket: ws, transports: [...transports] })
    const states: string[] = []
    const errors: string[] = []
    vix.on('state', (state) => { states.push(state) })
    vix.on('error', (error) => { errors.push(error.code) })
    await vix.connect()
    fake.tick(30_000)
    await until(() => vix.state === 'unauthorized', 5000)
    await until(() => app.realtime.sessions.size === 0)
    await delay(150)
    t.equal(opened, 1, 'no reconnect')
    t.equal(states.filter((s) => s === 'unauthorized').length, 1, 'one unauthorized state')
    t.ok(errors.includes('VIX_ERR_UNAUTHORIZED'))
  })
}

t.test('an empty token at the start: connect() rejects with VIX_ERR_UNAUTHORIZED and nothing is attempted', async (t) => {
  const { app, seen } = await server(t, new FakeClock())
  const vix = client(t, app, { getToken: () => null })
  await t.rejects(vix.connect(), { code: 'VIX_ERR_UNAUTHORIZED' })
  t.equal(vix.state, 'unauthorized')
  t.same(seen, [])
  const throwing = client(t, app, { getToken: () => { throw new Error('logged out') } })
  await t.rejects(throwing.connect(), { code: 'VIX_ERR_UNAUTHORIZED', message: /logged out/ })
})

t.test('a 401 with a token just fetched is final; a 401 with an older token fetches one more', async (t) => {
  const { app, seen } = await server(t, new FakeClock())
  const refused = client(t, app, { getToken: () => 'bad', longPolling: false })
  await t.rejects(refused.connect(), { code: 'VIX_ERR_UNAUTHORIZED' })
  t.same(seen, ['bad'], 'one attempt')

  seen.length = 0
  const source = tokenSource(['ada:900000'])
  const stale = client(t, app, { getToken: source.getToken, query: { token: 'bad-old' }, longPolling: false })
  await stale.connect()
  t.same(seen, ['bad-old', 'ada:900000'], 'the given token, refused, then a fetched one')
})

t.test('bad options are refused', async (t) => {
  const { app } = await server(t, new FakeClock())
  t.throws(() => client(t, app, { getToken: 'x' as never }), { code: 'VIX_ERR_INVALID_OPTION' })
  t.throws(() => client(t, app, { getToken: () => 'a', tokenParam: '' }), { code: 'VIX_ERR_INVALID_OPTION' })
})

t.test('disconnect with reconnect: false closes the client for good; with reconnect it comes back', async (t) => {
  const { app } = await build(t, { docs: false, identityKey: (i) => (i as { user: string }).user, authenticate: () => ({ user: 'ada' }) }).then((app) => ({ app }))
  const vix = client(t, app, {})
  const closes: any[] = []
  vix.on('close', (info) => { closes.push(info) })
  await vix.connect()
  await vix.join('general')
  await app.realtime.leave({ identity: { user: 'ada' } }, 'general')
  await until(() => vix.rooms.length === 0)
  t.same(vix.rooms, [], 'a room the server took it out of is forgotten (not rejoined after a reconnect)')
  t.match(await app.realtime.disconnect({ identity: { user: 'ada' } }, { code: 4002, reason: 'again' }), { sessions: 1 })
  await until(() => closes.length === 1 && vix.state === 'open', 5000)
  t.match(closes[0], { code: 4002, willReconnect: true })
  t.match(await app.realtime.disconnect({ identity: { user: 'ada' } }, { code: 4003, reason: 'banned', reconnect: false }), { sessions: 1 })
  await until(() => closes.length === 2, 5000)
  t.match(closes[1], { code: 4003, reason: 'banned', willReconnect: false })
  t.equal(vix.state, 'closed')
  await delay(100)
  t.equal(app.realtime.sessions.size, 0, 'it did not come back')
})
