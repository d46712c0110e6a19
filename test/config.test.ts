import t from 'tap'
import { loadConfigFromEnv } from '../lib/config.js'
import { ErrorCodes, httpStatusOf } from '../lib/errors.js'

t.test('loadConfigFromEnv: defaults, seconds to milliseconds, booleans', async (t) => {
  const defaults = loadConfigFromEnv({})
  t.same(defaults.websocket, { maxMessageSize: 65536, idleTimeout: 60_000, perMessageDeflate: false, pingInterval: 30_000, autoPingPong: true })
  t.same(defaults.longPolling, { sessionTtl: 60_000, maxBuffer: 1024, wait: 25_000 })
  const set = loadConfigFromEnv({
    WEBSOCKET_MAX_MESSAGE_SIZE: '1024',
    WEBSOCKET_IDLE_TIMEOUT: '5',
    WEBSOCKET_ENABLE_DEFLATE: 'yes',
    WEBSOCKET_PING_INTERVAL: ' 2 ',
    WEBSOCKET_AUTO_PING_PONG: 'off',
    LONGPOLL_SESSION_TTL: '',
    LONGPOLL_MAX_BUFFER: '8',
    LONGPOLL_WAIT: '1'
  })
  t.same(set.websocket, { maxMessageSize: 1024, idleTimeout: 5000, perMessageDeflate: true, pingInterval: 2000, autoPingPong: false })
  t.same(set.longPolling, { sessionTtl: 60_000, maxBuffer: 8, wait: 1000 })
})

t.test('loadConfigFromEnv: a bad value names the variable', async (t) => {
  t.throws(() => loadConfigFromEnv({ WEBSOCKET_MAX_MESSAGE_SIZE: '10kb' }), { code: 'VIX_ERR_INVALID_ENV', message: /WEBSOCKET_MAX_MESSAGE_SIZE=10kb/ })
  t.throws(() => loadConfigFromEnv({ LONGPOLL_WAIT: '0' }), { code: 'VIX_ERR_INVALID_ENV', message: /LONGPOLL_WAIT/ })
  t.throws(() => loadConfigFromEnv({ WEBSOCKET_ENABLE_DEFLATE: 'maybe' }), { code: 'VIX_ERR_INVALID_ENV', message: /WEBSOCKET_ENABLE_DEFLATE=maybe: expected true or false/ })
})

t.test('httpStatusOf maps every code to its HTTP status', async (t) => {
  t.equal(httpStatusOf(ErrorCodes.UPGRADE_REQUIRED), 426)
  t.equal(httpStatusOf(ErrorCodes.SESSION_BUSY), 409)
  for (const code of Object.values(ErrorCodes)) t.ok(httpStatusOf(code) >= 400, `${code} has a status`)
})
