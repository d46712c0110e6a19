import t from 'tap'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildExampleApp } from '../example-app/app.js'
import { encodePosition } from '../lib/position.js'
import { connect, type TestClient } from './helpers/ws-client.js'

async function startExample (storePath: string): Promise<FastifyInstance> {
  const app = await buildExampleApp({ env: { VIX_STORE_PATH: storePath } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

async function chat (client: TestClient, id: string): Promise<void> {
  client.send({ id, room: 'lobby', type: 'chat.message', payload: { text: `line ${id}` } })
  await client.waitFor((f) => f.kind === 'ack' && f.id === id)
}

const eventIds = (client: TestClient): string[] => client.frames.filter((f: any) => f.kind === 'event').map((f: any) => f.id)

t.test('the example app stopped and started on the same database: rejoin with since and /ws/history see everything', async (t) => {
  const storePath = join(t.testdir(), 'data', 'messages.db')

  const first = await startExample(storePath)
  t.teardown(() => first.close())
  const alice = await connect(first)
  const bob = await connect(first)
  await alice.join('lobby')
  await bob.join('lobby')
  await chat(alice, 'a1')
  await chat(alice, 'a2')
  await bob.waitFor((f) => f.kind === 'event' && f.id === 'a2')
  bob.close()
  await bob.closed
  const bobLastSeen = eventIds(bob).at(-1) as string
  t.equal(bobLastSeen, 'a2')
  await chat(alice, 'a3')
  await first.close()
  await alice.closed

  const second = await startExample(storePath)
  t.teardown(() => second.close())
  const alice2 = await connect(second)
  await alice2.join('lobby')
  await chat(alice2, 'a4')
  await chat(alice2, 'a5')

  const bob2 = await connect(second)
  const ack = await bob2.join('lobby', bobLastSeen)
  const head = await second.messageStore.latest('lobby') as { offset: number, epoch: string }
  t.same(ack.payload, { room: 'lobby', recovered: true, replayed: 3, latestId: 'a5', pos: encodePosition(head.offset, head.epoch) }, 'the stream goes on after the last replayed message')
  t.same(eventIds(bob2), ['a3', 'a4', 'a5'], 'what was published while away, across the restart, in order')

  const history = await second.inject({ method: 'GET', url: '/ws/history?room=lobby' })
  t.equal(history.statusCode, 200)
  t.same(history.json().messages.map((m: any) => [m.id, m.payload.text]), [
    ['a1', 'line a1'], ['a2', 'line a2'], ['a3', 'line a3'], ['a4', 'line a4'], ['a5', 'line a5']
  ], 'the full room')
  t.equal(history.json().hasMore, false)
})
