import t from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { limitsFromEnv, loadConfigFromEnv, secretFromEnv } from '../lib/config.js'
import { ErrorCodes, codedError, httpStatusOf, isVixError } from '../lib/errors.js'
import { Hub } from '../lib/hub/hub.js'
import { hubPlugin, type HubPluginOptions } from '../plugins/hub.js'
import vixRealtime from '../plugins/index.js'
import { metricsPlugin } from '../plugins/metrics.js'
import { errorTable } from '../schemas/protocol.js'

t.test('defaults when nothing is set', async (t) => {
  t.same(loadConfigFromEnv({}), {
    websocket: { maxMessageSize: 65536, idleTimeout: 60_000, perMessageDeflate: false, pingInterval: 30_000, autoPingPong: true },
    longPolling: { sessionTtl: 60_000, maxBuffer: 1024, wait: 25_000 }
  })
})

t.test('every variable maps, durations from seconds to ms', async (t) => {
  const config = loadConfigFromEnv({
    WEBSOCKET_MAX_MESSAGE_SIZE: '1024',
    WEBSOCKET_IDLE_TIMEOUT: '5',
    WEBSOCKET_ENABLE_DEFLATE: 'true',
    WEBSOCKET_PING_INTERVAL: '2',
    WEBSOCKET_AUTO_PING_PONG: 'off',
    LONGPOLL_SESSION_TTL: '30',
    LONGPOLL_MAX_BUFFER: '16',
    LONGPOLL_WAIT: '10'
  })
  t.same(config, {
    websocket: { maxMessageSize: 1024, idleTimeout: 5000, perMessageDeflate: true, pingInterval: 2000, autoPingPong: false },
    longPolling: { sessionTtl: 30_000, maxBuffer: 16, wait: 10_000 }
  })
  t.equal(loadConfigFromEnv({ WEBSOCKET_ENABLE_DEFLATE: '' }).websocket.perMessageDeflate, false)
  for (const [raw, value] of [['yes', true], ['on', true], ['1', true], [' TRUE ', true], ['no', false], ['0', false], ['false', false]] as const) {
    t.equal(loadConfigFromEnv({ WEBSOCKET_AUTO_PING_PONG: raw }).websocket.autoPingPong, value, `boolean "${raw}"`)
  }
})

t.test('a bad value fails with a coded error naming the variable', async (t) => {
  const bad: Array<[string, string]> = [
    ['WEBSOCKET_MAX_MESSAGE_SIZE', 'big'],
    ['WEBSOCKET_IDLE_TIMEOUT', '-1'],
    ['WEBSOCKET_PING_INTERVAL', '0'],
    ['WEBSOCKET_ENABLE_DEFLATE', 'maybe'],
    ['LONGPOLL_WAIT', '1.5']
  ]
  for (const [name, value] of bad) {
    t.throws(() => loadConfigFromEnv({ [name]: value }), { code: 'VIX_ERR_INVALID_ENV', message: new RegExp(name) }, name)
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

t.test('httpStatusOf maps every code to the status of the error table, and an unknown code to 500', async (t) => {
  t.equal(httpStatusOf(ErrorCodes.UPGRADE_REQUIRED), 426)
  t.equal(httpStatusOf(ErrorCodes.SESSION_BUSY), 409)
  t.equal(httpStatusOf(ErrorCodes.SESSION_NOT_FOUND), 404)
  t.equal(httpStatusOf(ErrorCodes.MESSAGE_NOT_FOUND), 404)
  for (const entry of Object.values(errorTable)) t.equal(httpStatusOf(entry.code), entry.status, entry.code)
  t.equal(httpStatusOf('VIX_ERR_NO_SUCH_CODE'), 500)
})

t.test('every error code has an HTTP status', async (t) => {
  for (const code of Object.values(ErrorCodes)) t.ok(httpStatusOf(code) >= 400, code)
  t.equal(httpStatusOf(ErrorCodes.SESSION_NOT_FOUND), 404)
})

t.test('codedError builds the error of a code with its message, status and path; isVixError knows only the table\'s codes', async (t) => {
  const error = codedError(ErrorCodes.INVALID_MESSAGE, '/payload/text: Expected string', { path: '/payload/text' })
  t.match(error, { code: 'VIX_ERR_INVALID_MESSAGE', statusCode: 400, message: '/payload/text: Expected string', path: '/payload/text' })
  t.equal(codedError(ErrorCodes.RATE_LIMITED, 'slow down', { retryAfter: 2 }).retryAfter, 2)
  t.ok(isVixError(error))
  t.notOk(isVixError(Object.assign(new Error('x'), { code: 'VIX_ERR_NO_SUCH_CODE' })))
  t.notOk(isVixError(Object.assign(new Error('x'), { code: 'FST_ERR_VALIDATION' })))
  t.notOk(isVixError(null))
})

t.test('every hub option is checked in the Hub constructor: a bad one throws VIX_ERR_INVALID_OPTION naming it', async (t) => {
  const bad: Array<[string, unknown]> = [
    ['relayTypes', ['']],
    ['relayTypes', 'chat'],
    ['rejectUnknownTypes', 'yes'],
    ['maxBufferedAmount', 0],
    ['maxQueuedFrames', 1.5],
    ['shutdownTimeout', -1],
    ['goingAwayRetryAfter', -1],
    ['messageSchema', Type.Object({}, { $id: 'Other' })],
    ['authenticate', 'token'],
    ['identityKey', 1],
    ['authorizeJoin', {}],
    ['authorizePublish', true],
    ['nodeId', ''],
    ['broker', {}],
    ['broker', null]
  ]
  for (const [name, value] of bad) {
    t.throws(() => new Hub({ [name]: value }), { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`^Invalid option "${name}"`) }, `${name}: ${JSON.stringify(value)}`)
  }
})

t.test('hub options default when absent; each hub gets its own node id', async (t) => {
  const hub = new Hub()
  t.match(hub.options, { relayTypes: [], rejectUnknownTypes: true, maxBufferedAmount: 1024 * 1024, maxQueuedFrames: 1024, shutdownTimeout: 10_000, goingAwayRetryAfter: 1000 })
  t.match(hub.nodeId, /^[0-9a-f]{16}$/)
  t.not(new Hub().nodeId, hub.nodeId)
  t.equal(hub.identityKey({ user: 'ada' }), '{"user":"ada"}')
})

t.test('hub plugin options are checked at register time', async (t) => {
  for (const [options, name] of [[{ relayTypes: [''] }, 'relayTypes'], [{ messageSchema: Type.Object({}, { $id: 'Other' }) }, 'messageSchema'], [{ shutdownTimeout: -1 }, 'shutdownTimeout']] as const) {
    const app = Fastify()
    app.register(hubPlugin, options as any)
    await t.rejects(async () => { await app.ready() }, { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(name) }, name)
    await app.close()
  }
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

t.test('hub options are taken once: the same set again is harmless, a different one fails boot', async (t) => {
  const same = Fastify()
  t.teardown(() => same.close())
  await same.register(hubPlugin, { relayTypes: ['chat'], maxQueuedFrames: 8 })
  const hub = same.realtime
  await same.register(hubPlugin, { relayTypes: ['chat'], maxQueuedFrames: 8 })
  await same.register(hubPlugin, {})
  t.equal(same.realtime, hub)
  const changes: Array<[HubPluginOptions, string]> = [[{ relayTypes: ['other'] }, 'relayTypes'], [{ relayTypes: ['chat', 'other'] }, 'relayTypes'], [{ maxQueuedFrames: 16 }, 'maxQueuedFrames']]
  for (const [changed, name] of changes) {
    const different = Fastify()
    t.teardown(() => different.close())
    await different.register(hubPlugin, { relayTypes: ['chat'], maxQueuedFrames: 8 })
    await t.rejects(async () => { await different.register(hubPlugin, changed) }, { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`"${name}".*taken once`) }, JSON.stringify(changed))
  }
})

t.test('a part refuses hub options and needs the hub registered first', async (t) => {
  const withHubOption = Fastify()
  t.teardown(() => withHubOption.close())
  await withHubOption.register(hubPlugin)
  await t.rejects(async () => { await withHubOption.register(metricsPlugin, { relayTypes: ['chat'] } as any) }, { code: 'VIX_ERR_INVALID_OPTION', message: /"relayTypes": is a hub option, not one of metricsPlugin/ })
  const withoutHub = Fastify()
  t.teardown(() => withoutHub.close())
  await t.rejects(async () => { await withoutHub.register(metricsPlugin) }, { code: 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE' })
})

t.test('an integer variable names its unit, and a value past its sane bound is refused (seconds given as milliseconds)', async (t) => {
  t.throws(() => loadConfigFromEnv({ LONGPOLL_WAIT: '25000' }), { code: 'VIX_ERR_INVALID_ENV', message: /^Invalid environment variable LONGPOLL_WAIT=25000: expected a whole number of seconds from 1 to 300 \(LONGPOLL_WAIT is in seconds, not milliseconds\)$/ })
  t.equal(loadConfigFromEnv({ LONGPOLL_WAIT: '300' }).longPolling.wait, 300_000, 'the bound itself is taken')
  t.throws(() => loadConfigFromEnv({ LONGPOLL_WAIT: '301' }), { code: 'VIX_ERR_INVALID_ENV', message: /LONGPOLL_WAIT=301.*seconds/ })
  t.throws(() => loadConfigFromEnv({ WEBSOCKET_IDLE_TIMEOUT: '60000' }), { message: /WEBSOCKET_IDLE_TIMEOUT=60000.*seconds.*not milliseconds/ })
  t.throws(() => loadConfigFromEnv({ WEBSOCKET_PING_INTERVAL: '30000' }), { message: /WEBSOCKET_PING_INTERVAL=30000.*seconds/ })
  t.throws(() => loadConfigFromEnv({ LONGPOLL_SESSION_TTL: '86401' }), { message: /LONGPOLL_SESSION_TTL=86401.*seconds/ })
  t.throws(() => loadConfigFromEnv({ WEBSOCKET_MAX_MESSAGE_SIZE: 'big' }), { message: /WEBSOCKET_MAX_MESSAGE_SIZE=big: expected a whole number of bytes/ })
  t.throws(() => loadConfigFromEnv({ LONGPOLL_MAX_BUFFER: '99999999' }), { message: /LONGPOLL_MAX_BUFFER=99999999: expected a whole number of frames from 1 to 1000000$/ })
  t.throws(() => limitsFromEnv({ VIX_RATE_LIMIT: '5000000' }, { maxConnectionsPerIp: 50, rate: 20, burst: 40 }), { code: 'VIX_ERR_INVALID_ENV', message: /VIX_RATE_LIMIT=5000000: .*messages per second/ })
})

t.test('secretFromEnv: unset or empty is undefined; too short names the variable without echoing the value', async (t) => {
  t.equal(secretFromEnv({}, 'VIX_PUBLISH_KEY'), undefined)
  t.equal(secretFromEnv({ VIX_PUBLISH_KEY: '' }, 'VIX_PUBLISH_KEY'), undefined)
  t.equal(secretFromEnv({ VIX_PUBLISH_KEY: 'k'.repeat(16) }, 'VIX_PUBLISH_KEY'), 'k'.repeat(16))
  const error = t.throws(() => secretFromEnv({ VIX_PUBLISH_KEY: 'short' }, 'VIX_PUBLISH_KEY'), { code: 'VIX_ERR_INVALID_ENV', message: /^Invalid environment variable VIX_PUBLISH_KEY=<5 characters>: expected a secret of at least 16 characters$/ }) as Error
  t.notMatch(error.message, /short/, 'the secret is not in the message')
})
