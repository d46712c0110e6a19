import t from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import vixRealtime, { loadConfigFromEnv } from '../plugins/index.js'
import { httpStatusOf, ErrorCodes } from '../lib/errors.js'
import { build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { scrapeMetrics } from './helpers/metrics.js'

/** Upgrade admission, boot-time option checks and env config, with the metrics they move. */

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

t.test('bad options fail boot naming the option', async (t) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['path', { websocket: { path: 'ws' } }],
    ['maxMessageSize', { websocket: { maxMessageSize: 0 } }],
    ['perMessageDeflate', { websocket: { perMessageDeflate: 'yes' } }],
    ['allowedOrigins', { websocket: { allowedOrigins: [''] } }],
    ['relayTypes', { relayTypes: 'chat.message' }],
    ['maxBufferedAmount', { maxBufferedAmount: 1.5 }],
    ['shutdownTimeout', { shutdownTimeout: -1 }],
    ['authenticate', { authenticate: 'token' }],
    ['messageSchema', { messageSchema: Type.Object({ type: Type.String() }, { $id: 'Other' }) }]
  ]
  for (const [option, options] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(vixRealtime, options as any) }, { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`"${option}"`) }, option)
  }
})

t.test('loadConfigFromEnv maps the documented variables and names a bad one', async (t) => {
  t.same(loadConfigFromEnv({}), {
    websocket: { maxMessageSize: 65536, idleTimeout: 60_000, perMessageDeflate: false, pingInterval: 30_000, autoPingPong: true },
    longPolling: { sessionTtl: 60_000, maxBuffer: 1024, wait: 25_000 }
  })
  const config = loadConfigFromEnv({
    WEBSOCKET_MAX_MESSAGE_SIZE: '1024',
    WEBSOCKET_IDLE_TIMEOUT: '5',
    WEBSOCKET_ENABLE_DEFLATE: 'on',
    WEBSOCKET_AUTO_PING_PONG: 'false',
    WEBSOCKET_PING_INTERVAL: '',
    LONGPOLL_WAIT: ' 2 '
  })
  t.match(config, { websocket: { maxMessageSize: 1024, idleTimeout: 5000, perMessageDeflate: true, autoPingPong: false, pingInterval: 30_000 }, longPolling: { wait: 2000 } })
  t.throws(() => loadConfigFromEnv({ LONGPOLL_MAX_BUFFER: '-3' }), { code: 'VIX_ERR_INVALID_ENV', message: /LONGPOLL_MAX_BUFFER/ })
  t.throws(() => loadConfigFromEnv({ WEBSOCKET_ENABLE_DEFLATE: 'maybe' }), { code: 'VIX_ERR_INVALID_ENV', message: /WEBSOCKET_ENABLE_DEFLATE/ })
})

t.test('every error code has an HTTP status', async (t) => {
  for (const code of Object.values(ErrorCodes)) t.ok(httpStatusOf(code) >= 400, code)
  t.equal(httpStatusOf(ErrorCodes.SESSION_NOT_FOUND), 404)
})
