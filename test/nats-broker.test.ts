import t from 'tap'
import fc from 'fast-check'
import { connect as natsConnect } from 'nats'
import { NatsBroker } from '../lib/broker/nats.js'
import { resolveBrokerOption } from '../lib/broker/options.js'
import { decodeSubjectToken, encodeSubjectToken, isSubjectPrefix } from '../lib/broker/subject.js'
import type { BrokerEvents, ControlMessage, Envelope } from '../lib/broker/types.js'
import { hubOf } from '../lib/hub/realtime.js'
import { build } from './helpers/app.js'
import { natsAvailable, natsPort, natsUrl, uniqueNatsPrefix } from './helpers/nats.js'
import { requireService } from './helpers/services.js'
import { TcpProxy } from './helpers/tcp-proxy.js'
import { waitFor } from './helpers/wait.js'

const up = await natsAvailable()

/** Room names NATS subjects cannot hold as they are. */
const awkward = ['', '.', 'a.b', 'a..b', '.lead', 'trail.', '*', '>', 'a.*', 'a.>', 'a b', 'tab\there', 'new\nline', '_', '_2E', 'ünïcödé', '😀 room', 'room:1', '%41', '-', 'x'.repeat(128)]

function envelope (room: string | undefined, id: string, node = 'peer'): Envelope {
  return { node, room, message: { kind: 'event', type: 'chat', room, id, ts: 'now', payload: {} } }
}

interface Recorder { events: BrokerEvents, envelopes: Envelope[], controls: ControlMessage[], errors: unknown[], states: boolean[], resyncs: number }

function recorder (): Recorder {
  const seen: Recorder = {
    envelopes: [],
    controls: [],
    errors: [],
    states: [],
    resyncs: 0,
    events: {
      resync: () => { seen.resyncs++ },
      connection: (connected) => { seen.states.push(connected) },
      error: (error) => { seen.errors.push(error) },
      control: (message) => { seen.controls.push(message) }
    }
  }
  return seen
}

t.test('subject encoding: one safe token per room, reversible, never shared', async (t) => {
  const tokens = new Set<string>()
  for (const room of awkward) {
    const token = encodeSubjectToken(room)
    t.match(token, /^[A-Za-z0-9_-]+$/, `${JSON.stringify(room)} is one token NATS accepts`)
    t.equal(decodeSubjectToken(token), room, `${JSON.stringify(room)} round-trips`)
    tokens.add(token)
  }
  t.equal(tokens.size, awkward.length, 'no two rooms share a subject')
  t.equal(encodeSubjectToken('general'), 'general', 'a plain name stays readable')
  t.equal(encodeSubjectToken('team.a b'), 'team_2Ea_20b')
  t.throws(() => decodeSubjectToken('a.b'), /not an encoded room/)
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 64 }), (a, b) => {
    const [ta, tb] = [encodeSubjectToken(a), encodeSubjectToken(b)]
    return /^[A-Za-z0-9_-]+$/.test(ta) && decodeSubjectToken(ta) === a && (a === b) === (ta === tb)
  }))
  for (const prefix of ['vix.', 'chat', 'a.b.', 'app:1.']) t.ok(isSubjectPrefix(prefix), `${prefix} is a prefix`)
  for (const prefix of ['', '.a', 'a..b', 'a b.', 'a.*.', '>']) t.notOk(isSubjectPrefix(prefix), `${JSON.stringify(prefix)} is not`)
})

t.test('broker option: { nats } builds a NatsBroker; bad values fail register with VIX_ERR_INVALID_OPTION', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ nats: 'http://x' }, /"broker\.nats"/],
    [{ nats: 42 }, /"broker\.nats"/],
    [{ nats: {} }, /"broker\.nats"/],
    [{ nats: 'nats://a:4222,redis://b' }, /"broker\.nats"/],
    [{ nats: 'nats://x', prefix: 'a b.' }, /"broker\.prefix"/],
    [{ nats: 'nats://x', prefix: 'a.>' }, /"broker\.prefix"/],
    [{ nats: 'nats://x', prefix: '' }, /"broker\.prefix"/],
    [{ nats: 'nats://x', redis: 'redis://x' }, /"broker": give redis or nats, not both/],
    [{ nats: 'nats://x', prefx: 'a.' }, /"broker\.prefx": unknown option; did you mean "broker\.prefix"/],
    [{}, /"broker": expected a Broker/]
  ]
  for (const [option, message] of bad) {
    t.throws(() => resolveBrokerOption(option), { code: 'VIX_ERR_INVALID_OPTION', message }, JSON.stringify(option))
  }
  await t.rejects(build(t, { broker: { nats: 'http://x' } as any, docs: false }), { code: 'VIX_ERR_INVALID_OPTION', message: /"broker\.nats"/ }, 'register fails on a bad URL')
  await t.rejects(build(t, { broker: { nats: 'nats://127.0.0.1:4222', port: 1 } as any, docs: false }), { code: 'VIX_ERR_INVALID_OPTION', message: /"broker\.port": unknown option/ }, 'and on an unknown key')

  const broker = resolveBrokerOption({ nats: 'nats://127.0.0.1:1, nats://127.0.0.1:2', prefix: 'p.' }) as NatsBroker
  t.ok(broker instanceof NatsBroker)
  t.same([broker.subjects.room('r'), broker.subjects.room('a.b'), broker.subjects.broadcast, broker.subjects.control], ['p.room.r', 'p.room.a_2Eb', 'p.all', 'p.control'])
  t.equal(new NatsBroker({ nats: natsUrl }).prefix, 'vix.', 'default prefix')
  await broker.close()

  await t.rejects(build(t, { broker: { nats: 'nats://127.0.0.1:1' }, docs: false, failFast: true }), { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', message: /NATS unreachable \(broker\.nats/ }, 'with failFast, NATS unreachable at boot fails boot')
  const app = await build(t, { broker: { nats: 'nats://127.0.0.1:1' }, docs: false })
  t.equal(hubOf(app.realtime).health.readiness().dependencies.nats, 'down', 'without it the node boots, NATS down')
})

t.test('two brokers over the shared NATS: the broker contract', async (t) => {
  if (!requireService(t, 'nats', up.ok, up.reason)) return
  const prefix = uniqueNatsPrefix()
  const a = new NatsBroker({ nats: natsUrl, prefix })
  const b = new NatsBroker({ nats: natsUrl, prefix })
  t.teardown(async () => { await a.close(); await b.close() })
  const [seenA, seenB] = [recorder(), recorder()]
  await a.start((e) => { seenA.envelopes.push(e) }, seenA.events)
  await b.start((e) => { seenB.envelopes.push(e) }, seenB.events)
  t.same([seenA.states, seenB.states], [[], []], 'connected within start: no connection event, no resync')

  // A subscription is active on the server once subscribe resolves: the very next publish arrives.
  await b.subscribe('r')
  await a.subscribe('r')
  await a.publish(envelope('r', 'first', 'a'))
  await a.publish(envelope(undefined, 'broadcast', 'a'))
  await waitFor(() => seenB.envelopes.length === 2, { message: () => `b got ${seenB.envelopes.length}` })
  t.same(seenB.envelopes.map((e) => e.message.id), ['first', 'broadcast'], 'room and broadcast envelopes reach the other node, in order')

  // Every awkward room name is its own subject on the real server.
  for (const room of awkward) await b.subscribe(room)
  for (const room of awkward) await a.publish(envelope(room, `in ${room}`, 'a'))
  await waitFor(() => seenB.envelopes.length === 2 + awkward.length, { message: () => `b got ${seenB.envelopes.length}` })
  t.same(seenB.envelopes.slice(2).map((e) => [e.room, e.message.id]), awkward.map((room) => [room, `in ${room}`]), 'each awkward room delivered once, as itself')

  // Control messages travel on <prefix>control.
  await a.publishControl({ node: 'a', type: 'presence.sync' })
  await waitFor(() => seenB.controls.length === 1, { message: 'control message delivered' })
  t.same(seenB.controls, [{ node: 'a', type: 'presence.sync' }])

  // What is not an envelope or a control message is an error, never a delivery.
  const raw = await natsConnect({ servers: natsUrl })
  t.teardown(() => raw.close())
  raw.publish(b.subjects.room('r'), 'not json')
  raw.publish(b.subjects.room('r'), '{"node":1}')
  raw.publish(b.subjects.control, '{"node":5}')
  await raw.flush()
  await waitFor(() => seenB.errors.length === 3, { message: () => `errors: ${seenB.errors.length}` })

  // Unsubscribe stops delivery; a room still subscribed goes on (and shows the other would have arrived by now).
  await b.subscribe('sentinel')
  await b.unsubscribe('r')
  await a.publish(envelope('r', 'after-unsubscribe', 'a'))
  await a.publish(envelope('sentinel', 'sentinel', 'a'))
  await waitFor(() => seenB.envelopes.some((e) => e.message.id === 'sentinel'), { message: 'sentinel arrived' })
  t.notOk(seenB.envelopes.some((e) => e.message.id === 'after-unsubscribe'), 'nothing of a room after its unsubscribe')

  // The broker's own connection does not hear its own publishes (the hub would ignore them anyway).
  t.same(seenA.envelopes, [], 'a never received its own envelopes')
  t.same(seenA.controls, [])
})

t.test('a connection of the app\'s: the broker uses it, and leaves it open on close', async (t) => {
  if (!requireService(t, 'nats', up.ok, up.reason)) return
  const prefix = uniqueNatsPrefix()
  const connection = await natsConnect({ servers: natsUrl })
  t.teardown(() => connection.close())
  const broker = new NatsBroker({ nats: connection, prefix })
  const peer = new NatsBroker({ nats: natsUrl, prefix })
  const seen = recorder()
  await broker.start((e) => { seen.envelopes.push(e) }, seen.events)
  await peer.start(() => {}, recorder().events)
  await broker.subscribe('r')
  await peer.publish(envelope('r', '1'))
  await waitFor(() => seen.envelopes.length === 1, { message: 'the envelope arrived' })
  await broker.close()
  await peer.close()
  t.notOk(connection.isClosed(), 'the app\'s connection is left open')
})

t.test('an outage through a proxy: logged once, publish fails at once, each reconnect resubscribes (rooms joined meanwhile too) then asks for a resync', async (t) => {
  if (!requireService(t, 'nats', up.ok, up.reason)) return
  const proxy = await TcpProxy.start(natsPort)
  t.teardown(() => proxy.close())
  const logged: unknown[] = []
  const logger = { debug () {}, warn () {}, error (obj: unknown) { logged.push(obj) } }
  const prefix = uniqueNatsPrefix()
  const broker = new NatsBroker({ nats: `nats://127.0.0.1:${proxy.port}`, prefix, logger, retryDelay: 20 })
  const peer = new NatsBroker({ nats: natsUrl, prefix })
  t.teardown(async () => { await broker.close(); await peer.close() })
  const seen = recorder()
  await broker.start((e) => { seen.envelopes.push(e) }, seen.events)
  await peer.start(() => {}, recorder().events)
  await broker.subscribe('r')
  for (let outage = 1; outage <= 2; outage++) {
    const errors = seen.errors.length
    proxy.cut()
    await waitFor(() => seen.states.at(-1) === false, { message: 'the broker sees the outage' })
    t.ok(seen.errors.length > errors, 'the drop is counted as an error')
    await t.rejects(broker.publish(envelope('r', 'x', 'self')), /NATS not connected/, 'a publish while disconnected fails at once, not buffered')
    await broker.subscribe(`later${outage}`)
    t.equal(logged.length, outage, `outage ${outage}: logged once`)
    proxy.restore()
    await waitFor(() => seen.resyncs === outage, { timeout: 10_000, message: 'a resync after the reconnect' })
    t.same(seen.states.slice(-2), [false, true], 'down, then up')
  }
  // Every room, those joined during the outages too, is subscribed again: the resync came after the flush.
  for (const room of ['r', 'later1', 'later2']) await peer.publish(envelope(room, room))
  await waitFor(() => seen.envelopes.length === 3, { message: () => `received ${seen.envelopes.map((e) => e.message.id).join(',')}` })
  t.same(seen.envelopes.map((e) => e.message.id), ['r', 'later1', 'later2'])
  await broker.close()
  await broker.close()
  t.equal(logged.length, 2, 'closing logs nothing')
})

t.test('NATS unreachable at boot: the node boots, keeps trying, and is up (then resyncs) once NATS is reachable', async (t) => {
  if (!requireService(t, 'nats', up.ok, up.reason)) return
  const proxy = await TcpProxy.start(natsPort)
  t.teardown(() => proxy.close())
  proxy.cut()
  const broker = new NatsBroker({ nats: `nats://127.0.0.1:${proxy.port}`, prefix: uniqueNatsPrefix(), retryDelay: 20, connectTimeout: 500 })
  t.teardown(() => broker.close())
  const seen = recorder()
  await broker.start(() => {}, seen.events)
  t.same(seen.states, [false], 'booted, disconnected')
  await broker.subscribe('r')
  proxy.restore()
  await waitFor(() => seen.resyncs === 1, { timeout: 10_000, message: 'connected and resynced' })
  t.same(seen.states, [false, true])
})
