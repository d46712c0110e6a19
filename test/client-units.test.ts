import { test } from 'tap'
import WebSocket from 'ws'
import { backoffDelay, goingAwayDelay, reconnectDefaults, VixClient, VixClientError } from '../lib/client/index.js'
import { newClientId, newSenderKey } from '../lib/client/id.js'
import { parseFrame } from '../lib/client/protocol.js'
import { RecentIds } from '../lib/client/recent-ids.js'
import { resolveOptions } from '../lib/client/options.js'
import { TimerSet, defaultTimers } from '../lib/client/timers.js'

test('backoffDelay: exponential from minDelay, capped at maxDelay, jitter only shortens', async (t) => {
  const plain = { ...reconnectDefaults, jitter: 0 }
  t.same([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, plain)), [500, 1000, 2000, 4000, 8000, 10_000])
  const jittered = { ...reconnectDefaults, jitter: 0.5 }
  t.equal(backoffDelay(2, jittered, () => 0), 1000)
  t.equal(backoffDelay(2, jittered, () => 0.999999), 500)
  for (let i = 0; i < 100; i++) {
    const value = backoffDelay(10, jittered)
    t.ok(value >= 5000 && value <= 10_000, `${value} within [maxDelay/2, maxDelay]`)
  }
  t.equal(goingAwayDelay(1000, 0.5, () => 0), 1000, 'never earlier than the server asked')
  t.equal(goingAwayDelay(1000, 0.5, () => 0.5), 1250)
})

test('RecentIds forgets the oldest id at capacity', async (t) => {
  const recent = new RecentIds(2)
  t.equal(recent.add('a'), true)
  t.equal(recent.add('a'), false)
  recent.add('b')
  recent.add('c')
  t.equal(recent.size, 2)
  t.equal(recent.has('a'), false)
  t.equal(recent.has('c'), true)
})

test('parseFrame: typed frames only; payload always an object', async (t) => {
  t.equal(parseFrame('not json'), null)
  t.equal(parseFrame('[1,2]'), null)
  t.equal(parseFrame('null'), null)
  t.equal(parseFrame('"text"'), null)
  t.equal(parseFrame('{"payload":{}}'), null)
  t.same(parseFrame('{"type":"a","payload":null}'), { type: 'a', payload: {} })
  t.same(parseFrame('{"type":"a","kind":"event","payload":{"x":1}}'), { type: 'a', kind: 'event', payload: { x: 1 } })
})

test('newClientId: randomUUID when available, a unique fallback otherwise', async (t) => {
  t.match(newClientId(), /^[0-9a-f-]{36}$/)
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!
  Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true })
  t.teardown(() => { Object.defineProperty(globalThis, 'crypto', descriptor) })
  const ids = new Set(Array.from({ length: 1000 }, () => newClientId()))
  t.equal(ids.size, 1000)
  t.match([...ids][0], /^c-/)
})

test('options are checked at construction with VIX_ERR_INVALID_OPTION naming the option', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /"options"/],
    [{ url: 'not a url' }, /"url"/],
    [{ url: 'ftp://x/ws', WebSocket }, /"url"/],
    [{ url: 'ws://x/ws', WebSocket: 42 }, /"WebSocket"/],
    [{ url: 'ws://x/ws', WebSocket, fetch: 'nope' }, /"fetch"/],
    [{ url: 'ws://x/ws', WebSocket, longPolling: { baseUrl: '::' } }, /"longPolling.baseUrl"/],
    [{ url: 'ws://x/ws', WebSocket, longPolling: { wait: -1 } }, /"longPolling.wait"/],
    [{ url: 'ws://x/ws', WebSocket, longPolling: { afterFailures: 1.5 } }, /"longPolling.afterFailures"/],
    [{ url: 'ws://x/ws', longPolling: false }, /"transports".*no WebSocket class/],
    [{ url: 'ws://x/ws', WebSocket, transports: [] }, /"transports"/],
    [{ url: 'ws://x/ws', WebSocket, transports: ['carrier-pigeon'] }, /"transports"/],
    [{ url: 'ws://x/ws', WebSocket, transports: ['sse', 'sse'] }, /"transports"/],
    [{ url: 'ws://x/ws', WebSocket, reconnect: { minDelay: 100, maxDelay: 50 } }, /"reconnect.maxDelay"/],
    [{ url: 'ws://x/ws', WebSocket, reconnect: { jitter: 2 } }, /"reconnect.jitter"/],
    [{ url: 'ws://x/ws', WebSocket, reconnect: { factor: 0.5 } }, /"reconnect.factor"/],
    [{ url: 'ws://x/ws', WebSocket, reconnect: { maxAttempts: 0 } }, /"reconnect.maxAttempts"/],
    [{ url: 'ws://x/ws', WebSocket, timeout: 0 }, /"timeout"/],
    [{ url: 'ws://x/ws', WebSocket, dedupeWindow: Number.NaN }, /"dedupeWindow"/]
  ]
  for (const [options, message] of bad) {
    let thrown: unknown
    try {
      const client = new VixClient(options as any)
      client.close()
    } catch (error) {
      thrown = error
    }
    t.ok(thrown instanceof VixClientError && thrown.code === 'VIX_ERR_INVALID_OPTION' && message.test(thrown.message), `${String((thrown as Error)?.message)} matches ${message}`)
  }
  const originalFetch = globalThis.fetch
  Object.defineProperty(globalThis, 'fetch', { value: undefined, configurable: true, writable: true })
  t.teardown(() => { globalThis.fetch = originalFetch })
  t.throws(() => new VixClient({ url: 'ws://x/ws', WebSocket }), /long polling needs fetch/)
})

test('options: http(s) URLs become ws(s); polling URLs derive from the origin; query on both; the client_key on what opens a session', async (t) => {
  const secure = resolveOptions({ url: 'https://chat.example.com/ws', WebSocket, query: { token: 't' } })
  const key = new URL(secure.url).searchParams.get('client_key') as string
  t.match(key, /^[A-Za-z0-9_-]{22}$/, '128 random bits, URL-safe')
  t.equal(secure.url, `wss://chat.example.com/ws?token=t&client_key=${key}`)
  t.same(secure.longPolling, {
    pollUrl: 'https://chat.example.com/ws/poll?token=t',
    createUrl: `https://chat.example.com/ws/poll?token=t&client_key=${key}`,
    sendUrl: 'https://chat.example.com/ws/send?token=t',
    wait: 25_000,
    afterFailures: 2,
    upgradeInterval: 30_000
  }, 'the same key creates a long-poll session; polls and sends carry none')
  const plain = resolveOptions({ url: 'http://127.0.0.1:8080/rt', WebSocket, longPolling: { baseUrl: 'http://api.local:9000', pollPath: '/rt/poll', sendPath: '/rt/send' }, reconnect: false })
  const plainKey = new URL(plain.url).searchParams.get('client_key') as string
  t.not(plainKey, key, 'each client its own key')
  t.equal(plain.url, `ws://127.0.0.1:8080/rt?client_key=${plainKey}`)
  t.match(plain.longPolling, { pollUrl: 'http://api.local:9000/rt/poll', sendUrl: 'http://api.local:9000/rt/send' })
  t.equal(plain.reconnect, false)
  t.equal(resolveOptions({ url: 'wss://x/ws', WebSocket, longPolling: false }).longPolling, false)
})

test('options: WebSocket null leaves WebSocket out, even where a global WebSocket exists', async (t) => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket')
  Object.defineProperty(globalThis, 'WebSocket', { value: WebSocket, configurable: true, writable: true })
  t.teardown(() => {
    if (saved === undefined) delete (globalThis as { WebSocket?: unknown }).WebSocket
    else Object.defineProperty(globalThis, 'WebSocket', saved)
  })
  t.equal(resolveOptions({ url: 'ws://x/ws' }).WebSocket, WebSocket, 'the global by default')
  t.equal(resolveOptions({ url: 'ws://x/ws', WebSocket: null }).WebSocket, undefined)
  t.equal(new VixClient({ url: 'ws://x/ws', WebSocket: null }).transport, 'sse', 'the next of the default transports')
  t.equal(new VixClient({ url: 'ws://x/ws', WebSocket: null, transports: ['websocket', 'polling'] }).transport, 'long-polling')
  t.throws(() => new VixClient({ url: 'ws://x/ws', WebSocket: null, longPolling: false }), /long polling is off/)
  t.same(resolveOptions({ url: 'ws://x/ws', WebSocket: null, transports: ['polling', 'sse'] }).transports, ['long-polling', 'sse'], 'in the order given')
  const sse = resolveOptions({ url: 'https://x/ws', WebSocket: null, transports: ['sse'], query: { token: 't' } }).sse
  t.match(sse, { url: /^https:\/\/x\/ws\/sse\?token=t&client_key=[\w-]{22}$/, sendUrl: 'https://x/ws/send?token=t' }, 'SSE on the HTTP origin, with the query and the client key')
})

test('TimerSet: unref in Node, clear is idempotent; default timers fire', async (t) => {
  const timers = new TimerSet(defaultTimers(), true)
  let fired = false
  const handle = timers.set(() => { fired = true }, 1)
  t.equal((handle as NodeJS.Timeout).hasRef(), false)
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(fired, true)
  t.equal(timers.size, 0)
  const other = timers.set(() => { t.fail('cleared') }, 1)
  timers.clear(other)
  timers.clear(other)
  timers.clear(undefined)
  t.equal(timers.size, 0)
})

test('VixClientError carries its details', async (t) => {
  const error = new VixClientError('VIX_ERR_FORBIDDEN', 'no', { path: '/room', status: 403, id: 'm1', room: 'r' })
  t.match(error, { name: 'VixClientError', code: 'VIX_ERR_FORBIDDEN', path: '/room', status: 403, id: 'm1', room: 'r' })
  const bare = new VixClientError('VIX_ERR_CLIENT_HTTP', 'y')
  t.notOk('path' in bare || 'status' in bare || 'id' in bare || 'room' in bare, 'absent details are not set')
})

test('the browser path imports nothing outside lib/client (no Node module, no Fastify, no TypeBox)', async (t) => {
  const { readdir, readFile } = await import('node:fs/promises')
  const dir = new URL('../lib/client/', import.meta.url)
  const files = (await readdir(dir)).filter((name) => name.endsWith('.ts'))
  t.ok(files.length > 5)
  for (const file of files) {
    const source = await readFile(new URL(file, dir), 'utf8')
    // One statement per line here; a multi-line one ends with "} from '...'".
    // The one exception: the error table's code union, a type-only import (erased from the bundle).
    const code = source.replace("import type { ErrorCode } from '../../schemas/protocol.js'\n", '')
    const specifiers = [...code.matchAll(/^(?:(?:import|export) .*|\}) from '([^']+)'$/gm)].map((m) => m[1])
    t.ok(specifiers.every((specifier) => specifier.startsWith('./')), `${file} imports only siblings: ${specifiers.join(', ')}`)
  }
  const table = await readFile(new URL('../schemas/protocol.ts', import.meta.url), 'utf8')
  t.notMatch(table, /^import /m, 'schemas/protocol.ts, whose types the client names, imports nothing')
})

test('newSenderKey: 22 URL-safe characters from crypto.getRandomValues, and without it from Math.random', async (t) => {
  const keys = new Set(Array.from({ length: 50 }, () => newSenderKey()))
  t.equal(keys.size, 50, 'all different')
  for (const key of keys) t.match(key, /^[A-Za-z0-9_-]{22}$/)
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'crypto')
  Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true, writable: true })
  t.teardown(() => { Object.defineProperty(globalThis, 'crypto', descriptor as PropertyDescriptor) })
  t.match(newSenderKey(), /^[A-Za-z0-9_-]{22}$/, 'an insecure old browser still gets a key')
})
