import t from 'tap'
import Fastify from 'fastify'
import { ErrorCodes } from '../lib/errors.js'
import { hubPlugin, longPollingPlugin } from '../plugins/index.js'
import { build } from './helpers/app.js'
import { chatMessage as message, PollClient } from './helpers/poll-client.js'

/** The long-polling part as a plugin: its options, registering beside the hub, refusing what is the hub's. */

t.test('options: prefix, off in the umbrella, bad values fail boot', async (t) => {
  const app = await build(t, { longPolling: { prefix: '/rt' } })
  t.equal((await app.inject({ url: '/rt/poll' })).statusCode, 200)
  t.equal((await app.inject({ url: '/ws/poll' })).statusCode, 404)

  const off = await build(t, { longPolling: false })
  t.equal((await off.inject({ url: '/ws/poll' })).statusCode, 404)
  t.notOk(off.hasDecorator('realtimeLongPolling'))

  const badValues = [
    ['sessionTtl', 0], ['maxBuffer', 1.5], ['wait', -1], ['prefix', 'ws'], ['prefix', '/ws/'], ['maxMessageSize', '10'], ['resolveRecipients', 'yes'],
    ['serverPublish', {}], ['serverPublish', 'on'], ['serverPublish.key', { key: 'short' }], ['serverPublish.authorize', { authorize: true }]
  ] as const
  for (const [name, value] of badValues) {
    const bad = Fastify()
    const option = name.startsWith('serverPublish') ? 'serverPublish' : name
    await t.rejects(async () => { await bad.register(hubPlugin).register(longPollingPlugin, { [option]: value } as any).ready() }, { code: ErrorCodes.INVALID_OPTION, message: new RegExp(`"${name.replace('.', '\\.')}"`) }, `${name}=${JSON.stringify(value)}`)
    await bad.close()
  }
  const tooShort = Fastify()
  await t.rejects(async () => { await tooShort.register(hubPlugin).register(longPollingPlugin, { wait: 5000, maxWait: 1000 }).ready() }, { code: ErrorCodes.INVALID_OPTION, message: /maxWait/ })
  await tooShort.close()
})

t.test('the plugin registers with just the hub, and leaves the app\'s own JSON routes alone', async (t) => {
  const app = Fastify()
  await app.register(hubPlugin, { relayTypes: ['chat.message'] })
  await app.register(longPollingPlugin)
  app.post('/echo', async (request) => request.body)
  t.teardown(() => app.close())
  const echo = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } })
  t.same(echo.json(), { a: 1 }, 'the app\'s JSON parser is untouched')
  const bad = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{oops' })
  t.equal(bad.json().code, 'FST_ERR_CTP_INVALID_JSON_BODY', 'and so is its error handler')
  const poller = await PollClient.create(app)
  await poller.join('general')
  t.equal((await poller.send(message('general', 'hi'))).statusCode, 202)
  t.equal((await app.inject({ method: 'POST', url: '/ws/send', payload: message('general', 'server') })).statusCode, 403, 'server-side publish is off here too')
})

t.test('the part needs the hub and refuses hub options', async (t) => {
  const alone = Fastify()
  t.teardown(() => alone.close())
  await t.rejects(async () => { await alone.register(longPollingPlugin).ready() }, { code: 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE', message: /vix-realtime-long-polling/ }, 'without the hub, boot fails')

  for (const [option, value] of [['relayTypes', ['chat.message']], ['authenticate', () => ({})], ['identityKey', () => 'k'], ['goingAwayRetryAfter', 2500]] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(hubPlugin).register(longPollingPlugin, { [option]: value } as any).ready() }, { code: ErrorCodes.INVALID_OPTION, message: new RegExp(`"${option}".*hub option`) }, option)
  }
})
