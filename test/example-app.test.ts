import t from 'tap'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildExampleApp } from '../example-app/app.js'
import { connect } from './helpers/ws-client.js'
import { delay } from './helpers/wait.js'

async function start (t: { teardown: (fn: () => unknown) => void, testdir: () => string }, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildExampleApp({ env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db'), ...env } })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

t.test('chat.message is relayed to the room, sender included, and acked', async (t) => {
  const app = await start(t)
  const a = await connect(app)
  const b = await connect(app)
  await a.join('general')
  await b.join('general')
  a.send({ id: 'm-1', room: 'general', type: 'chat.message', payload: { text: 'Hello' } })
  t.match(await a.waitFor((f) => f.kind === 'ack' && f.id === 'm-1'), { type: 'chat.message', room: 'general' })
  for (const c of [a, b]) t.match(await c.waitFor((f) => f.kind === 'event'), { id: 'm-1', payload: { text: 'Hello' } })
})

t.test('an invalid chat payload gets an error frame with the path', async (t) => {
  const app = await start(t)
  const a = await connect(app)
  await a.join('general')
  a.send({ room: 'general', type: 'chat.message', payload: { text: '' } })
  t.match(await a.waitFor((f) => f.kind === 'error'), { payload: { code: 'VIX_ERR_INVALID_MESSAGE', path: '/payload/text' } })
})

t.test('a raw text frame is echoed, binary is refused, other types are unknown', async (t) => {
  const app = await start(t)
  const a = await connect(app)
  a.send('hello there')
  t.equal(await a.waitFor((f) => typeof f === 'string'), 'echo: hello there')
  a.send(Buffer.from([1, 2]))
  t.match(await a.waitFor((f) => f.kind === 'error'), { payload: { code: 'VIX_ERR_INVALID_MESSAGE' } })
  a.send({ type: 'weather.report', id: 'w' })
  t.match(await a.waitFor((f) => f.payload?.code === 'VIX_ERR_UNKNOWN_TYPE'), { id: 'w' })
  await delay(10)
  t.equal(a.frames.filter((f) => typeof f === 'string').length, 1, 'typed frames are not echoed')
})

t.test('the environment configures the transport', async (t) => {
  const app = await start(t, { WEBSOCKET_MAX_MESSAGE_SIZE: '128' })
  const a = await connect(app)
  a.send('y'.repeat(200))
  t.equal((await a.closed).code, 1009)
  await t.rejects(buildExampleApp({ env: { WEBSOCKET_PING_INTERVAL: 'soon' } }), { code: 'VIX_ERR_INVALID_ENV' })
})

t.test('request logs never show a long-poll session id', async (t) => {
  const lines: string[] = []
  const app = await buildExampleApp({ logger: true, logStream: { write: (line) => { lines.push(line) } }, env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db') } })
  t.teardown(() => app.close())
  const created = (await app.inject('/ws/poll')).json()
  await app.inject(`/ws/poll?session_id=${created.session_id as string}&wait=0`)
  await app.inject({ method: 'POST', url: `/ws/send?session_id=${created.session_id as string}`, payload: { type: 'room.join', payload: { room: 'r' } } })
  const log = lines.join('')
  t.match(log, 'session_id=[redacted]')
  t.notMatch(log, created.session_id)
})

t.test('redactSessionId leaves other parameters alone', async (t) => {
  const { redactSessionId } = await import('../plugins/index.js')
  t.equal(redactSessionId('/ws/poll?ack=3&session_id=abc&wait=10'), '/ws/poll?ack=3&session_id=[redacted]&wait=10')
  t.equal(redactSessionId('/ws/send?session_id=abc'), '/ws/send?session_id=[redacted]')
  t.equal(redactSessionId('/ws/history?room=r'), '/ws/history?room=r')
})
