import t from 'tap'
import { join } from 'node:path'
import Fastify from 'fastify'
import SwaggerParser from '@apidevtools/swagger-parser'
import vixRealtime from '../plugins/index.js'
import { buildExampleApp } from '../example-app/app.js'

t.test('the long-polling routes are fully documented in a valid OpenAPI document', async (t) => {
  const app = Fastify()
  await app.register(vixRealtime, { websocket: false })
  t.teardown(() => app.close())
  await app.ready()
  const document = app.swagger() as any
  await SwaggerParser.validate(structuredClone(document))
  for (const [path, method, success] of [['/ws/poll', 'get', '200'], ['/ws/send', 'post', '202']] as const) {
    const operation = document.paths[path][method]
    t.ok(operation.summary, `${path} has a summary`)
    t.ok(operation.description, `${path} has a description`)
    t.same(operation.tags, ['realtime'])
    t.ok(operation.responses[success], `${path} documents ${success}`)
    for (const status of ['400', '401', '404', '500']) {
      t.ok(operation.responses[status], `${path} documents ${status}`)
    }
  }
  t.ok(document.paths['/ws/send'].post.requestBody, 'the body is documented')
  t.ok(document.paths['/ws/poll'].get.responses['409'])
  t.ok(document.paths['/ws/poll'].get.responses['503'])
  t.ok(document.paths['/ws/send'].post.responses['413'])
  const send = document.paths['/ws/send'].post
  t.ok(send.responses['403'], 'a server-side publish while it is off is documented (403)')
  t.match(send.responses['401'].description, /WWW-Authenticate: Bearer/, 'and one without the serverPublish key (401)')
  t.ok(send.responses['429'], 'a full inbox is documented (429)')
  t.match(send.responses['503'].description, /VIX_ERR_STORE_UNAVAILABLE/, 'an unreachable store is documented (503)')
  t.match(send.description, /serverPublish/, 'the description says server-side publish is off unless configured')
  t.same(document.paths['/ws/poll'].get.parameters.map((p: any) => p.name).sort(), ['ack', 'client_key', 'max', 'session_id', 'wait'])
})

t.test('the example app passes LONGPOLL_* through', async (t) => {
  const app = await buildExampleApp({ env: { LONGPOLL_MAX_BUFFER: '2', LONGPOLL_WAIT: '1', VIX_STORE_PATH: join(t.testdir(), 'messages.db') } })
  t.teardown(() => app.close())
  const { poll } = app.realtimeLongPolling.create(undefined)
  t.equal(poll.capacity, 2)
})
