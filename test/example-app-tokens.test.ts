import t from 'tap'
import { buildExampleApp } from '../example-app/app.js'
import { demoTokensFromEnv } from '../example-app/tokens.js'
import { startExampleApp } from './helpers/app.js'
import { connect, upgradeStatus } from './helpers/ws-client.js'

t.test('with VIX_DEMO_TOKEN_TTL: a token from /demo/token authenticates, whoami replies, auth.refresh extends the session', async (t) => {
  const app = await startExampleApp(t, { VIX_DEMO_TOKEN_TTL: '60' })
  const issued = await app.inject({ url: '/demo/token?name=ada' })
  t.equal(issued.statusCode, 200)
  const { token, expiresAt } = issued.json()
  t.ok(expiresAt > Date.now() + 55_000 && expiresAt <= Date.now() + 60_000, 'valid for the TTL')

  const client = await connect(app, `/ws?token=${encodeURIComponent(token)}`)
  t.teardown(() => { client.close() })
  client.send({ id: 'w1', type: 'whoami', payload: {} })
  t.same((await client.waitFor((f) => f.id === 'w1')).payload, { reply: { name: 'ada', expiresAt } }, 'whoami replies with the name and the expiry')

  await new Promise((resolve) => setTimeout(resolve, 5))
  const next = (await app.inject({ url: '/demo/token?name=ada' })).json()
  client.send({ id: 'r1', type: 'auth.refresh', payload: { token: next.token } })
  t.match(await client.waitFor((f) => f.id === 'r1'), { kind: 'ack', payload: { expiresAt: next.expiresAt } }, 'refreshed in-band')
  client.send({ id: 'w2', type: 'whoami', payload: {} })
  t.equal((await client.waitFor((f) => f.id === 'w2')).payload.reply.expiresAt, next.expiresAt)

  const bob = (await app.inject({ url: '/demo/token?name=bob' })).json()
  client.send({ id: 'r2', type: 'auth.refresh', payload: { token: bob.token } })
  t.match(await client.waitFor((f) => f.id === 'r2'), { kind: 'error', payload: { code: 'VIX_ERR_UNAUTHORIZED' } }, 'another name\'s token is refused')

  t.equal(await upgradeStatus(app, `/ws?token=${encodeURIComponent(token.slice(0, -2))}xx`), 401, 'a forged token is refused')
  t.equal(await upgradeStatus(app, '/ws?token=nodot'), 401)
  t.equal((await app.inject({ url: '/demo/token' })).statusCode, 400, 'a name is required')
  const guest = await connect(app, '/ws?name=eve')
  t.teardown(() => { guest.close() })
  guest.send({ id: 'w3', type: 'whoami', payload: {} })
  t.same((await guest.waitFor((f) => f.id === 'w3')).payload.reply, { name: 'eve', expiresAt: null }, 'the ?name= identity still works, and never expires')
})

t.test('without VIX_DEMO_TOKEN_TTL the app has no tokens; a bad value fails boot naming the variable', async (t) => {
  const app = await startExampleApp(t)
  t.equal((await app.inject({ url: '/demo/token?name=ada' })).statusCode, 404)
  t.notOk(app.realtime.catalogue().some((entry) => entry.type === 'whoami'))
  await t.rejects(buildExampleApp({ env: { VIX_DEMO_TOKEN_TTL: '0' } }), /VIX_DEMO_TOKEN_TTL=0/)
  const tokens = demoTokensFromEnv({ VIX_DEMO_TOKEN_TTL: '5', VIX_DEMO_TOKEN_SECRET: 's' }, () => 1000)!
  const same = demoTokensFromEnv({ VIX_DEMO_TOKEN_TTL: '5', VIX_DEMO_TOKEN_SECRET: 's' })!
  const { token } = tokens.issue('ada')
  t.same(same.verify(token), { name: 'ada', expiresAt: 6000 }, 'nodes with one secret accept each other\'s tokens')
  t.equal(same.verify(`${Buffer.from('{}').toString('base64url')}.${token.split('.')[1]}`), null)
  t.equal(demoTokensFromEnv({ VIX_DEMO_TOKEN_TTL: '' }), undefined)
})
