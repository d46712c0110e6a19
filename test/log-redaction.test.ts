import t from 'tap'
import Fastify, { type FastifyServerOptions } from 'fastify'
import vixRealtime from '../plugins/index.js'
import { redactUrl } from '../lib/redact.js'
import { baseUrl } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'

async function loggedApp (t: { teardown: (fn: () => unknown) => void }, logger: FastifyServerOptions['logger'] & object): Promise<{ app: Awaited<ReturnType<typeof Fastify>>, lines: string[] }> {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'info', ...logger, stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(vixRealtime, { relayTypes: ['chat.message'], authenticate: (request: any) => request.headers.authorization ?? 'anonymous' })
  app.get('/app', async () => ({ ok: true }))
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, lines }
}

const secrets = ['s3cr3t-session', 's3cr3t-bearer', 's3cr3t-token', 's3cr3t-access', 's3cr3t-send', 's3cr3t-key', 's3cr3t-client-key-0123']

async function hitEverything (url: string): Promise<void> {
  await fetch(`${url}/ws/poll?session_id=s3cr3t-session&wait=0`)
  await fetch(`${url}/ws/poll`, { headers: { authorization: 'Bearer s3cr3t-bearer' } })
  await fetch(`${url}/app?token=s3cr3t-token&room=general`)
  await fetch(`${url}/ws/send?session_id=s3cr3t-send`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"x"}' })
  await fetch(`${url}/app?KEY=s3cr3t-key`)
  await fetch(`${url}/ws/poll?client_key=s3cr3t-client-key-0123&wait=0`)
}

t.test('by default the request log has no long-poll session id, no query token and no Authorization value; a live client is unaffected', async (t) => {
  const { app, lines } = await loggedApp(t, {})
  const listener = await connect(app)
  await listener.join('r')
  await hitEverything(baseUrl(app))
  const ws = await connect(app, '/ws?access_token=s3cr3t-access')
  ws.close()
  await ws.closed
  const news = await app.realtime.publish({ room: 'r', type: 'chat.message', payload: { text: 'logged' } })
  await listener.waitFor((f) => f.id === news.id)
  const log = lines.join('')
  for (const secret of secrets) t.notOk(log.includes(secret), `${secret} is not in the log`)
  t.match(log, /"url":"\/ws\/poll\?session_id=\[redacted\]&wait=0"/, 'the URL is still logged, its secret replaced')
  t.match(log, /"url":"\/app\?token=\[redacted\]&room=general"/, 'an application route declared after the hub too')
  t.match(log, /"url":"\/ws\?access_token=\[redacted\]"/, 'and the upgrade request')
  t.match(log, /"remoteAddress":"127\.0\.0\.1"/, "Fastify's own fields are kept")
})

t.test("an application's own req serializer that logs headers is redacted too", async (t) => {
  const { app, lines } = await loggedApp(t, { serializers: { req: (request: any) => ({ method: request.method, url: request.url, headers: request.headers }) } })
  await hitEverything(baseUrl(app))
  const log = lines.join('')
  for (const secret of secrets) t.notOk(log.includes(secret), `${secret} is not in the log`)
  t.match(log, /"authorization":"\[redacted\]"/)
  t.match(log, /"user-agent":/, 'other headers stay')
})

t.test('redactUrl replaces secret parameters only', async (t) => {
  t.equal(redactUrl('/ws'), '/ws')
  t.equal(redactUrl('/x?room=a&Token=b&session_id=c#frag'), '/x?room=a&Token=[redacted]&session_id=[redacted]#frag')
  t.equal(redactUrl('/x?monkey=1&api_key=2'), '/x?monkey=1&api_key=[redacted]', 'a parameter is matched by its whole name')
})

t.test('a failing handler is logged with the session: a WebSocket by its id, a long-poll session by a fingerprint, never its secret id', async (t) => {
  const { app, lines } = await loggedApp(t, {})
  app.realtime.on('app.bug', () => { throw new Error('handler bug') })
  const url = baseUrl(app)
  const created = await (await fetch(`${url}/ws/poll?wait=0`, { headers: { authorization: 'poller' } })).json() as { session_id: string }
  const sent = await fetch(`${url}/ws/send?session_id=${created.session_id}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'poller' }, body: '{"type":"app.bug"}' })
  t.equal(sent.status, 500, 'the poll session is answered with the internal error')
  const ws = await connect(app)
  t.teardown(() => ws.close())
  ws.send({ type: 'app.bug' })
  await ws.waitFor((frame) => frame.kind === 'error')

  const failures = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'vix-realtime: message handler failed')
  t.equal(failures.length, 2, 'both failures are logged')
  const [poll, socket] = failures
  t.match(poll, { sessionId: /^lp:[\w-]{12}$/, err: { message: 'handler bug' } }, 'the long-poll session as a fingerprint')
  t.notOk(lines.join('').includes(created.session_id), 'the long-poll session id is nowhere in the log')
  const wsSession = [...app.realtime.sessions.values()].find((session) => session.transport.name === 'websocket')
  t.equal(socket.sessionId, wsSession?.id, 'a WebSocket session by its id')
})
