import t from 'tap'
import WebSocket from 'ws'
import { baseUrl, build } from './helpers/app.js'
import { connect, upgradeStatus } from './helpers/ws-client.js'
import { delay } from './helpers/wait.js'
import { scrapeMetrics } from './helpers/metrics.js'

t.test('an oversized frame closes that client 1009; another client in the room keeps receiving', async (t) => {
  const app = await build(t, { websocket: { maxMessageSize: 1024 } })
  const big = await connect(app)
  const other = await connect(app)
  await big.join('r')
  await other.join('r')
  big.send('x'.repeat(2048))
  t.equal((await big.closed).code, 1009)
  await app.realtime.publish({ room: 'r', type: 'after' })
  t.match(await other.waitFor((f) => f.type === 'after'), { kind: 'event' })
  t.equal(app.realtime.rooms.size('r'), 1)
})

t.test('with permessage-deflate the limit applies to the inflated size', async (t) => {
  const app = await build(t, { websocket: { maxMessageSize: 4096, perMessageDeflate: true } })
  const c = await connect(app, '/ws', { perMessageDeflate: true })
  t.match(c.ws.extensions, /permessage-deflate/)
  await c.join('r')
  // 64 KiB of one letter compresses to well under 4 KiB on the wire.
  c.send(JSON.stringify({ type: 'x', payload: { text: 'a'.repeat(65536) } }))
  t.equal((await c.closed).code, 1009)
})

t.test('deflate is off by default', async (t) => {
  const app = await build(t)
  const c = await connect(app, '/ws', { perMessageDeflate: true })
  t.equal(c.ws.extensions, '')
})

t.test('a dead peer that never pongs is terminated after idleTimeout', async (t) => {
  const app = await build(t, { websocket: { pingInterval: 40, idleTimeout: 120 } })
  const alive = await connect(app)
  const dead = await connect(app, '/ws', { autoPong: false })
  const closed = await dead.closed
  t.equal(closed.code, 1006, 'terminated without a close frame')
  t.equal(alive.ws.readyState, WebSocket.OPEN, 'a peer that answers pings stays')
  await delay(20)
  t.equal(app.realtime.sessions.size, 1)
})

t.test('a slow consumer is closed 1013 while others keep receiving', async (t) => {
  const app = await build(t, { maxBufferedAmount: 256 * 1024 })
  const slow = await connect(app)
  const fast = await connect(app)
  await slow.join('r')
  await fast.join('r')
  const slowSession = [...app.realtime.sessions.values()][0]
  // Stop reading: the kernel buffers fill, then the server's send buffer grows.
  ;(slow.ws as any)._socket.pause()
  const payload = { blob: 'z'.repeat(64 * 1024) }
  let n = 0
  while (!slowSession.closed && n < 2000) {
    await app.realtime.publish({ room: 'r', type: 'bulk', payload: { ...payload, n } })
    n++
    // The fast peer reads in this same process: let it take each message before the next, so only
    // the paused peer's buffer grows (bursts without a pause could fill the fast one's too).
    await fast.waitForCount((f) => f.type === 'bulk', n, 10_000)
  }
  t.ok(slowSession.closed, `slow session closed after ${n} messages`)
  t.equal(slowSession.closeCode, 1013)
  await app.realtime.publish({ room: 'r', type: 'last' })
  await fast.waitFor((f) => f.type === 'last', 30_000)
  t.equal(fast.frames.filter((f: any) => f.type === 'bulk').length, n)
  ;(slow.ws as any)._socket.resume()
  t.equal((await slow.closed).code, 1013)
})

t.test('authenticate: rejected upgrade gets 401 and no 101; the identity reaches the session', async (t) => {
  const app = await build(t, {
    authenticate: async (request: any) => request.headers.authorization === 'Bearer good' ? { user: 'ann' } : null
  })
  t.equal(await upgradeStatus(app), 401)
  t.equal(await upgradeStatus(app, '/ws', { headers: { authorization: 'Bearer bad' } }), 401)
  const thrower = await build(t, { authenticate: () => { throw new Error('token expired') } })
  t.equal(await upgradeStatus(thrower), 401)
  let identity: unknown
  app.realtime.onOpen((session) => { identity = session.identity })
  await connect(app, '/ws', { headers: { authorization: 'Bearer good' } })
  t.same(identity, { user: 'ann' })
  t.equal(app.realtime.sessions.size, 1)
})

t.test('a rejected upgrade answers with a JSON error body', async (t) => {
  const app = await build(t, { authenticate: () => null })
  const res = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const ws = new WebSocket(`${baseUrl(app, 'ws')}/ws`)
    ws.on('unexpected-response', (_req, response) => {
      let body = ''
      response.on('data', (chunk) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    ws.on('error', reject)
  })
  t.equal(res.status, 401)
  t.match(JSON.parse(res.body), { code: 'VIX_ERR_UNAUTHORIZED' })
})

t.test('allowedOrigins: another Origin gets 403 before the upgrade', async (t) => {
  const app = await build(t, { websocket: { allowedOrigins: ['https://app.example.com'] } })
  t.equal(await upgradeStatus(app, '/ws', { origin: 'https://evil.example.com' }), 403)
  t.equal(await upgradeStatus(app), 403, 'no Origin is not an allowed origin')
  const ok = await connect(app, '/ws', { origin: 'https://app.example.com' })
  t.equal(ok.ws.readyState, WebSocket.OPEN)
})

t.test('app.close(): every socket gets server.going_away then 1001; upgrades during shutdown get 503', async (t) => {
  const app = await build(t)
  const clients = await Promise.all(Array.from({ length: 5 }, () => connect(app)))
  app.realtime.lifecycle.requestStop()
  t.equal(await upgradeStatus(app), 503)
  const closing = app.close()
  for (const c of clients) {
    const { code } = await c.closed
    t.equal(code, 1001)
    t.match(c.frames.at(-1), { kind: 'system', type: 'server.going_away', payload: { retryAfterMs: 1000 } })
  }
  await closing
})

t.test('a plain GET on the WebSocket route answers 426 with a coded body', async (t) => {
  const app = await build(t)
  const response = await app.inject('/ws')
  t.equal(response.statusCode, 426)
  t.equal(response.json().code, 'VIX_ERR_UPGRADE_REQUIRED')
  t.equal((await scrapeMetrics(app)).value('vix_ws_connections_total'), 0)
})

t.test('an origin outside allowedOrigins is refused 403 and counted as forbidden', async (t) => {
  const app = await build(t, { websocket: { allowedOrigins: ['https://app.example.com'] } })
  await t.rejects(connect(app, '/ws', { origin: 'https://evil.example.com' }), { message: /unexpected response 403/ })
  await t.rejects(connect(app), { message: /unexpected response 403/ }, 'no origin at all')
  const client = await connect(app, '/ws', { origin: 'https://app.example.com' })
  const m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_errors_total', { reason: 'forbidden' }), 2)
  t.equal(m.value('vix_ws_connections_total'), 1)
  client.close()
})

t.test('once stopping, upgrades get 503 with retry-after and clients are told to go', async (t) => {
  const app = await build(t)
  const client = await connect(app)
  app.realtime.lifecycle.requestStop()
  const going = await client.waitFor((f) => f.kind === 'system' && f.type === 'server.going_away')
  t.equal(going.payload.retryAfterMs, 1000)
  t.equal((await client.closed).code, 1001)
  await t.rejects(connect(app), { message: /unexpected response 503/ })
})
