import t from 'tap'
import { startExampleApp } from './helpers/app.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { requireService } from './helpers/services.js'
import { delay } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'

const up = await postgresAvailable()

const topics = (client: TestClient): any[] => client.frames.filter((f: any) => f.kind === 'event' && f.type === 'room.topic')

async function setTopic (client: TestClient, id: string, payload: { room: string, text: string, version: number }): Promise<{ applied: boolean, version: number }> {
  client.send({ type: 'room.topic.set', id, payload })
  return (await client.waitFor((f) => f.kind === 'ack' && f.id === id, 10_000)).payload.reply
}

async function member (t: Parameters<typeof startExampleApp>[0], app: Awaited<ReturnType<typeof startExampleApp>>, name: string): Promise<TestClient> {
  const client = await connect(app, `/ws?name=${name}`)
  t.teardown(() => { client.close() })
  await client.join('general')
  return client
}

t.test('example app (SQLite): a room topic is stored in the app\'s own table and announced in one transaction; a change that rolls back is never seen', async (t) => {
  const app = await startExampleApp(t)
  const ada = await member(t, app, 'ada')
  const bob = await member(t, app, 'bob')
  t.same(await setTopic(ada, 's1', { room: 'general', text: 'Release on Friday', version: 0 }), { applied: true, version: 1 })
  for (const client of [ada, bob]) {
    const event = await client.waitFor((f) => f.kind === 'event' && f.type === 'room.topic')
    t.match(event, { room: 'general', from: { name: 'ada' }, payload: { text: 'Release on Friday', version: 1 }, pos: /.+/ })
  }
  // Bob saw no topic yet (version 0): his change is announced, then fails on the table's key, and rolls back whole.
  t.same(await setTopic(bob, 's2', { room: 'general', text: 'Release on Monday', version: 0 }), { applied: false, version: 1 }, 'the stale change is refused with the version now')
  t.same(await setTopic(bob, 's3', { room: 'elsewhere', text: 'x', version: 0 }), { applied: false, version: 0 }, 'not in the room: nothing changes')
  await delay(200)
  for (const client of [ada, bob]) t.same(topics(client).map((f) => f.payload.text), ['Release on Friday'], 'nobody ever saw the rolled-back topic')
  const history = (await app.inject({ url: '/ws/history?room=general&name=ada' })).json()
  t.same(history.messages.filter((m: { type: string }) => m.type === 'room.topic').map((m: any) => m.payload.text), ['Release on Friday'], 'nor is it in history')
  t.same(await setTopic(bob, 's4', { room: 'general', text: 'Release on Monday', version: 1 }), { applied: true, version: 2 }, 'over the current version it applies')
  await bob.waitForCount((f) => f.kind === 'event' && f.type === 'room.topic', 2)
})

t.test('example app on PostgreSQL, two nodes: a topic set on one reaches the other\'s members by NOTIFY; a rolled-back one reaches nobody', async (t) => {
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return
  t.teardown(() => dropRunSchemas())
  const env = { DATABASE_URL: postgresUrl, VIX_PG_SCHEMA: schemaFor(t.fullname) }
  const one = await startExampleApp(t, env)
  const two = await startExampleApp(t, env)
  const ada = await member(t, one, 'ada')
  const bob = await member(t, two, 'bob')
  t.same(await setTopic(ada, 's1', { room: 'general', text: 'Standup at 10', version: 0 }), { applied: true, version: 1 })
  const event = await bob.waitFor((f) => f.kind === 'event' && f.type === 'room.topic', 10_000)
  t.match(event, { from: { name: 'ada' }, payload: { text: 'Standup at 10', version: 1 } }, 'the other node delivered it')
  t.same(await setTopic(bob, 's2', { room: 'general', text: 'Standup at 11', version: 0 }), { applied: false, version: 1 }, 'a stale change on the other node rolls back')
  await delay(500)
  for (const client of [ada, bob]) t.same(topics(client).map((f) => f.payload.text), ['Standup at 10'], 'and nobody saw it')
})
