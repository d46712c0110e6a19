import t from 'tap'
import Fastify from 'fastify'
import { ErrorCodes } from '../lib/errors.js'
import vixRealtime from '../plugins/index.js'
import { VixClient } from '../lib/client/index.js'
import { baseUrl, build } from './helpers/app.js'
import { httpGet, PollClient } from './helpers/poll-client.js'
import { connect } from './helpers/ws-client.js'
import { until, waitFor } from './helpers/wait.js'

const withUser = (user: string): Record<string, string> => ({ 'x-user': user })
const options = { presence: {}, authenticate: (request: any) => request.headers['x-user'] ?? null }

t.test('DELETE /ws/poll ends the session at once: out of its rooms (presence sees it leave), its id stops working', async (t) => {
  const app = await build(t, options)
  const watcher = await connect(app, '/ws', { headers: withUser('watcher') })
  t.teardown(() => watcher.close())
  await watcher.join('general')
  const poller = await PollClient.create(app, withUser('ada'))
  await poller.send({ type: 'room.join', payload: { room: 'general' } })
  await watcher.waitFor((frame) => frame.type === 'presence.diff' && frame.payload.joins?.some((member: any) => member.key === '"ada"'))

  const wrong = await app.inject({ method: 'DELETE', url: `/ws/poll?session_id=${poller.sessionId}`, headers: withUser('eve') })
  t.match(wrong, { statusCode: 404 }, 'another identity gets the 404 of an unknown id')
  t.equal(wrong.json().code, 'VIX_ERR_SESSION_NOT_FOUND')
  t.equal(app.realtimeLongPolling.size, 1, 'and the session lives on')

  const ended = await app.inject({ method: 'DELETE', url: `/ws/poll?session_id=${poller.sessionId}`, headers: withUser('ada') })
  t.equal(ended.statusCode, 204, 'its own identity ends it')
  t.equal(app.realtimeLongPolling.size, 0, 'the long-poll session is gone')
  t.equal(app.realtime.sessions.size, 1, 'so is its hub session (only the watcher is left)')
  await watcher.waitFor((frame) => frame.type === 'presence.diff' && frame.payload.leaves?.some((member: any) => member.key === '"ada"'))
  t.equal((await poller.poll()).statusCode, 404, 'polling with the id: 404')
  t.equal((await app.inject({ method: 'DELETE', url: `/ws/poll?session_id=${poller.sessionId}`, headers: withUser('ada') })).statusCode, 404, 'ending it twice: 404')
  const bad = await app.inject({ method: 'DELETE', url: '/ws/poll', headers: withUser('ada') })
  t.match(bad.json(), { statusCode: 400, code: 'VIX_ERR_INVALID_REQUEST' }, 'no session_id: a coded 400')
  t.equal((await app.inject({ method: 'DELETE', url: '/ws/poll?session_id=x' })).statusCode, 401, 'authenticate guards it')
})

t.test('a long-polling client that closes ends its server session at once, instead of after sessionTtl', async (t) => {
  const app = await build(t, options)
  const client = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket: null, transports: ['polling'], headers: withUser('ada'), longPolling: { wait: 200 }, autoUnref: true })
  t.teardown(() => { client.close() })
  await client.connect()
  await client.join('general')
  t.equal(app.realtimeLongPolling.size, 1, 'polling')
  client.close()
  await waitFor(() => app.realtimeLongPolling.size === 0 && app.realtime.sessions.size === 0, { timeout: 3000, message: 'the session ended' })
  t.pass('the server session ended when the client closed')
})

t.test('a held poll whose client hangs up is cleaned up at once', async (t) => {
  const app = await build(t)
  const poller = await PollClient.create(app)
  const poll = app.realtimeLongPolling.get(poller.sessionId, undefined)
  const controller = new AbortController()
  const held = httpGet(`${baseUrl(app)}/ws/poll?session_id=${poller.sessionId}&wait=20000`, controller.signal)
  await until(() => poll?.waiter !== null)
  controller.abort()
  await t.rejects(held)
  await until(() => poll?.waiter === null)
  await app.realtime.publish({ type: 'later' })
  const next = await poller.poll()
  t.equal(next.statusCode, 200, 'no 409: the session is free')
  t.same(next.body.messages.map((f: any) => f.type), ['later'], 'nothing was taken by the abandoned poll')
})

t.test('a held poll is released when the app closes; new sessions get 503', async (t) => {
  const app = Fastify()
  await app.register(vixRealtime, { shutdownTimeout: 2000 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const poller = await PollClient.create(app)
  const held = httpGet(`${baseUrl(app)}/ws/poll?session_id=${poller.sessionId}&wait=20000`)
  await until(() => app.realtimeLongPolling.get(poller.sessionId, undefined)?.waiter !== null)
  const started = Date.now()
  app.realtime.lifecycle.requestStop()
  const create = await app.inject({ url: '/ws/poll' })
  t.equal(create.statusCode, 503)
  t.equal(create.json().code, ErrorCodes.SHUTTING_DOWN)
  t.equal(create.headers['retry-after'], '1')
  const answered = await held
  t.equal(answered.statusCode, 200)
  t.same(answered.body.messages.map((f: any) => f.type), ['server.going_away'])
  const quick = await poller.poll({ wait: 20_000 })
  t.equal(quick.statusCode, 200, 'a poll while stopping does not wait')
  await app.close()
  t.ok(Date.now() - started < 5000)
  t.equal(app.realtimeLongPolling.size, 0)
  t.equal(app.realtime.sessions.size, 0)
})

t.test('sessions idle past the TTL are swept', async (t) => {
  const app = await build(t, { longPolling: { sessionTtl: 60_000 } })
  const poller = await PollClient.create(app)
  await poller.join('general')
  t.equal(app.realtimeLongPolling.sweep(Date.now() + 30_000), 0, 'still fresh')
  t.equal(app.realtimeLongPolling.sweep(Date.now() + 61_000), 1)
  t.equal(app.realtime.getSession(poller.sessionId), undefined, 'the hub session is gone')
  t.equal(app.realtime.rooms.size('general'), 0, 'and it left its rooms')
  t.equal((await poller.poll()).statusCode, 404)
})

t.test('closing a poll session from the server ends it', async (t) => {
  const app = await build(t)
  app.realtime.on('bye', (session) => { session.close(1000, 'bye') })
  const poller = await PollClient.create(app)
  t.equal((await poller.send({ type: 'bye' })).statusCode, 202)
  t.equal((await poller.poll()).statusCode, 404)
  const other = await PollClient.create(app)
  app.realtime.getSession(other.sessionId)?.transport.terminate()
  t.equal((await other.poll()).statusCode, 404)
})
