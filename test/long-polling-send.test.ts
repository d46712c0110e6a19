import t from 'tap'
import { join } from 'node:path'
import { ErrorCodes } from '../lib/errors.js'
import { withMessageId } from '../lib/long-polling/bridge.js'
import { build } from './helpers/app.js'
import { chatMessage as message, PollClient } from './helpers/poll-client.js'
import { bearer, PUBLISH_KEY, serverPublish } from './helpers/server-publish.js'
import { connect } from './helpers/ws-client.js'

// POST /ws/send, as a poll session (and a server-side publish) is answered: 202 {id} for
// every accepted message, its own id or the one the server gave a message sent without
// one, which the ack and the event carry; a refusal is the coded error the WebSocket
// error frame would carry.

const KEY = 'a-publish-key-of-24-chars'
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('a poll session gets error answers, not error frames, for what it sends', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  app.realtime.on('boom', () => { throw new Error('handler bug') })
  const poller = await PollClient.create(app)

  const notInRoom = await poller.send(message('general', 'hi'))
  t.equal(notInRoom.statusCode, 403)
  t.equal(notInRoom.body.code, ErrorCodes.NOT_IN_ROOM)

  const unknown = await poller.send({ type: 'nope' })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.body.code, ErrorCodes.UNKNOWN_TYPE)

  const failed = await poller.send({ type: 'boom' })
  t.equal(failed.statusCode, 500)
  t.equal(failed.body.code, ErrorCodes.INTERNAL)

  const badPayload = await poller.send({ type: 'room.join', payload: { room: '' } })
  t.equal(badPayload.statusCode, 400)
  t.equal(badPayload.body.code, ErrorCodes.INVALID_MESSAGE)
  t.equal(badPayload.body.path, '/payload/room')

  const { body } = await poller.poll()
  t.same(body.messages, [], 'no error frame is queued: the HTTP answer carried it')
})

t.test('400 VIX_ERR_INVALID_MESSAGE with the path, as the WebSocket error frame says', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'], longPolling: { serverPublish: { key: PUBLISH_KEY } } })
  const poller = await PollClient.create(app)
  const ws = await connect(app)
  const bad = { type: 'chat.message', room: 'general', payload: 'not an object' }

  const http400 = await poller.send(bad)
  ws.send(bad)
  const frame = await ws.waitFor((f) => f.kind === 'error')
  t.equal(http400.statusCode, 400)
  t.equal(http400.body.code, ErrorCodes.INVALID_MESSAGE)
  t.equal(http400.body.path, '/payload')
  t.equal(http400.body.path, frame.payload.path, 'same path as over WebSocket')
  t.equal(http400.body.message, frame.payload.message, 'same message as over WebSocket')

  const badType = await poller.send({ type: 'has space' })
  t.equal(badType.statusCode, 400)
  t.equal(badType.body.path, '/type')

  const noType = await poller.send({ payload: {} })
  t.equal(noType.statusCode, 400)
  t.equal(noType.body.code, ErrorCodes.INVALID_MESSAGE)
  t.equal(noType.body.path, '/type')

  const notJson = await poller.send('{oops')
  t.equal(notJson.statusCode, 400)
  t.equal(notJson.body.code, ErrorCodes.INVALID_MESSAGE)

  const notObject = await poller.send('[1,2]')
  t.equal(notObject.statusCode, 400)
  t.equal(notObject.body.path, '/')

  // A server-side publish (with the key) gets the same answers.
  const publishBad = await serverPublish(app, { type: 'chat.message', extra: 1 })
  t.equal(publishBad.statusCode, 400)
  t.equal(publishBad.body.code, ErrorCodes.INVALID_MESSAGE)
  t.equal(publishBad.body.path, '/extra')

  const publishRaw = await serverPublish(app, { hello: 1 })
  t.equal(publishRaw.statusCode, 400)
  t.equal(publishRaw.body.path, '/type')

  const wrongType = await app.inject({ method: 'POST', url: '/ws/send', headers: { ...bearer, 'content-type': 'text/plain' }, payload: 'hi' })
  t.equal(wrongType.statusCode, 400)
  t.equal(wrongType.json().code, ErrorCodes.INVALID_MESSAGE)

  const empty = await app.inject({ method: 'POST', url: '/ws/send', headers: { ...bearer, 'content-type': 'application/json' }, payload: '' })
  t.equal(empty.statusCode, 400)
  t.equal(empty.json().code, ErrorCodes.INVALID_MESSAGE)
})

t.test('413 when the body is larger than maxMessageSize', async (t) => {
  const app = await build(t, { longPolling: { maxMessageSize: 100 } })
  const poller = await PollClient.create(app)
  const response = await poller.send({ type: 'x', payload: { text: 'a'.repeat(200) } })
  t.equal(response.statusCode, 413)
  t.equal(response.body.code, ErrorCodes.PAYLOAD_TOO_LARGE)
  t.match(response.body.message, /100 bytes/)
})

t.test('a session\'s messages without an id: the 202 names the id their ack and event carry', async (t) => {
  const handled: unknown[] = []
  const app = await build(t, { relayTypes: ['chat.message'], store: { path: join(t.testdir(), 'messages.db'), persist: { rooms: ['kept'] } } }, (app) => {
    app.realtime.on('cursor.move', (_session, message) => { handled.push(message.id) })
  })
  const member = await connect(app)
  await member.join('general')
  await member.join('kept')
  const poller = await PollClient.create(app)

  const joined = await poller.send({ type: 'room.join', payload: { room: 'general' } })
  t.equal(joined.statusCode, 202)
  t.match(joined.body, { id: uuid }, 'a join without an id')
  const [ack] = await poller.pollUntil((f) => f.kind === 'ack' && f.type === 'room.join')
  t.equal(ack.id, joined.body.id, 'its ack carries the same id')

  const relayed = await poller.send({ type: 'chat.message', room: 'general', payload: { text: 'hi' } })
  t.match(relayed, { statusCode: 202, body: { id: uuid } })
  t.equal((await member.waitFor((f) => f.kind === 'event' && f.payload.text === 'hi')).id, relayed.body.id, 'the event members receive has it')
  t.equal((await poller.pollUntil((f) => f.kind === 'ack' && f.type === 'chat.message'))[0].id, relayed.body.id, 'and so does the sender\'s ack')

  await poller.send({ type: 'room.join', id: 'j-kept', payload: { room: 'kept' } })
  const stored = await poller.send({ type: 'chat.message', room: 'kept', payload: { text: 'stored' } })
  t.equal(stored.statusCode, 202)
  t.equal((await member.waitFor((f) => f.kind === 'event' && f.payload.text === 'stored')).id, stored.body.id, 'through the store too')
  t.same((await app.messageStore.listByRoom('kept', { limit: 10 })).messages.map((m) => m.message.id), [stored.body.id], 'stored under that id')
  const event = await member.waitFor((f) => f.kind === 'event' && f.payload.text === 'stored')
  t.match(stored.body.pos, /^1\.[A-Za-z0-9_-]{4}$/, 'a stored relay\'s 202 names its position')
  t.equal(event.pos, stored.body.pos, 'the one its event carries')
  const again = await poller.send({ type: 'chat.message', id: stored.body.id, room: 'kept', payload: { text: 'stored' } })
  t.same([again.statusCode, again.body], [202, { id: stored.body.id, pos: stored.body.pos, duplicate: true }], 'the same id again from the same session: a duplicate, with the original\'s position')

  const typed = await poller.send({ type: 'cursor.move', payload: { x: 1 } })
  t.match(typed, { statusCode: 202, body: { id: uuid } })
  t.same(handled, [typed.body.id], 'a typed handler sees the id the sender was given')

  const own = await poller.send({ type: 'chat.message', id: 'c-7', room: 'general', payload: { text: 'own' } })
  t.same(own, { statusCode: 202, body: { id: 'c-7' } }, 'a message\'s own id is answered as is')
  const left = await poller.send({ type: 'room.leave', payload: { room: 'general' } })
  t.match(left, { statusCode: 202, body: { id: uuid } })

  const refused = await poller.send({ type: 'chat.message', room: 'elsewhere', payload: {} })
  t.match(refused, { statusCode: 403, body: { code: 'VIX_ERR_NOT_IN_ROOM' } }, 'a refusal is unchanged')
})

t.test('a server-side publish without an id answers the stamped id members receive', async (t) => {
  const app = await build(t, { relayTypes: ['news'], longPolling: { serverPublish: { key: KEY } } })
  const member = await connect(app)
  await member.join('general')
  const response = await app.inject({
    method: 'POST',
    url: '/ws/send',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ type: 'news', room: 'general', payload: { text: 'deploy' } })
  })
  t.equal(response.statusCode, 202)
  const { id } = response.json()
  t.match(id, uuid)
  t.equal((await member.waitFor((f) => f.kind === 'event' && f.type === 'news')).id, id)
})

t.test('withMessageId names typed messages only, and leaves every other byte alone', async (t) => {
  const named = withMessageId('  {"type":"room.join", "payload":{"room":"r"}}')
  t.match(named.id, uuid)
  t.same(JSON.parse(named.text), { id: named.id, type: 'room.join', payload: { room: 'r' } })
  t.ok(named.text.endsWith('"type":"room.join", "payload":{"room":"r"}}'), 'the rest as sent')
  t.same(withMessageId('{"id":"c-1","type":"x"}'), { text: '{"id":"c-1","type":"x"}', id: 'c-1' })
  for (const text of ['not json', '[1]', 'null', '"text"', '{"payload":{}}', '{"type":7}', '{"id":5,"type":"x"}', '{"id":null,"type":"x"}']) {
    t.same(withMessageId(text), { text }, `${text}: for the hub to judge`)
  }
})
