import t from 'tap'
import { loadConfigFromEnv } from '../lib/config.js'
import { ErrorCodes } from '../lib/errors.js'

t.test('loadConfigFromEnv: documented defaults when nothing is set', async (t) => {
  t.same(loadConfigFromEnv({}), {
    websocket: { maxMessageSize: 65536, idleTimeout: 60_000, perMessageDeflate: false, pingInterval: 30_000, autoPingPong: true },
    longPolling: { sessionTtl: 60_000, maxBuffer: 1024, wait: 25_000 }
  })
  t.same(loadConfigFromEnv({ LONGPOLL_WAIT: '' }).longPolling.wait, 25_000, 'empty means unset')
})

t.test('loadConfigFromEnv: seconds become milliseconds, booleans are words', async (t) => {
  const config = loadConfigFromEnv({
    WEBSOCKET_MAX_MESSAGE_SIZE: '1024',
    WEBSOCKET_IDLE_TIMEOUT: '5',
    WEBSOCKET_ENABLE_DEFLATE: 'yes',
    WEBSOCKET_PING_INTERVAL: '2',
    WEBSOCKET_AUTO_PING_PONG: 'off',
    LONGPOLL_SESSION_TTL: '30',
    LONGPOLL_MAX_BUFFER: '16',
    LONGPOLL_WAIT: '10'
  })
  t.same(config.websocket, { maxMessageSize: 1024, idleTimeout: 5000, perMessageDeflate: true, pingInterval: 2000, autoPingPong: false })
  t.same(config.longPolling, { sessionTtl: 30_000, maxBuffer: 16, wait: 10_000 })
})

t.test('loadConfigFromEnv: a bad value names the variable', async (t) => {
  t.throws(() => loadConfigFromEnv({ LONGPOLL_MAX_BUFFER: 'lots' }), { code: ErrorCodes.INVALID_ENV, message: /LONGPOLL_MAX_BUFFER=lots/ })
  t.throws(() => loadConfigFromEnv({ LONGPOLL_SESSION_TTL: '0' }), { code: ErrorCodes.INVALID_ENV, message: /LONGPOLL_SESSION_TTL/ })
  t.throws(() => loadConfigFromEnv({ WEBSOCKET_ENABLE_DEFLATE: 'maybe' }), { code: ErrorCodes.INVALID_ENV, message: /WEBSOCKET_ENABLE_DEFLATE=maybe: expected true or false/ })
})
