import t from 'tap'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import vixRealtime, { clientScriptPlugin, healthPlugin, hubPlugin, InProcessBroker, longPollingPlugin, MemoryMessageStore, messageStorePlugin, metricsPlugin, openapiPlugin, presencePlugin, websocketPlugin, type VixRealtimeOptions } from '../plugins/index.js'
import { Hub } from '../lib/hub/hub.js'
import { checkOptionKeys, EACH, nearestKey } from '../lib/options.js'

/** `Invalid option "<path>": unknown ...; did you mean "<suggestion>"?` */
function unknownKey (path: string, suggestion?: string): { code: string, message: RegExp } {
  const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const hint = suggestion === undefined ? 'known: ' : `did you mean "${escape(suggestion)}"\\?`
  return { code: 'VIX_ERR_INVALID_OPTION', message: new RegExp(`^Invalid option "${escape(path)}": unknown \\w+; ${hint}`) }
}

t.test('checkOptionKeys: a typo names its path and the nearest key; maps and instances are not looked into', async (t) => {
  const shape = { relayTypes: true, store: { path: true, rooms: { [EACH]: { maxAge: true } } } } as const
  t.throws(() => { checkOptionKeys({ relayType: [] }, shape) }, unknownKey('relayType', 'relayTypes'))
  t.throws(() => { checkOptionKeys({ store: { pth: 'x' } }, shape) }, unknownKey('store.pth', 'store.path'))
  t.throws(() => { checkOptionKeys({ store: { rooms: { audit: { maxAgee: 1 } } } }, shape) }, unknownKey('store.rooms.audit.maxAgee', 'store.rooms.audit.maxAge'))
  t.throws(() => { checkOptionKeys({ zzzzzzzz: 1 }, shape) }, { message: /unknown option; known: relayTypes, store$/ }, 'nothing near: the known keys')
  t.doesNotThrow(() => { checkOptionKeys({ store: { rooms: { 'any room': {}, другая: { maxAge: 1 } } } }, shape) }, 'a map takes any name')
  t.doesNotThrow(() => { checkOptionKeys({ relayType: undefined, store: { pth: undefined } }, shape) }, 'an undefined value is a left-out option')
  class Custom { pth = 1 }
  t.doesNotThrow(() => { checkOptionKeys({ store: new Custom() }, shape) }, 'an instance is not a plain options object')
  t.doesNotThrow(() => { checkOptionKeys({ relayTypes: { anything: 1 } }, shape) }, 'a leaf is not looked into')
  t.equal(nearestKey('maxConection', ['maxConnections', 'maxConnectionsPerIp']), 'maxConnections')
  t.equal(nearestKey('websockets', ['websocket', 'longPolling']), 'websocket')
  t.equal(nearestKey('qqq', ['websocket', 'longPolling']), undefined)
})

// Each typo through the umbrella, at every level: the key's whole path, and the key it was meant to be.
const typos: Array<[VixRealtimeOptions, string, string | undefined]> = [
  [{ relayType: ['chat.message'] } as any, 'relayType', 'relayTypes'],
  [{ websockets: {} } as any, 'websockets', 'websocket'],
  [{ rejectUnknownType: false } as any, 'rejectUnknownType', 'rejectUnknownTypes'],
  [{ websocket: { maxMessageSze: 10 } } as any, 'websocket.maxMessageSze', 'websocket.maxMessageSize'],
  [{ longPolling: { wiat: 1000 } } as any, 'longPolling.wiat', 'longPolling.wait'],
  [{ longPolling: { serverPublish: { kye: 'k'.repeat(16) } } } as any, 'longPolling.serverPublish.kye', 'longPolling.serverPublish.key'],
  [{ store: { pth: './x.db' } } as any, 'store.pth', 'store.path'],
  [{ store: { retention: { maxMesages: 10 } } } as any, 'store.retention.maxMesages', 'store.retention.maxMessages'],
  [{ store: { retention: { rooms: { audit: { maxAgee: 10 } } } } } as any, 'store.retention.rooms.audit.maxAgee', 'store.retention.rooms.audit.maxAge'],
  [{ store: { hold: { maxHold: 10 } } } as any, 'store.hold.maxHold', 'store.hold.maxHeld'],
  [{ store: { persist: { room: ['a'] } } } as any, 'store.persist.room', 'store.persist.rooms'],
  [{ limits: { maxConnection: 10 } } as any, 'limits.maxConnection', 'limits.maxConnections'],
  [{ limits: { sessionRate: { rate: 1, brust: 2 } } } as any, 'limits.sessionRate.brust', 'limits.sessionRate.burst'],
  [{ limits: { ipRate: { rate: 1, burts: 2 } } } as any, 'limits.ipRate.burts', 'limits.ipRate.burst'],
  [{ presence: { heartbeats: 1000 } } as any, 'presence.heartbeats', 'presence.heartbeat'],
  [{ broker: { redis: 'redis://127.0.0.1:6379', prefx: 'a:' } } as any, 'broker.prefx', 'broker.prefix'],
  [{ docs: { routPrefix: '/d' } } as any, 'docs.routPrefix', 'docs.routePrefix'],
  [{ docs: { info: { titel: 'T' } } } as any, 'docs.info.titel', 'docs.info.title'],
  [{ metrics: { pth: '/m' } } as any, 'metrics.pth', 'metrics.path'],
  [{ metrics: { buckets: { publsh: [1] } } } as any, 'metrics.buckets.publsh', 'metrics.buckets.publish'],
  [{ health: { healthpath: '/h' } } as any, 'health.healthpath', 'health.healthPath'],
  [{ clientScript: { maxage: 1 } } as any, 'clientScript.maxage', 'clientScript.maxAge']
]

t.test('the umbrella refuses an unknown key at every level, at register, naming its path and the nearest key', async (t) => {
  for (const [options, path, suggestion] of typos) {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(vixRealtime, options)
    await t.rejects(async () => { await app.ready() }, unknownKey(path, suggestion), path)
  }
})

t.test('each part registered alone refuses an unknown key, named as its own options name it', async (t) => {
  const alone: Array<[string, (app: ReturnType<typeof Fastify>) => unknown, string, string]> = [
    ['hubPlugin', (app) => app.register(hubPlugin, { relayType: ['chat'] } as any), 'relayType', 'relayTypes'],
    ['hubPlugin again', (app) => app.register(hubPlugin).register(hubPlugin, { relayType: ['chat'] } as any), 'relayType', 'relayTypes'],
    ['hubPlugin limits', (app) => app.register(hubPlugin, { limits: { maxRoomPerSession: 1 } } as any), 'limits.maxRoomPerSession', 'limits.maxRoomsPerSession'],
    ['websocketPlugin', (app) => app.register(hubPlugin).register(websocketPlugin, { pth: '/live' } as any), 'pth', 'path'],
    ['longPollingPlugin', (app) => app.register(hubPlugin).register(longPollingPlugin, { serverPublish: { key: 'k'.repeat(16), authorise: () => true } } as any), 'serverPublish.authorise', 'serverPublish.authorize'],
    ['messageStorePlugin', (app) => app.register(hubPlugin).register(messageStorePlugin, { store: new MemoryMessageStore(), retention: { rooms: { audit: { maxAgee: 1 } } } } as any), 'retention.rooms.audit.maxAgee', 'retention.rooms.audit.maxAge'],
    ['metricsPlugin', (app) => app.register(hubPlugin).register(metricsPlugin, { buckets: { storeApend: [1] } } as any), 'buckets.storeApend', 'buckets.storeAppend'],
    ['healthPlugin', (app) => app.register(hubPlugin).register(healthPlugin, { readypath: '/r' } as any), 'readypath', 'readyPath'],
    ['presencePlugin', (app) => app.register(hubPlugin, { presence: {} }).register(presencePlugin, { pth: '/p' } as any), 'pth', 'path'],
    ['openapiPlugin', (app) => app.register(openapiPlugin, { info: { titel: 'T' } } as any), 'info.titel', 'info.title'],
    ['clientScriptPlugin', (app) => app.register(clientScriptPlugin, { fiel: 'x.js' } as any), 'fiel', 'file']
  ]
  for (const [name, register, path, suggestion] of alone) {
    const app = Fastify()
    t.teardown(() => app.close())
    register(app)
    await t.rejects(async () => { await app.ready() }, unknownKey(path, suggestion), name)
  }
  t.throws(() => new Hub({ relayType: ['chat'] } as any), unknownKey('relayType', 'relayTypes'), 'the Hub itself')
  t.throws(() => new Hub({ presence: { windw: 10 } } as any), unknownKey('presence.windw', 'presence.window'), 'its presence')
})

t.test('options that take arbitrary keys or are objects of their own are not looked into', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const store = Object.assign(new MemoryMessageStore(), { extra: true })
  await app.register(vixRealtime, {
    relayTypes: ['chat.message'],
    broker: new InProcessBroker(),
    presence: { rooms: (room) => room !== 'quiet', meta: () => ({ any: 'key' }) },
    limits: { sessionRate: { rate: 10, burst: 20, closeAfter: 5 }, ipRate: { rate: 1 } },
    websocket: { path: '/ws', allowedOrigins: ['http://localhost'] },
    longPolling: { wait: 1000, serverPublish: { key: 'k'.repeat(16), authorize: () => true }, resolveRecipients: () => [] },
    metrics: { registry: new Registry(), defaultMetrics: { prefix: 'app_', labels: { any: 'label' } } as any, buckets: { publish: [0.1] } },
    docs: { info: { title: 'T', version: '1', description: 'd' } },
    store: { store, retention: { maxMessages: 10, rooms: { 'any room name': { maxAge: 1000 }, audit: {} } }, persist: (message) => message.room !== 'quiet', hold: { maxHeld: 10 } },
    health: { healthPath: '/h', readyPath: undefined },
    clientScript: false
  })
  await app.ready()
  t.ok(app.realtime, 'boots')
})
