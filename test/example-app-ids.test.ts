import t from 'tap'
import { join } from 'node:path'
import { buildExampleApp } from '../example-app/app.js'
import { decodePosition } from '../lib/position.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { delay } from './helpers/wait.js'

const events = (client: TestClient): any[] => client.frames.filter((f: any) => f.kind === 'event')

t.test('example app: an id another user already used is another message; a real duplicate is acked duplicate: true and delivered once', async (t) => {
  const path = join(t.testdir(), 'messages.db')
  const app = await buildExampleApp({ env: { VIX_STORE_PATH: path } })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const eve = await connect(app, '/ws?name=eve')
  const ada = await connect(app, '/ws?name=ada')
  const reader = await connect(app, '/ws?name=bob')
  for (const client of [eve, ada, reader]) await client.join('general')

  eve.send({ id: 'm1', room: 'general', type: 'chat.message', payload: { text: 'from eve' } })
  const eveAck = await eve.waitFor((f) => f.kind === 'ack' && f.id === 'm1')
  ada.send({ id: 'm1', room: 'general', type: 'chat.message', payload: { text: 'from ada' } })
  const adaAck = await ada.waitFor((f) => f.kind === 'ack' && f.id === 'm1')
  t.notOk(adaAck.payload.duplicate, 'ada\'s m1 is not a duplicate of eve\'s')
  t.not(adaAck.payload.pos, eveAck.payload.pos, 'each is stored at its own position')
  await reader.waitFor(() => events(reader).length === 2)
  t.same(events(reader).map((e) => e.payload.text), ['from eve', 'from ada'], 'both are delivered')

  // ada sends her m1 again (a retry after a lost ack): acked duplicate, with the original's position, not delivered again.
  ada.send({ id: 'm1', room: 'general', type: 'chat.message', payload: { text: 'from ada' } })
  const again = await ada.waitFor((f) => f.kind === 'ack' && f.id === 'm1' && f !== adaAck)
  t.same(again.payload, { pos: adaAck.payload.pos, duplicate: true }, 'the duplicate\'s ack carries the original\'s position')
  await delay(50)
  t.equal(events(reader).length, 2, 'delivered once')

  const history = (await app.inject('/ws/history?room=general')).json()
  t.same(history.messages.map((m: any) => m.payload.text), ['from eve', 'from ada'], 'history holds both, once each')
  t.same(history.messages.map((m: any) => m.pos), [eveAck.payload.pos, adaAck.payload.pos], 'history carries the positions')
  t.same(events(reader).map((e) => e.pos), [eveAck.payload.pos, adaAck.payload.pos], 'so does every event')
  t.same(history.messages.map((m: any) => decodePosition(m.pos)?.offset), [1, 2], 'dense offsets')
  t.notOk(JSON.stringify(history).includes('id:'), 'the sender scope never reaches the wire')
})
