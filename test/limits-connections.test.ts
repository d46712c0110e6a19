import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import vixRealtime, { type VixRealtimeOptions } from '../plugins/index.js'
import { baseUrl, build } from './helpers/app.js'
import { upgradeAnswer, rawUpgrade } from './helpers/raw.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { waitFor } from './helpers/wait.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { hubOf } from '../lib/hub/realtime.js'

const relay = { relayTypes: ['chat.message'] }

/** `b` sends a relay to `room`; `a` must get it: the clients already in are unaffected. */
async function stillServed (t: Test, a: TestClient, b: TestClient, room: string, text: string): Promise<void> {
  b.send({ room, type: 'chat.message', payload: { text } })
  const got = await a.waitFor((f) => f.kind === 'event' && f.payload?.text === text)
  t.equal(got.room, room, `a client already in still receives (${text})`)
}

async function pollCreate (app: FastifyInstance, headers: Record<string, string> = {}): Promise<{ status: number, body: any, retryAfter: string | null }> {
  const response = await fetch(`${baseUrl(app)}/ws/poll`, { headers })
  return { status: response.status, body: await response.json(), retryAfter: response.headers.get('retry-after') }
}

t.test('per client IP: past maxConnectionsPerIp a WebSocket is refused 429 before the 101, and so is a long-poll session; the others are served', async (t) => {
  const app = await build(t, { ...relay, limits: { maxConnectionsPerIp: 2 } })
  const a = await connect(app)
  const b = await connect(app)
  await a.join('r')
  await b.join('r')
  t.equal(hubOf(app.realtime).limits.connections, 2)

  const refused = await upgradeAnswer(`${baseUrl(app, 'ws')}/ws`)
  t.equal(refused?.status, 429, 'the third upgrade gets an HTTP answer, no 101')
  t.match(refused?.body, { statusCode: 429, code: 'VIX_ERR_LIMIT_EXCEEDED', message: /2 connections per client IP/ })
  const poll = await pollCreate(app)
  t.equal(poll.status, 429)
  t.equal(poll.body.code, 'VIX_ERR_LIMIT_EXCEEDED', 'long-poll session creation counts with WebSockets')
  t.equal(app.realtime.sessions.size, 2, 'no session was opened for the refused ones')
  t.equal(hubOf(app.realtime).limits.connections, 2, 'refusals take no place')
  await stillServed(t, a, b, 'r', 'after refusals')

  b.close()
  await waitFor(() => hubOf(app.realtime).limits.connections === 1, { message: 'the closed socket gives its place back' })
  const c = await connect(app)
  await c.join('r')
  await stillServed(t, a, c, 'r', 'a new client once a place is free')
  const metrics = await scrapeMetrics(app)
  t.equal(metrics.value('vix_limit_rejections_total', { limit: 'connections_per_ip' }), 2, 'both refusals counted by limit')
  t.equal(metrics.value('vix_limit_rejections_total', { limit: 'session_rate' }), 0, 'every limit is exposed from the start')
})

t.test('in total: past maxConnections the server is full, 503 VIX_ERR_SERVER_FULL with Retry-After', async (t) => {
  const app = await build(t, { ...relay, limits: { maxConnections: 2 } })
  const a = await connect(app)
  const poll = await pollCreate(app)
  t.equal(poll.status, 200, 'a long-poll session is the second connection')
  const refused = await upgradeAnswer(`${baseUrl(app, 'ws')}/ws`)
  t.equal(refused?.status, 503)
  t.equal(refused?.body.code, 'VIX_ERR_SERVER_FULL')
  t.equal(refused?.headers['retry-after'], '1')
  const again = await pollCreate(app)
  t.equal(again.status, 503)
  t.equal(again.retryAfter, '1')
  // The long-poll session ends: its place comes back.
  app.realtimeLongPolling.close()
  await waitFor(() => hubOf(app.realtime).limits.connections === 1, { message: 'the expired poll session gives its place back' })
  const b = await connect(app)
  await a.join('r')
  await b.join('r')
  await stillServed(t, a, b, 'r', 'full, then free again')
})

t.test('with trustProxy the client IP is the forwarded one: each forwarded address has its own count', async (t) => {
  const app = Fastify({ trustProxy: true })
  await app.register(vixRealtime, { ...relay, limits: { maxConnectionsPerIp: 1 } } satisfies VixRealtimeOptions)
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `${baseUrl(app, 'ws')}/ws`
  const a = await connect(app, '/ws', { headers: { 'x-forwarded-for': '203.0.113.1' } })
  const refused = await upgradeAnswer(url, { 'x-forwarded-for': '203.0.113.1' })
  t.equal(refused?.status, 429, 'the same forwarded IP is refused')
  t.equal((await pollCreate(app, { 'x-forwarded-for': '203.0.113.1' })).status, 429, 'its long-poll creation too')
  const b = await connect(app, '/ws', { headers: { 'x-forwarded-for': '203.0.113.2' } })
  t.equal((await pollCreate(app, { 'x-forwarded-for': '203.0.113.3' })).status, 200, 'a third address gets a session')
  t.equal(hubOf(app.realtime).limits.connectionsOf('203.0.113.1'), 1)
  t.equal(hubOf(app.realtime).limits.connectionsOf('127.0.0.1'), 0, 'the proxy itself is not the client')
  await a.join('r')
  await b.join('r')
  await stillServed(t, a, b, 'r', 'behind a proxy')
})

t.test('per identity: past maxConnectionsPerIdentity 429 on both transports; other identities are served', async (t) => {
  const app = await build(t, {
    ...relay,
    authenticate: (request: any) => request.headers['x-user'] ?? null,
    limits: { maxConnectionsPerIdentity: 1 }
  })
  const alice = await connect(app, '/ws', { headers: { 'x-user': 'alice' } })
  const refused = await upgradeAnswer(`${baseUrl(app, 'ws')}/ws`, { 'x-user': 'alice' })
  t.equal(refused?.status, 429)
  t.match(refused?.body, { code: 'VIX_ERR_LIMIT_EXCEEDED', message: /per identity/ })
  t.equal((await pollCreate(app, { 'x-user': 'alice' })).status, 429, 'a long-poll session of the same identity too')
  const bob = await connect(app, '/ws', { headers: { 'x-user': 'bob' } })
  await alice.join('r')
  await bob.join('r')
  await stillServed(t, alice, bob, 'r', 'another identity')
  t.equal((await scrapeMetrics(app)).value('vix_limit_rejections_total', { limit: 'connections_per_identity' }), 2)
})

t.test('an upgrade admitted but never completed (bad handshake, or a hook refusing it) leaks no place', async (t) => {
  const app = await build(t, { ...relay, limits: { maxConnectionsPerIp: 1 } }, (app) => {
    app.addHook('preHandler', async (request, reply) => {
      if (request.headers['x-refuse'] !== undefined) return await reply.code(403).send({ statusCode: 403, code: 'APP_REFUSED', error: 'Forbidden', message: 'refused by the app' })
    })
  })
  const bad = await upgradeAnswer(`${baseUrl(app, 'ws')}/ws`, { 'sec-websocket-key': 'not-a-key' })
  t.equal(bad?.status, 400, 'ws refuses the handshake after admission')
  await waitFor(() => hubOf(app.realtime).limits.connections === 0, { message: 'the refused handshake gives its place back' })
  const hooked = await upgradeAnswer(`${baseUrl(app, 'ws')}/ws`, { 'x-refuse': '1' })
  t.equal(hooked?.status, 403, 'a later hook refuses the upgrade')
  await waitFor(() => hubOf(app.realtime).limits.connections === 0, { message: 'the refused upgrade gives its place back' })
  const a = await connect(app)
  const poll = await pollCreate(app, { 'x-forwarded-for': 'ignored-without-trustProxy' })
  t.equal(poll.status, 429, 'the one place is taken by the real client')
  a.close()
  await waitFor(() => hubOf(app.realtime).limits.connections === 0 && hubOf(app.realtime).limits.trackedIps === 0, { message: 'counts back to zero, no key left behind' })
})

t.test('a raw handshake over TCP is counted like any client', async (t) => {
  const app = await build(t, { ...relay, limits: { maxConnectionsPerIp: 1 } })
  const port = (app.server.address() as { port: number }).port
  const raw = await rawUpgrade(port)
  t.equal(hubOf(app.realtime).limits.connections, 1)
  raw.destroy()
  await waitFor(() => hubOf(app.realtime).limits.connections === 0, { message: 'a dropped TCP connection gives its place back' })
})
