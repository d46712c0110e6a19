import t from 'tap'
import Fastify from 'fastify'
import SwaggerParser from '@apidevtools/swagger-parser'
import { Counter, Gauge, Registry, collectDefaultMetrics, register as globalRegistry } from 'prom-client'
import vixRealtime, { MetricNames, errorReasons, hubPlugin, metricsPlugin, websocketPlugin } from '../plugins/index.js'
import type { MetricsParts } from '../lib/metrics.js'
import { RealtimeMetrics } from '../lib/metrics.js'
import { build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { errorsOf, eventually, scrapeMetrics } from './helpers/metrics.js'
import { hubOf } from '../lib/hub/realtime.js'

/** Every family and its kind, exactly as DESIGN §5 names them. */
const families: Record<string, 'COUNTER' | 'GAUGE' | 'HISTOGRAM'> = {
  vix_ws_connections_total: 'COUNTER',
  vix_ws_messages_inbound_total: 'COUNTER',
  vix_ws_messages_outbound_total: 'COUNTER',
  vix_ws_errors_total: 'COUNTER',
  vix_longpoll_sessions_total: 'COUNTER',
  vix_longpoll_polls_total: 'COUNTER',
  vix_longpoll_enqueued_total: 'COUNTER',
  vix_longpoll_drained_total: 'COUNTER',
  vix_longpoll_dropped_total: 'COUNTER',
  vix_store_appends_total: 'COUNTER',
  vix_ws_connections_active: 'GAUGE',
  vix_sessions_active: 'GAUGE',
  vix_ws_rooms_active: 'GAUGE',
  vix_longpoll_sessions_active: 'GAUGE',
  vix_longpoll_buffered_messages: 'GAUGE',
  vix_publish_duration_seconds: 'HISTOGRAM',
  vix_store_append_duration_seconds: 'HISTOGRAM',
  vix_broker_errors_total: 'COUNTER',
  vix_broker_connected: 'GAUGE',
  vix_broker_gaps_repaired_total: 'COUNTER',
  vix_broker_link_connected: 'GAUGE',
  vix_broker_link_errors_total: 'COUNTER',
  vix_broker_link_resubscriptions_total: 'COUNTER',
  vix_room_streams_interrupted_total: 'COUNTER',
  vix_dependency_errors_total: 'COUNTER',
  vix_dependency_up: 'GAUGE',
  vix_limit_rejections_total: 'COUNTER',
  vix_presence_members: 'GAUGE',
  vix_presence_diffs_total: 'COUNTER',
  vix_transaction_notifications_total: 'COUNTER',
  vix_transaction_repairs_total: 'COUNTER',
  vix_transaction_delivery_seconds: 'HISTOGRAM'
}

t.test('GET /metrics is valid Prometheus text with HELP and TYPE for every family', async (t) => {
  const app = await build(t)
  const response = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const m = await scrapeMetrics(app)
  t.same(Object.fromEntries([...m.families.values()].map((f) => [f.name, f.type])), families, 'exactly the DESIGN §5 families and kinds')
  t.same(Object.values(MetricNames).sort(), Object.keys(families).sort(), 'MetricNames lists them all')
  for (const [name, type] of Object.entries(families)) {
    const family = m.families.get(name)
    t.ok(family !== undefined && family.help.length > 0, `${name} has help text`)
    t.match(m.text, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} has a HELP line`)
    t.match(m.text, new RegExp(`^# TYPE ${name} ${type.toLowerCase()}$`, 'm'), `${name} has a TYPE line`)
  }
  t.same(errorsOf(m), Object.fromEntries(errorReasons.map((reason) => [reason, 0])), 'every reason is pre-initialized to 0')
  t.same(m.families.get('vix_ws_errors_total')?.metrics.map((s) => Object.keys(s.labels ?? {})), errorReasons.map(() => ['reason']), 'reason is the only label')
  t.equal(globalRegistry.getSingleMetric('vix_ws_connections_total'), undefined, 'nothing leaks into the global registry')
})

t.test('two apps in one process each expose their own numbers', async (t) => {
  const first = await build(t)
  const second = await build(t)
  t.not(first.realtimeMetrics.registry, second.realtimeMetrics.registry)
  const clients = [await connect(first), await connect(first), await connect(second)]
  await clients[0].join('r1')
  let [m1, m2] = await Promise.all([scrapeMetrics(first), scrapeMetrics(second)])
  t.equal(m1.value('vix_ws_connections_active'), 2)
  t.equal(m2.value('vix_ws_connections_active'), 1)
  t.equal(m1.value('vix_ws_connections_total'), 2)
  t.equal(m2.value('vix_ws_connections_total'), 1)
  t.equal(m1.value('vix_ws_rooms_active'), 1)
  t.equal(m2.value('vix_ws_rooms_active'), 0)
  t.equal(m1.value('vix_ws_messages_inbound_total'), 1)
  t.equal(m2.value('vix_ws_messages_inbound_total'), 0)
  for (const client of clients) client.close()
  m1 = await eventually(first, (m) => m.value('vix_ws_connections_active') === 0)
  m2 = await eventually(second, (m) => m.value('vix_ws_connections_active') === 0)
  t.equal(m1.value('vix_ws_connections_total'), 2)
  t.equal(m2.value('vix_ws_connections_total'), 1)
})

t.test('the metrics path is configurable and the part can be left out', async (t) => {
  const custom = await build(t, { metrics: { path: '/internal/metrics' } })
  t.equal((await custom.inject('/internal/metrics')).statusCode, 200)
  t.equal((await custom.inject('/metrics')).statusCode, 404)

  const without = await build(t, { relayTypes: ['chat.message'], metrics: false })
  t.equal((await without.inject('/metrics')).statusCode, 404)
  t.equal(without.hasDecorator('realtimeMetrics'), false)
  t.equal(hubOf(without.realtime).observers.length, 1, 'no metrics observer: only the hub\'s own (token expiry) observes it')
  const a = await connect(without)
  const b = await connect(without)
  await a.join('general')
  await b.join('general')
  a.send({ room: 'general', type: 'chat.message', payload: { text: 'still works' } })
  t.equal((await b.waitFor((f) => f.type === 'chat.message')).payload.text, 'still works')
})

t.test('each part registers with just the hub, with or without metrics', async (t) => {
  const metricsOnly = Fastify()
  t.teardown(() => metricsOnly.close())
  await metricsOnly.register(hubPlugin)
  await metricsOnly.register(metricsPlugin)
  t.equal((await metricsOnly.inject('/metrics')).statusCode, 200)
  t.equal(hubOf(metricsOnly.realtime).observers.length, 2, 'the metrics observe the hub registered before them (beside its own token expiry)')

  const websocketOnly = Fastify()
  t.teardown(() => websocketOnly.close())
  await websocketOnly.register(hubPlugin)
  await websocketOnly.register(websocketPlugin)
  await websocketOnly.listen({ host: '127.0.0.1', port: 0 })
  const client = await connect(websocketOnly)
  t.ok((await client.join('solo')).kind === 'ack')
  t.equal(websocketOnly.hasDecorator('realtimeMetrics'), false)

  // Metrics registered after the transport count from then on; gauges read live state anyway.
  const late = Fastify()
  t.teardown(() => late.close())
  await late.register(hubPlugin)
  await late.register(websocketPlugin)
  await late.register(metricsPlugin)
  await late.listen({ host: '127.0.0.1', port: 0 })
  await connect(late)
  t.equal((await scrapeMetrics(late)).value('vix_ws_connections_active'), 1)
})

t.test('the metrics part needs the hub and refuses hub options', async (t) => {
  const alone = Fastify()
  t.teardown(() => alone.close())
  await t.rejects(async () => { await alone.register(metricsPlugin).ready() }, { code: 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE', message: /vix-realtime-metrics/ }, 'it no longer registers a hub of its own')

  for (const [option, value] of [['relayTypes', ['chat.message']], ['authenticate', () => ({})], ['shutdownTimeout', 100]] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(hubPlugin).register(metricsPlugin, { [option]: value } as any).ready() },
      { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`"${option}".*hub option.*metricsPlugin`) }, option)
  }
})

t.test('an owned registry is cleared on close and the observer detached', async (t) => {
  const app = Fastify()
  await app.register(vixRealtime)
  await app.ready()
  const { registry } = app.realtimeMetrics
  const hub = hubOf(app.realtime)
  t.equal(hub.observers.length, 2, 'the metrics observer, beside the hub\'s own (token expiry)')
  t.ok(registry.getMetricsAsArray().length > 0)
  await app.close()
  t.equal(registry.getMetricsAsArray().length, 0, 'registry cleared')
  t.equal(hub.observers.length, 1, 'the metrics observer detached')
  app.realtimeMetrics.close()
  t.equal(registry.getMetricsAsArray().length, 0, 'closing twice is harmless')
})

t.test('a registry passed in is shared, never cleared, and reusable after close', async (t) => {
  const registry = new Registry()
  const appCounter = new Counter({ name: 'app_orders_total', help: 'Orders placed', registers: [registry] })
  appCounter.inc(7)

  const app = await build(t, { metrics: { registry } })
  t.equal(app.realtimeMetrics.registry, registry)
  t.equal(app.realtimeMetrics.ownsRegistry, false)
  const m = await scrapeMetrics(app)
  t.equal(m.value('app_orders_total'), 7, 'the app\'s own metrics are exposed too')
  t.equal(m.value('vix_ws_connections_active'), 0)

  // A second app on the same registry while the first is alive would double count.
  const clash = Fastify()
  t.teardown(() => clash.close())
  await t.rejects(async () => { await clash.register(vixRealtime, { metrics: { registry } }) }, { code: 'VIX_ERR_INVALID_OPTION', message: /registry/ })

  await app.close()
  t.equal(registry.getSingleMetric('vix_ws_connections_active'), undefined, 'vix_ families removed')
  t.ok(registry.getSingleMetric('app_orders_total'), 'the app\'s metric stays')

  const again = await build(t, { metrics: { registry } })
  t.equal((await scrapeMetrics(again)).value('vix_ws_connections_total'), 0, 'a new app registers into it again')
})

t.test('default process metrics are off unless asked for, and removed with the app', async (t) => {
  const plain = await build(t)
  t.equal((await scrapeMetrics(plain)).families.has('process_cpu_user_seconds_total'), false)

  const withDefaults = await build(t, { metrics: { defaultMetrics: true } })
  t.ok((await scrapeMetrics(withDefaults)).families.has('process_cpu_user_seconds_total'))

  const registry = new Registry()
  const prefixed = Fastify()
  await prefixed.register(vixRealtime, { metrics: { registry, defaultMetrics: { prefix: 'app_' } } })
  t.ok((await scrapeMetrics(prefixed)).families.has('app_process_cpu_user_seconds_total'))
  await prefixed.close()
  t.equal(registry.getMetricsAsArray().length, 0, 'default metrics added by the app are removed from a shared registry too')

  // A registry that already collects process metrics (e.g. fastify-metrics' one) cannot take them twice.
  const collecting = new Registry()
  collectDefaultMetrics({ register: collecting })
  const count = collecting.getMetricsAsArray().length
  const clash = Fastify()
  t.teardown(() => clash.close())
  await t.rejects(async () => { await clash.register(vixRealtime, { metrics: { registry: collecting, defaultMetrics: true } }) },
    { code: 'VIX_ERR_INVALID_OPTION', message: /"defaultMetrics".*already been registered/ })
  t.equal(collecting.getMetricsAsArray().length, count, 'the registry is left as it was')
  t.equal(collecting.getSingleMetric('vix_ws_connections_total'), undefined)
})

t.test('a failing app metric in a shared registry answers 500 with a coded body', async (t) => {
  const registry = new Registry()
  // eslint-disable-next-line no-new
  new Gauge({ name: 'app_broken', help: 'Throws on collect', registers: [registry], collect () { throw new Error('backend down') } })
  const app = await build(t, { metrics: { registry } })
  const response = await app.inject('/metrics')
  t.equal(response.statusCode, 500)
  t.match(response.json(), { statusCode: 500, code: 'VIX_ERR_INTERNAL' })
})

t.test('custom histogram buckets', async (t) => {
  const app = await build(t, { metrics: { buckets: { publish: [0.5, 1], storeAppend: [2] } } })
  await app.realtime.publish({ type: 'news', payload: {} })
  const m = await scrapeMetrics(app)
  // Object keys put integer-like "1" first, hence the sort.
  t.same(Object.keys(m.histogram('vix_publish_duration_seconds').buckets).sort(), ['+Inf', '0.5', '1'])
  t.equal(m.histogram('vix_publish_duration_seconds').buckets['0.5'], 1)
  t.same(Object.keys(m.histogram('vix_store_append_duration_seconds').buckets).sort(), ['+Inf', '2'])
})

t.test('bad options fail boot with a coded error naming the option', async (t) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['path', { path: 'metrics' }],
    ['registry', { registry: {} }],
    ['registry', { registry: null }],
    ['defaultMetrics', { defaultMetrics: 'yes' }],
    ['defaultMetrics', { defaultMetrics: null }],
    ['buckets.publish', { buckets: { publish: [0.1, 0.05] } }],
    ['buckets.publish', { buckets: { publish: [] } }],
    ['buckets.storeAppend', { buckets: { storeAppend: [0, 1] } }],
    ['buckets.storeAppend', { buckets: { storeAppend: 'fast' } }]
  ]
  for (const [option, metrics] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(vixRealtime, { metrics: metrics as any }) }, { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`"${option.replace('.', '\\.')}"`) }, option)
  }
  t.throws(() => new RealtimeMetrics({} as MetricsParts, { buckets: { publish: [Number.NaN] } }), { code: 'VIX_ERR_INVALID_OPTION' })
})

t.test('the route is documented for OpenAPI', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(vixRealtime)
  await app.ready()
  const document = app.swagger() as any
  const operation = document.paths['/metrics'].get
  t.equal(operation.summary, 'Prometheus metrics')
  t.match(operation.description, /text\/plain; version=0\.0\.4/)
  t.same(operation.tags, ['realtime'])
  const ok = operation.responses['200']
  t.ok(ok.description)
  t.match(ok.content['text/plain'].example, /# TYPE vix_ws_connections_active gauge/)
  t.ok(operation.responses['500'].content['application/json'].schema, 'error response documented')
  await SwaggerParser.validate(structuredClone(document))
})
