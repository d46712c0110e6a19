import t from 'tap'
import { build, connect } from './helpers.js'

t.test('two clients in a room see a relayed message once', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const a = await connect(app)
  const b = await connect(app)
  await a.join('general')
  await b.join('general')
  a.send({ id: 'c1', room: 'general', type: 'chat.message', payload: { text: 'hi' } })
  const ack = await a.waitFor((f) => f.kind === 'ack' && f.id === 'c1')
  t.equal(ack.type, 'chat.message')
  const got = await b.waitFor((f) => f.kind === 'event')
  t.equal(got.payload.text, 'hi')
})
