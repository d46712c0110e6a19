// What the client loads with import() only when it needs it (the HTTP transports, the
// tokens): loaded once, asked again after a failure, and a failure to load is a failed
// connection attempt that is retried after the backoff, never a client stuck connecting.
import t from 'tap'
import { Emitter } from '../lib/client/emitter.js'
import type { VixClientError } from '../lib/client/errors.js'
import { resolveOptions } from '../lib/client/options.js'
import { lazyModule } from '../lib/client/parts.js'
import { Reconnector } from '../lib/client/reconnect.js'
import { TimerSet } from '../lib/client/timers.js'
import { FakeClock } from './helpers/fake-clock.js'
import { ScriptedSocket } from './helpers/scripted-socket.js'

t.test('lazyModule: one load while it is asked for; after a failure, the next ask loads again', async (t) => {
  let loads = 0
  let fail = true
  const module = lazyModule(async () => {
    loads++
    if (fail) throw new Error('offline')
    return { name: 'chunk' }
  })
  t.equal(module.loaded(), undefined)
  const [first, second] = [module.get(), module.get()]
  t.equal(first, second, 'one promise for every ask while it loads')
  await t.rejects(first, /offline/)
  t.equal(loads, 1)
  t.equal(module.loaded(), undefined, 'nothing loaded')
  fail = false
  t.same(await module.get(), { name: 'chunk' }, 'asked again')
  t.equal(loads, 2)
  t.same(module.loaded(), { name: 'chunk' })
  await module.get()
  t.equal(loads, 2, 'kept once loaded')
})

t.test('a connection attempt whose preparation fails (a module not loaded) is a failed attempt: error, backoff, then the next one', async (t) => {
  ScriptedSocket.sockets = []
  const clock = new FakeClock()
  const options = resolveOptions({ url: 'ws://example.test/ws', WebSocket: ScriptedSocket as never, longPolling: false, reconnect: { minDelay: 100, maxDelay: 100, jitter: 0 }, timers: clock })
  const events = new Emitter(() => {})
  const seen: string[] = []
  events.add('error', (error: VixClientError) => { seen.push(`error ${error.code}: ${error.message}`) })
  events.add('reconnecting', (info: { attempt: number, delay: number }) => { seen.push(`reconnecting ${info.attempt} in ${info.delay}`) })
  events.add('open', () => { seen.push('open') })
  let attempts = 0
  const reconnector = new Reconnector(options, new TimerSet(clock, false), events, {
    restore: () => {},
    ended: () => {},
    abandon: () => {},
    frame: () => {},
    accepted: () => {},
    rejected: () => {},
    dropped: () => {},
    beforeConnect: async () => {
      attempts++
      if (attempts === 1) throw new Error('the tokens module could not be loaded')
      return true
    }
  })
  const opened = reconnector.connect()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen, ['error VIX_ERR_CLIENT_CONNECT: Cannot connect over websocket: the tokens module could not be loaded', 'reconnecting 1 in 100'])
  t.equal(reconnector.state, 'reconnecting')
  t.equal(ScriptedSocket.sockets.length, 0, 'nothing was opened')
  clock.tick(100)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(ScriptedSocket.sockets.length, 1, 'the next attempt opens a socket')
  ScriptedSocket.sockets[0].open()
  await opened
  t.same(seen.slice(2), ['open'])
  t.equal(attempts, 2)
  reconnector.close()
})
