import t from 'tap'
import { buildExampleApp } from '../example-app/app.js'
import { connect, TestClientError } from '../lib/testing/index.js'

// The chat page's `/who`: a request with a reply, answered from presence, on both transports.
for (const transport of ['websocket', 'polling'] as const) {
  t.test(`${transport}: room.who replies with the room's member names; outside the room it is refused with NOT_IN_ROOM`, async (t) => {
    const app = await buildExampleApp({ env: { VIX_STORE_PATH: ':memory:' }, logger: false })
    t.teardown(() => app.close())
    await app.ready()
    const ada = await connect(app, { transport, query: { name: 'ada' } })
    const bob = await connect(app, { transport, query: { name: 'bob' } })
    await ada.join('general')
    await bob.join('general')
    t.same(await bob.request('room.who', { room: 'general' }), { room: 'general', members: ['ada', 'bob'] })
    const refused = await ada.request('room.who', { room: 'elsewhere' }).then(() => null, (error: unknown) => error)
    t.ok(refused instanceof TestClientError)
    t.equal((refused as TestClientError).code, 'VIX_ERR_NOT_IN_ROOM')
    await ada.close()
    await bob.close()
  })
}
