import t from 'tap'
import { buildExampleApp } from '../example-app/app.js'
import { limitsFromEnv } from '../plugins/index.js'
import { baseUrl, startExampleApp as start } from './helpers/app.js'
import { upgradeAnswer } from './helpers/raw.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { hubOf } from '../lib/hub/realtime.js'

t.test('example app: the 51st connection from one IP (WebSocket or long-poll) is refused before the upgrade with a coded 429', async (t) => {
  const app = await start(t)
  const sockets: TestClient[] = []
  for (let i = 0; i < 30; i++) sockets.push(await connect(app))
  for (let i = 0; i < 20; i++) t.equal((await fetch(`${baseUrl(app)}/ws/poll`)).status, 200)
  t.equal(hubOf(app.realtime).limits.connectionsOf('127.0.0.1'), 50)
  const ws = await upgradeAnswer(`${baseUrl(app, 'ws')}/ws`)
  t.equal(ws?.status, 429, 'the 51st WebSocket gets an HTTP answer, not a 101')
  t.equal(ws?.body.code, 'VIX_ERR_LIMIT_EXCEEDED')
  const poll = await fetch(`${baseUrl(app)}/ws/poll`)
  t.equal(poll.status, 429, 'the 51st long-poll session too')
  t.equal(((await poll.json()) as { code: string }).code, 'VIX_ERR_LIMIT_EXCEEDED')
  const [a, b] = sockets
  await a.join('general')
  await b.join('general')
  b.send({ id: 'm1', room: 'general', type: 'chat.message', payload: { text: 'the fifty are served' } })
  await a.waitFor((f) => f.kind === 'event' && f.payload.text === 'the fifty are served')
  for (const socket of sockets) socket.close()
})

t.test('example app: 500 frames at once get VIX_ERR_RATE_LIMITED; keeping on closes 1008; a client in the same room keeps receiving', async (t) => {
  const app = await start(t)
  const flooder = await connect(app)
  const neighbour = await connect(app)
  await flooder.join('general')
  await neighbour.join('general')
  const started = performance.now()
  for (let i = 0; i < 500; i++) flooder.send({ id: `f${i}`, room: 'general', type: 'chat.message', payload: { text: `flood ${i}` } })
  const limited = await flooder.waitForCount((f) => f.kind === 'error' && f.payload.code === 'VIX_ERR_RATE_LIMITED', 400, 5000)
  t.ok(limited.every((f) => /^f\d+$/.test(f.id)), 'each carries the id of the frame it refuses')
  const news = await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'meanwhile' } })
  await neighbour.waitFor((f) => f.id === news.id)
  t.equal(flooder.ws.readyState, flooder.ws.OPEN, 'one burst of 500 is refused, not yet closed')
  for (let i = 500; i < 2000; i++) flooder.send({ id: `f${i}`, room: 'general', type: 'chat.message', payload: { text: `flood ${i}` } })
  t.same(await flooder.closed, { code: 1008, reason: 'rate limit exceeded' })
  // What got through: the burst, plus what 20/s refilled while the flood lasted.
  const allowed = 40 + Math.ceil(20 * (performance.now() - started) / 1000)
  neighbour.send({ id: 'n', room: 'general', type: 'chat.message', payload: { text: 'still here' } })
  t.match(await neighbour.waitFor((f) => f.kind === 'ack' && f.id === 'n'), { type: 'chat.message' })
  const relayed = neighbour.frames.filter((f: any) => f.kind === 'event' && /^flood/.test(f.payload.text)).length
  t.ok(relayed <= allowed, `only the burst and the refill were relayed (${relayed} of 2000, at most ${allowed})`)
})

t.test('limitsFromEnv: defaults, overrides, off, and a bad value names the variable', async (t) => {
  const defaults = { maxConnectionsPerIp: 50, rate: 20, burst: 40 }
  t.same(limitsFromEnv({}, defaults), { maxConnectionsPerIp: 50, sessionRate: { rate: 20, burst: 40 } })
  t.same(limitsFromEnv({ VIX_MAX_CONNECTIONS_PER_IP: '5', VIX_RATE_LIMIT: '100' }, defaults), { maxConnectionsPerIp: 5, sessionRate: { rate: 100, burst: 100 } })
  t.same(limitsFromEnv({ VIX_RATE_LIMIT: '10', VIX_RATE_BURST: '15' }, defaults).sessionRate, { rate: 10, burst: 15 })
  t.same(limitsFromEnv({ VIX_MAX_CONNECTIONS_PER_IP: 'off', VIX_RATE_LIMIT: '0' }, defaults), {})
  t.throws(() => limitsFromEnv({ VIX_RATE_LIMIT: 'fast' }, defaults), { code: 'VIX_ERR_INVALID_ENV', message: /VIX_RATE_LIMIT=fast/ })
  await t.rejects(buildExampleApp({ env: { VIX_MAX_CONNECTIONS_PER_IP: '-3' } }), { code: 'VIX_ERR_INVALID_ENV' })
})
