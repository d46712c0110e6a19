import { join } from 'node:path'
import { test } from 'tap'
import WebSocket from 'ws'
import { VixClient, type ResponseLike, type VixClientOptions } from '../lib/client/index.js'
import type { LongPollingClientOptions } from '../lib/client/options.js'
import { FakeClock } from './helpers/fake-clock.js'
import { ScriptedSocket } from './helpers/scripted-socket.js'
import { baseUrl, build } from './helpers/app.js'
import { delay, waitFor } from './helpers/wait.js'

interface Teardown { teardown: (fn: () => unknown) => void, equal: (found: unknown, wanted: unknown) => void }

function respond (status: number, body: unknown): ResponseLike {
  return { status, headers: { get: () => null }, json: async () => body }
}

/**
 * A long-polling server the test drives by hand: one session, polls held
 * until `deliver` answers them (or the client aborts them), sends recorded
 * and answered 202 (a publish is held instead while `holdPublishes`).
 */
class FakePolling {
  readonly sends: any[] = []
  created = 0
  aborted = 0
  holdPublishes = false
  private held: ((response: ResponseLike) => void) | undefined
  private next = 0

  fetch = async (url: string, init: { method: string, body?: string, signal: AbortSignal }): Promise<ResponseLike> => {
    if (init.method === 'POST') {
      const frame = JSON.parse(init.body as string)
      this.sends.push(frame)
      if (!this.holdPublishes || frame.type === 'room.join') return respond(202, { id: frame.id })
    } else if (!url.includes('session_id=')) {
      this.created++
      return respond(200, { session_id: `s${this.created}`, messages: [], next: 0 })
    }
    return await new Promise((resolve, reject) => {
      if (init.method === 'GET') this.held = resolve
      init.signal.addEventListener('abort', () => {
        this.aborted++
        reject(new Error('aborted'))
      })
    })
  }

  /** Answer the poll waiting now with `messages`. */
  deliver (messages: any[]): void {
    const held = this.held as (response: ResponseLike) => void
    this.held = undefined
    this.next += messages.length
    held(respond(200, { session_id: `s${this.created}`, messages, next: this.next }))
  }

  /** The server forgot the session: the poll waiting now gets a 404. */
  forget (): void {
    const held = this.held as (response: ResponseLike) => void
    this.held = undefined
    held(respond(404, { code: 'VIX_ERR_SESSION_NOT_FOUND', message: 'gone' }))
  }
}

const settle = async (): Promise<void> => { await delay(5) }
const watched = ['state', 'open', 'close', 'reconnecting', 'transport', 'error', 'upgrade_failed']

/** A client whose first WebSocket upgrade is refused, so it falls back and opens on long polling. */
async function fallenBack (t: Teardown, longPolling: LongPollingClientOptions = {}, options: Partial<VixClientOptions> = {}): Promise<{ vix: VixClient, clock: FakeClock, polling: FakePolling, events: any[][] }> {
  ScriptedSocket.sockets = []
  const clock = new FakeClock()
  const polling = new FakePolling()
  const vix = new VixClient({
    url: 'ws://example.test/ws',
    WebSocket: ScriptedSocket as any,
    fetch: polling.fetch,
    transports: ['websocket', 'polling'],
    longPolling: { afterFailures: 1, upgradeInterval: 1000, ...longPolling },
    timers: clock,
    timeout: 5000,
    connectTimeout: 2000,
    random: () => 0,
    reconnect: { minDelay: 5, maxDelay: 5, factor: 1, jitter: 0 },
    ...options
  })
  t.teardown(() => { vix.close() })
  const events: any[][] = []
  for (const name of watched) vix.on(name as any, (...args: any[]) => { events.push([name, ...args]) })
  const opened = vix.connect()
  if (options.WebSocket !== null) {
    // A refused upgrade: HTTP answered, so the client falls back at once.
    ScriptedSocket.sockets[0].onerror?.({ message: 'Unexpected server response: 400' })
    ScriptedSocket.sockets[0].drop()
  }
  clock.tick(0)
  await opened
  await settle()
  t.equal(vix.transport, 'long-polling')
  events.length = 0
  return { vix, clock, polling, events }
}

test('after a fallback the probe opens: same open client, now on WebSocket, rooms rejoined with since, publishes resent', async (t) => {
  const { vix, clock, polling, events } = await fallenBack(t)
  const joined = vix.join('general')
  await settle()
  const join = polling.sends[0]
  polling.deliver([
    { id: join.id, kind: 'ack', type: 'room.join', room: 'general', payload: { room: 'general', recovered: false, replayed: 0, latestId: null } },
    { id: 'm-1', kind: 'event', room: 'general', type: 'chat.message', payload: { text: 'over polling' } }
  ])
  await joined
  await settle()
  polling.holdPublishes = true
  let acked = false
  const publishing = vix.publish('general', 'chat.message', { text: 'in flight' }).then((ack) => { acked = true; return ack })
  await settle()
  const publish = polling.sends.at(-1)
  t.equal(publish.type, 'chat.message', 'the publish went out over polling and waits for its ack')

  clock.tick(999)
  t.equal(ScriptedSocket.sockets.length, 1, 'no probe before upgradeInterval')
  clock.tick(1)
  t.equal(ScriptedSocket.sockets.length, 2, 'a probe WebSocket every upgradeInterval')
  const probe = ScriptedSocket.sockets[1]
  t.match(probe.url, /^ws:\/\/example\.test\/ws\?client_key=[A-Za-z0-9_-]{22}$/, 'the probe opens a session: it carries the client_key')
  t.same(events, [], 'a probe connecting is silent')
  const abortedBefore = polling.aborted
  probe.open()

  t.equal(vix.transport, 'websocket')
  t.equal(vix.state, 'open')
  t.same(events, [['transport', 'websocket', 'long-polling']], 'only `transport`: no close, reconnecting, open or state')
  t.ok(polling.aborted > abortedBefore, 'the long-polling connection was closed: its poll and send aborted')
  t.same(probe.sent.map((frame) => [frame.type, frame.payload]), [
    ['room.join', { room: 'general', since: 'm-1' }],
    ['chat.message', { text: 'in flight' }]
  ], 'rooms rejoined from the last id seen, then the unacked publish')
  t.equal(probe.sent[1].id, publish.id, 'resent with its id, so the server drops a copy')

  const messages: string[] = []
  vix.on('message', (message) => { messages.push(message.id as string) })
  probe.receive({ id: probe.sent[0].id, kind: 'ack', type: 'room.join', room: 'general', payload: { room: 'general', recovered: true, replayed: 1, latestId: 'm-2' } })
  probe.receive({ id: 'm-1', kind: 'event', room: 'general', type: 'chat.message', payload: {} })
  probe.receive({ id: 'm-2', kind: 'event', room: 'general', type: 'chat.message', payload: {} })
  probe.receive({ id: publish.id, kind: 'ack', type: 'chat.message', room: 'general', payload: {} })
  t.same(messages, ['m-2'], 'the replay of an event seen over polling is a duplicate, dropped')
  t.same((await publishing).id, publish.id)
  t.ok(acked)
  await settle()
  t.equal(polling.created, 1, 'no new polling session')

  clock.tick(5000)
  t.equal(ScriptedSocket.sockets.length, 2, 'no probe once on WebSocket')
  events.length = 0
  probe.drop()
  t.same(events.map(([name]) => name), ['close', 'state', 'reconnecting'], 'the new socket lost is an ordinary reconnect')
  clock.tick(5)
  t.equal(ScriptedSocket.sockets.length, 3, 'reconnecting over WebSocket')
})

test('no probe when the app chose long polling, when WebSocket worked, or with upgradeInterval 0 / false', async (t) => {
  const forced = await fallenBack(t, {}, { WebSocket: null })
  forced.clock.tick(10_000)
  t.notOk(forced.clock.delays.includes(1000), 'WebSocket: null: never probed')
  t.equal(ScriptedSocket.sockets.length, 0)

  for (const upgradeInterval of [0, false] as const) {
    const { clock } = await fallenBack(t, { upgradeInterval })
    clock.tick(100_000)
    t.equal(ScriptedSocket.sockets.length, 1, `upgradeInterval ${String(upgradeInterval)}: no probe`)
  }

  ScriptedSocket.sockets = []
  const clock = new FakeClock()
  const vix = new VixClient({ url: 'ws://example.test/ws', WebSocket: ScriptedSocket as any, fetch: new FakePolling().fetch, longPolling: { upgradeInterval: 1000 }, timers: clock })
  t.teardown(() => { vix.close() })
  const opened = vix.connect()
  ScriptedSocket.sockets[0].open()
  await opened
  clock.tick(10_000)
  t.equal(ScriptedSocket.sockets.length, 1, 'open on WebSocket: nothing to probe')
})

test('a failed probe is a debug event, not an error, and the next one comes later', async (t) => {
  const { vix, clock, events } = await fallenBack(t)
  clock.tick(1000)
  ScriptedSocket.sockets[1].drop()
  t.same(events, [['upgrade_failed', { reason: 'connection failed', status: undefined, retryInMs: 1000 }]], 'no error, no state change')
  clock.tick(999)
  t.equal(ScriptedSocket.sockets.length, 2)
  clock.tick(1)
  t.equal(ScriptedSocket.sockets.length, 3, 'probed again after upgradeInterval')
  clock.tick(2000)
  t.ok(ScriptedSocket.sockets[2].closed, 'a probe that does not open within connectTimeout is closed')
  t.match(events.at(-1), ['upgrade_failed', { reason: 'connect timeout' }])

  t.teardown(() => { Flaky.fail = false })
  const flaky = await fallenBack(t, {}, { WebSocket: Flaky as any })
  Flaky.fail = true
  flaky.clock.tick(1000)
  t.match(flaky.events, [['upgrade_failed', { reason: 'bad URL' }]], 'a constructor that throws is a failed probe')
  Flaky.fail = false
  flaky.clock.tick(1000)
  t.equal(ScriptedSocket.sockets.length, 2, 'and the next probe still comes')
  t.equal(vix.state, 'open')
  t.equal(events.filter(([name]) => name === 'error').length + flaky.events.filter(([name]) => name === 'error').length, 0, 'no error event at all')
})

class Flaky extends ScriptedSocket {
  static fail = false
  constructor (url: string) {
    if (Flaky.fail) throw new SyntaxError('bad URL')
    super(url)
  }
}

test('close() during a probe, or the polling connection lost, leaves no probe behind', async (t) => {
  const waiting = await fallenBack(t)
  waiting.vix.close()
  t.equal(waiting.clock.pending, 0, 'the probe timer is cleared')

  const inFlight = await fallenBack(t)
  inFlight.clock.tick(1000)
  const probe = ScriptedSocket.sockets[1]
  inFlight.vix.close()
  t.ok(probe.closed, 'the probe socket is closed')
  t.equal(inFlight.clock.pending, 0, 'no timer left (the probe connect timeout included)')
  probe.open()
  t.equal(inFlight.vix.state, 'closed', 'a late open of the cancelled probe is ignored')

  const lost = await fallenBack(t)
  lost.clock.tick(1000)
  const lostProbe = ScriptedSocket.sockets[1]
  lost.polling.forget()
  await settle()
  t.ok(lostProbe.closed, 'the polling connection lost: the probe is torn down')
  t.equal(lost.vix.transport, 'long-polling', 'the reconnect stays on long polling')
  lost.clock.tick(0)
  await settle()
  t.equal(lost.polling.created, 2, 'a new polling session')
  t.equal(lost.vix.state, 'open')
  lost.clock.tick(1000)
  t.equal(ScriptedSocket.sockets.length, 3, 'probing resumes on the new session')
})

test('longPolling.upgradeInterval is checked at construction', async (t) => {
  for (const upgradeInterval of [-1, 'soon', Infinity, 2 ** 31, true, Number.NaN]) {
    t.throws(() => new VixClient({ url: 'ws://x/ws', WebSocket: ScriptedSocket as any, fetch: new FakePolling().fetch, longPolling: { upgradeInterval: upgradeInterval as any } }),
      { code: 'VIX_ERR_INVALID_OPTION', message: /"longPolling.upgradeInterval"/ }, String(upgradeInterval))
  }
})

test('against the real server: refused upgrades: the client long-polls; upgrades allowed again: it is back on WebSocket, every message once, in order', async (t) => {
  let refuse = true
  let refused = 0
  const app = await build(t, { relayTypes: ['chat.message'], store: { path: join(t.testdir(), 'messages.db') } }, (app) => {
    app.addHook('onRequest', async (request, reply) => {
      if (refuse && request.headers.upgrade !== undefined) {
        refused++
        await reply.code(400).send({ statusCode: 400, code: 'VIX_ERR_TEST', message: 'upgrades refused for now' })
      }
    })
  })
  const client = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, transports: ['websocket', 'polling'], longPolling: { wait: 200, upgradeInterval: 200 }, reconnect: { minDelay: 20, maxDelay: 50 }, autoUnref: true })
  t.teardown(() => { client.close() })
  const texts: string[] = []
  const lifecycle: string[] = []
  client.on('chat.message', (msg: any) => { texts.push(msg.payload.text) })
  for (const name of ['open', 'close', 'reconnecting', 'transport', 'error', 'upgrade_failed'] as const) {
    client.on(name, (...args: any[]) => { lifecycle.push(name === 'transport' ? `transport:${String(args[0])}` : name) })
  }
  await client.connect()
  t.equal(client.transport, 'long-polling', 'a refused upgrade: fallback')
  await client.join('general')

  const published: string[] = []
  const run = { publishing: true }
  const publisher = (async () => {
    for (let n = 0; run.publishing; n++) {
      const text = `m${n}`
      published.push(text)
      if (n % 2 === 0) await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text } })
      else await client.publish('general', 'chat.message', { text })
      await delay(15)
    }
  })()
  await waitFor(() => lifecycle.filter((name) => name === 'upgrade_failed').length >= 2, { timeout: 5000, message: 'probes refused' })
  t.equal(client.transport, 'long-polling', 'still polling while upgrades are refused')
  const beforeSwitch = texts.length
  refuse = false
  await waitFor(() => client.transport === 'websocket', { timeout: 3000, message: 'back on WebSocket' })
  await delay(200)
  run.publishing = false
  await publisher
  await waitFor(() => texts.length >= published.length, { timeout: 5000, message: 'every message arrived' })
  await delay(100)

  t.ok(beforeSwitch > 0, `${beforeSwitch} messages over long polling before the switch`)
  t.ok(refused >= 3, 'the first attempt and the probes were refused')
  t.same(texts, published, 'every message before, during and after the switch: once, in order')
  t.same(lifecycle.filter((name) => name !== 'upgrade_failed'), ['error', 'transport:long-polling', 'open', 'transport:websocket'], 'one error (the first refused attempt), then a quiet switch')
  t.equal(client.state, 'open')
  t.equal([...app.realtime.sessions.values()].filter((session) => session.transport.name === 'websocket').length, 1, 'the client is a WebSocket session on the server')
  await waitFor(() => app.realtimeLongPolling.size === 0, { timeout: 3000, message: 'the long-poll session was ended by the switch' })
  t.equal(app.realtime.sessions.size, 1, 'and its hub session is gone: the client is one session, not two')
})
