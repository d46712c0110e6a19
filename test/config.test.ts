import t from 'tap'
import { loadConfigFromEnv } from '../lib/config.js'
import { ErrorCodes, httpStatusOf } from '../lib/errors.js'

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

t.test('httpStatusOf maps every code to its HTTP status', async (t) => {
  t.equal(httpStatusOf(ErrorCodes.UPGRADE_REQUIRED), 426)
  t.equal(httpStatusOf(ErrorCodes.SESSION_BUSY), 409)
  for (const code of Object.values(ErrorCodes)) t.ok(httpStatusOf(code) >= 400, `${code} has a status`)
})
