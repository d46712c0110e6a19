import t from 'tap'
import { mock } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import Fastify from 'fastify'
import vixRealtime from '../plugins/index.js'
import { connect, SESSION_GONE } from '../lib/testing/index.js'

// vix-realtime/testing under fake timers: the server's heartbeats and expiries run on a clock the
// test advances (node:test's mock timers, installed before the app is built), while the test
// client waits on the real timers it took when it loaded, so its own timeouts still work.

t.beforeEach(() => { mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 0 }) })
t.afterEach(() => { mock.timers.reset() })

/** Advance the fake clock by `ms` in `step`s, letting I/O between the in-memory peers flow after each. */
async function advance (ms: number, step: number): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    mock.timers.tick(step)
    for (let i = 0; i < 5; i++) await turn()
  }
}

t.test('WebSocket: the heartbeat runs on the fake clock; a client that answers its pings outlives idleTimeout many times over', async (t) => {
  const app = Fastify()
  await app.register(vixRealtime, { docs: false, metrics: false, websocket: { pingInterval: 1000, idleTimeout: 2500 } })
  t.teardown(async () => { mock.timers.reset(); await app.close() })
  const client = await connect(app)
  await client.join('general')
  await advance(10_000, 1000)
  t.notOk(client.isClosed, 'every ping was answered: not terminated after 10 s of fake time')
  await app.realtime.publish({ room: 'general', type: 'news', payload: {} })
  t.match(await client.next((f) => f.type === 'news'), { kind: 'event' })
  await client.close()
})

t.test('long polling: a session not polled for sessionTtl is swept on the fake clock, and the client sees it end', async (t) => {
  const app = Fastify()
  await app.register(vixRealtime, { docs: false, metrics: false, longPolling: { sessionTtl: 1000 } })
  t.teardown(async () => { mock.timers.reset(); await app.close() })
  const client = await connect(app, { transport: 'polling' })
  await client.join('general')
  await advance(800, 100)
  await client.expectNothing(5)
  t.equal(app.realtime.rooms.size('general'), 1, 'polled within the TTL: kept')
  await advance(2000, 100)
  t.equal(app.realtime.rooms.size('general'), 0, 'swept: it left its rooms')
  await t.rejects(client.next(() => true), /before the connection closed \(4404\)/)
  t.match(await client.closed, { code: SESSION_GONE })
})
