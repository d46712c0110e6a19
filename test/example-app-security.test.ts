import t from 'tap'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildExampleApp } from '../example-app/app.js'
import { baseUrl } from './helpers/app.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { delay } from './helpers/wait.js'

type Context = { teardown: (fn: () => unknown) => void, testdir: () => string }

const KEY = 'example-publish-key-0123456789'

async function start (t: Context, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildExampleApp({ env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db'), ...env } })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

/** A server-side publish as an HTTP client on the network sends it. */
async function publish (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, headers: Headers, body: any }> {
  const response = await fetch(`${baseUrl(app)}/ws/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body)
  })
  return { status: response.status, headers: response.headers, body: await response.json() }
}

async function listener (app: FastifyInstance): Promise<TestClient> {
  const client = await connect(app)
  await client.join('general')
  return client
}

/** Events received beyond the join ack: what a publish reached. */
const events = (client: TestClient): any[] => client.frames.filter((f: any) => f.kind === 'event')

t.test('without VIX_PUBLISH_KEY an anonymous server-side publish is refused and nothing is delivered', async (t) => {
  const app = await start(t)
  const member = await listener(app)
  const attempts = [
    { type: 'server.going_away', room: 'general', payload: { retryAfterMs: 999999 } },
    { type: 'chat.message', room: 'general', payload: { text: 42, html: '<img src=x onerror=alert(1)>' } },
    { type: 'anything.at.all' },
    { type: 'chat.message', room: 'general', payload: { text: 'looks fine' } }
  ]
  for (const attempt of attempts) {
    const answer = await publish(app, attempt)
    t.equal(answer.status, 403, attempt.type)
    t.equal(answer.body.code, 'VIX_ERR_FORBIDDEN')
  }
  await delay(100)
  t.same(events(member), [], 'no socket received anything')
  t.notOk(member.frames.some((f: any) => f.type === 'server.going_away'))
})

t.test('with VIX_PUBLISH_KEY: a wrong or missing key is refused; with the right one the accept stage applies', async (t) => {
  const app = await start(t, { VIX_PUBLISH_KEY: KEY })
  const member = await listener(app)
  const valid = { room: 'general', type: 'chat.message', payload: { text: 'Deploy at 5' } }

  for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-key-wrong-key-wrong' }, { authorization: KEY }, { authorization: `Basic ${KEY}` }]) {
    const refused = await publish(app, valid, headers)
    t.equal(refused.status, 401, JSON.stringify(headers))
    t.equal(refused.body.code, 'VIX_ERR_UNAUTHORIZED')
    t.equal(refused.headers.get('www-authenticate'), 'Bearer')
  }
  const auth = { authorization: `Bearer ${KEY}` }

  const invalid = await publish(app, { room: 'general', type: 'chat.message', payload: { text: 42, html: '<img src=x onerror=alert(1)>' } }, auth)
  t.equal(invalid.status, 400)
  t.equal(invalid.body.code, 'VIX_ERR_INVALID_MESSAGE')
  t.match(invalid.body.path, /^\/payload\//, 'names the bad field')

  const unknown = await publish(app, { type: 'anything.at.all' }, auth)
  t.equal(unknown.status, 400)
  t.equal(unknown.body.code, 'VIX_ERR_UNKNOWN_TYPE')

  const reserved = await publish(app, { type: 'server.going_away', room: 'general', payload: { retryAfterMs: 999999 } }, auth)
  t.equal(reserved.status, 400, 'a type the server itself sends is never published from outside')
  t.equal(reserved.body.code, 'VIX_ERR_UNKNOWN_TYPE')

  await delay(100)
  t.same(events(member), [], 'nothing refused was delivered')

  const accepted = await publish(app, valid, auth)
  t.equal(accepted.status, 202)
  t.type(accepted.body.id, 'string')
  const delivered = await member.waitFor((f) => f.kind === 'event')
  t.match(delivered, { id: accepted.body.id, type: 'chat.message', room: 'general', payload: { text: 'Deploy at 5' } })
  t.equal(events(member).length, 1, 'exactly the accepted message')
})
