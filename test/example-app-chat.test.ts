import t from 'tap'
import { baseUrl, startExampleApp } from './helpers/app.js'
import { connectUrl } from './helpers/ws-client.js'
import { waitFor } from './helpers/wait.js'

t.test('the chat page is served at / with its stylesheet and script, and kept out of /docs', async (t) => {
  const app = await startExampleApp(t)
  const page = await app.inject('/')
  t.match(page, { statusCode: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' } })
  for (const label of ['Your name', 'Room', 'Message', 'Send']) t.match(page.body, `>${label}<`, `"${label}" is on the page`)
  t.match(page.body, 'href="/docs"')
  t.match(page.body, 'href="/metrics"')
  t.equal((await app.inject('/chat.css')).headers['content-type'], 'text/css; charset=utf-8')
  const script = await app.inject('/chat.js')
  t.equal(script.headers['content-type'], 'text/javascript; charset=utf-8')
  t.match(script.body, "from './ws/client.js'", 'the page takes the client the server serves')
  t.equal((await app.inject('/ws/client.js')).statusCode, 200)
  const document = (await app.inject('/docs/json')).json()
  t.notOk(document.paths['/'] ?? document.paths['/chat.js'], 'the page is not part of the API docs')
  t.ok(document.paths['/ws/presence'], 'presence is on, and documented')
})

t.test('demo identity: ?name= (trimmed, 1-32 characters) is who a session is; bad names get a coded 401; none is a guest', async (t) => {
  const app = await startExampleApp(t)
  const ws = baseUrl(app, 'ws')
  for (const name of ['%20%20', 'x'.repeat(33)]) {
    await t.rejects(connectUrl(`${ws}/ws?name=${name}`), { message: /unexpected response 401/ }, `WebSocket with name "${name}" is refused`)
    const poll = await app.inject(`/ws/poll?name=${name}`)
    t.equal(poll.statusCode, 401)
    t.match(poll.json(), { code: 'VIX_ERR_UNAUTHORIZED', message: /name.*1-32/ })
    t.equal((await app.inject(`/ws/history?room=general&name=${name}`)).statusCode, 401, 'history too')
  }

  const ada = await connectUrl(`${ws}/ws?name=%20Ada%20`)
  const tab = await connectUrl(`${ws}/ws?name=Ada`)
  const bob = await connectUrl(`${ws}/ws?name=${'b'.repeat(32)}`)
  const guests = [await connectUrl(`${ws}/ws`), await connectUrl(`${ws}/ws`)]
  t.teardown(() => { for (const client of [ada, tab, bob, ...guests]) client.close() })
  for (const client of [ada, tab, bob, ...guests]) await client.join('general')
  const members = await waitFor(() => {
    const list = app.realtime.presence('general')
    return list.length === 4 && list
  }, { message: () => `members: ${JSON.stringify(app.realtime.presence('general'))}` })
  const byName = (name: string): Array<{ connections: number }> => members.filter((member) => member.meta.name === name)
  t.equal(byName('Ada').length, 1, 'two tabs of one name are one member')
  t.equal(byName('Ada')[0].connections, 2)
  t.equal(byName('b'.repeat(32)).length, 1, '32 characters is a name')
  t.equal(byName('guest').length, 2, 'every guest is a member of its own')

  // The name beside a message is the server's view of its sender, whatever the payload says.
  ada.send({ type: 'chat.message', id: 'from-ada', room: 'general', payload: { text: 'hi' } })
  const event = await bob.waitFor((f) => f.kind === 'event' && f.id === 'from-ada')
  t.same(event.from, { name: 'Ada' })
  guests[0].send({ type: 'chat.message', id: 'from-guest', room: 'general', payload: { text: 'hello' } })
  t.same((await bob.waitFor((f) => f.kind === 'event' && f.id === 'from-guest')).from, { name: 'guest' })
  const history = await app.inject('/ws/history?room=general&name=Bob')
  t.same(history.json().messages.map((m: { id: string, from: unknown }) => [m.id, m.from]), [['from-ada', { name: 'Ada' }], ['from-guest', { name: 'guest' }]])
})

t.test('demo identity without a request URL or a session identity (server-made sessions) is a guest', async (t) => {
  const { demoIdentity, demoIdentityKey, demoPublicInfo } = await import('../example-app/identity.js')
  t.same(demoIdentity({ url: '/ws' }), { name: 'guest', guest: true })
  t.equal(demoIdentityKey(undefined), undefined)
  t.equal(demoIdentityKey(demoIdentity({ url: '/ws?name=Ada' })), 'name:Ada')
  t.same(demoPublicInfo(undefined), { name: 'guest' })
})
