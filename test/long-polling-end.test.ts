import t from 'tap'
import { VixClient } from '../lib/client/index.js'
import { baseUrl, build } from './helpers/app.js'
import { PollClient } from './helpers/poll-client.js'
import { connect } from './helpers/ws-client.js'
import { waitFor } from './helpers/wait.js'

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
  const client = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket: null, headers: withUser('ada'), longPolling: { wait: 200 }, autoUnref: true })
  t.teardown(() => { client.close() })
  await client.connect()
  await client.join('general')
  t.equal(app.realtimeLongPolling.size, 1, 'polling')
  client.close()
  await waitFor(() => app.realtimeLongPolling.size === 0 && app.realtime.sessions.size === 0, { timeout: 3000, message: 'the session ended' })
  t.pass('the server session ended when the client closed')
})
