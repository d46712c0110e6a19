import t from 'tap'
import { Type } from '@sinclair/typebox'
import { Hub, type HubOptions, type Persistence } from '../lib/hub.js'
import { RealtimeMetrics, errorReasons } from '../lib/metrics.js'
import type { RealtimeMessage } from '../lib/frames.js'
import type { Session, Transport } from '../lib/session.js'

/**
 * The hub's router and publish pipeline, without Fastify, each path checked
 * through what the metrics observer counts for it.
 */

interface FakeTransport extends Transport { frames: any[] }

function transport (name = 'websocket'): FakeTransport {
  const frames: any[] = []
  return {
    name,
    frames,
    send (data) { frames.push(typeof data === 'string' ? JSON.parse(data) : data) },
    bufferedAmount: () => 0,
    close () {},
    terminate () {}
  }
}

async function counts (metrics: RealtimeMetrics): Promise<Record<string, number>> {
  const result: Record<string, number> = {}
  for (const family of await metrics.registry.getMetricsAsJSON()) {
    for (const sample of family.values) {
      const reason = (sample.labels as Record<string, string>).reason
      const name = (sample as { metricName?: string }).metricName ?? family.name
      result[reason === undefined ? name : `${name}{${reason}}`] = sample.value
    }
  }
  return result
}

function setup (t: { teardown: (fn: () => unknown) => void }, options: HubOptions = {}): { hub: Hub, metrics: RealtimeMetrics, errors: Error[], open: (name?: string) => { session: Session, frames: any[] } } {
  const hub = new Hub(options)
  const metrics = new RealtimeMetrics(hub)
  t.teardown(() => metrics.close())
  const errors: Error[] = []
  hub.onError((_session, error) => { errors.push(error) })
  const open = (name?: string): { session: Session, frames: any[] } => {
    const fake = transport(name)
    return { session: hub.openSession(fake), frames: fake.frames }
  }
  return { hub, metrics, errors, open }
}

const send = async (hub: Hub, session: Session, frame: unknown): Promise<unknown> =>
  await hub.receive(session, typeof frame === 'string' ? frame : JSON.stringify(frame), false)

t.test('a metrics instance without options owns a registry and no process metrics', async (t) => {
  const hub = new Hub()
  const metrics = new RealtimeMetrics(hub)
  t.equal(metrics.ownsRegistry, true)
  t.match(metrics.contentType, /^text\/plain; version=0\.0\.4/)
  t.notMatch(await metrics.expose(), /process_cpu/)
  metrics.close()
  t.equal(hub.observers.length, 0)
})

t.test('open and close hooks run; a failing hook is logged and reported to onError, never thrown', async (t) => {
  const logged: unknown[] = []
  const { hub, metrics, errors, open } = setup(t, { logger: { debug () {}, warn () {}, error (obj) { logged.push(obj) } } })
  const seen: string[] = []
  hub.onOpen((session) => { seen.push(`open:${session.transport.name}`) })
  hub.onOpen(() => { throw new Error('sync open bug') })
  hub.onClose((_session, code, reason) => { seen.push(`close:${code}:${reason}`) })
  hub.onClose(async () => { throw new Error('async close bug') })
  const { session } = open()
  t.equal(hub.getSession(session.id), session)
  hub.closeSession(session, 1000, 'bye')
  hub.closeSession(session, 1001, 'again')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen, ['open:websocket', 'close:1000:bye'], 'close hooks run once')
  t.equal(session.closeCode, 1000)
  t.equal(hub.getSession(session.id), undefined)
  t.same(errors.map((e) => e.message), ['sync open bug', 'async close bug'])
  t.equal(logged.length, 2)
  const c = await counts(metrics)
  t.equal(c['vix_ws_errors_total{internal}'], 0, 'hook failures go to onError and the log; no client saw an error')
  t.equal(c.vix_ws_connections_total, 1)
  t.equal(c.vix_ws_connections_active, 0)
})

t.test('a failing onError handler is logged and the others still run', async (t) => {
  const logged: unknown[] = []
  const hub = new Hub({ logger: { debug () {}, warn () {}, error (obj) { logged.push(obj) } } })
  const seen: string[] = []
  hub.onError(() => { throw new Error('error hook bug') })
  hub.onError((_session, error) => { seen.push(error.message) })
  hub.emitError(null, new Error('socket broke'))
  t.same(seen, ['socket broke'])
  t.equal(logged.length, 1)
})

t.test('router paths and the error reason each one counts', async (t) => {
  const { hub, metrics, errors, open } = setup(t, {
    relayTypes: ['chat.message'],
    authorizeJoin: (_session, room) => room !== 'secret',
    authorizePublish: (_session, message) => message.payload.text !== 'forbidden words'
  })
  hub.on('profile.update', { schema: Type.Object({ name: Type.String() }), description: 'Update the profile' }, () => {})
  hub.on('notify', () => { throw 'not an Error' }) // eslint-disable-line no-throw-literal
  hub.on('noop', { description: 'documented, no handler yet' })
  t.same(hub.catalogue().map((entry) => entry.type), ['chat.message', 'noop', 'notify', 'profile.update'])
  t.equal(hub.catalogue().find((entry) => entry.type === 'noop')?.description, 'documented, no handler yet')

  const a = open()
  const b = open()
  const raw: Array<[string, boolean]> = []
  hub.onMessage((_session, data, info) => { raw.push([typeof data === 'string' ? data : `buffer:${data.length}`, info.typed]) })

  const results = [
    await send(hub, a.session, { type: 'room.join', payload: { room: 'general' } }),
    await send(hub, b.session, { type: 'room.join', payload: { room: 'general' } }),
    await send(hub, a.session, { type: 'room.join', payload: { room: 'secret' } }),
    await send(hub, a.session, { type: 'room.join', payload: {} }),
    await send(hub, a.session, { type: 'room.leave', payload: { room: 'general' } }),
    await send(hub, a.session, { type: 'room.leave', payload: { room: 7 } }),
    await send(hub, a.session, { id: 'p1', type: 'profile.update', payload: { name: 'Ada' } }),
    await send(hub, a.session, { type: 'profile.update', payload: { name: 1 } }),
    await send(hub, a.session, { type: 'profile.update', payload: [] }),
    await send(hub, b.session, { type: 'chat.message', payload: { text: 'no room' } }),
    await send(hub, b.session, { room: 'general', type: 'chat.message', payload: { text: 'forbidden words' } }),
    await send(hub, b.session, { room: 'general', type: 'chat.message', payload: { text: 'hi' } }),
    await send(hub, a.session, { type: 'notify' }),
    await send(hub, a.session, { type: 'mystery' }),
    await send(hub, a.session, 'plain text'),
    await send(hub, a.session, '[1, 2]'),
    await hub.receive(a.session, Buffer.from([1, 2, 3]), true)
  ]
  t.same(results.map((r: any) => r.ok ? 'ok' : r.code), [
    'ok', 'ok', 'VIX_ERR_FORBIDDEN', 'VIX_ERR_INVALID_MESSAGE', 'ok', 'VIX_ERR_INVALID_MESSAGE',
    'ok', 'VIX_ERR_INVALID_MESSAGE', 'VIX_ERR_INVALID_MESSAGE', 'VIX_ERR_INVALID_MESSAGE', 'VIX_ERR_FORBIDDEN', 'ok',
    'VIX_ERR_INTERNAL', 'VIX_ERR_UNKNOWN_TYPE', 'ok', 'ok', 'ok'
  ])
  t.equal((results[7] as any).path, '/payload/name')
  t.equal((results[8] as any).path, '/payload', 'a payload that is not an object is reported at /payload')
  t.equal((results[3] as any).path, '/payload/room')
  t.equal((results[9] as any).path, '/room')
  t.same(raw.slice(-3), [['plain text', false], ['[1, 2]', false], ['buffer:3', false]], 'non-typed frames reach raw handlers')
  t.equal(errors.length, 1, 'the failing handler reached onError')
  t.equal(errors[0].message, 'not an Error')
  t.same(b.frames.filter((f) => f.kind === 'event').map((f) => f.payload.text), ['hi'], 'only the allowed relay was delivered')
  t.same(a.frames.find((f) => f.id === 'p1'), { kind: 'ack', type: 'profile.update', id: 'p1', ts: a.frames.find((f) => f.id === 'p1').ts, payload: {} })

  const c = await counts(metrics)
  t.same(Object.fromEntries(errorReasons.map((reason) => [reason, c[`vix_ws_errors_total{${reason}}`]])), {
    invalid_message: 6, too_large: 0, rate_limited: 0, slow_consumer: 0, unauthorized: 0, forbidden: 2, internal: 1
  })
  t.equal(c.vix_ws_messages_inbound_total, results.length)
  t.equal(c.vix_ws_rooms_active, 1, 'b is still in general')
  t.equal(c.vix_publish_duration_seconds_count, 1)
})

t.test('rejectUnknownTypes: false accepts a type nobody handles', async (t) => {
  const { hub, metrics, open } = setup(t, { rejectUnknownTypes: false })
  const a = open()
  t.same(await send(hub, a.session, { type: 'whatever' }), { ok: true })
  t.equal(a.frames.length, 0)
  t.equal((await counts(metrics))['vix_ws_errors_total{invalid_message}'], 0)
})

t.test('a failing raw handler fails the typed frame too, with its id', async (t) => {
  const { hub, open } = setup(t, { relayTypes: ['chat.message'] })
  hub.onMessage(() => { throw new Error('raw bug') })
  const a = open()
  const result = await send(hub, a.session, { id: 'x1', type: 'chat.message' }) as any
  t.equal(result.code, 'VIX_ERR_INTERNAL')
  t.equal(result.id, 'x1')
  t.equal(a.frames[0].kind, 'error')
  t.equal(a.frames[0].id, 'x1')
})

t.test('errors are not sent back when replyErrors is off (the HTTP case)', async (t) => {
  const { hub, metrics, open } = setup(t)
  const a = open('long-polling')
  const result = await hub.receive(a.session, '{"type":"bad type"}', false, false) as any
  t.equal(result.code, 'VIX_ERR_INVALID_MESSAGE')
  t.equal(a.frames.length, 0)
  const c = await counts(metrics)
  t.equal(c['vix_ws_errors_total{invalid_message}'], 1)
  t.equal(c.vix_ws_messages_outbound_total, 0)
})

t.test('publish: except, room-less broadcast and server-side join/leave', async (t) => {
  const { hub, metrics, open } = setup(t)
  const a = open()
  const b = open()
  const c = open('long-polling')
  t.equal(hub.join(a.session, 'r'), true)
  t.equal(hub.join(a.session, 'r'), false)
  hub.join(b.session, 'r')
  await hub.publish({ room: 'r', type: 'x' }, { except: a.session })
  await hub.publish({ room: 'r', type: 'y' }, { except: b.session.id })
  await hub.publish({ type: 'everyone' })
  await hub.publish({ room: 'empty', type: 'nobody' })
  t.same(a.frames.map((f) => f.type), ['y', 'everyone'])
  t.same(b.frames.map((f) => f.type), ['x', 'everyone'])
  t.same(c.frames.map((f) => f.type), ['everyone'])
  t.equal(hub.leave(a.session, 'r'), true)
  t.equal(hub.leave(a.session, 'r'), false)
  t.equal(hub.rooms.size('r'), 1)
  t.same(hub.rooms.names(), ['r'])
  const m = await counts(metrics)
  t.equal(m.vix_ws_messages_outbound_total, 5)
  t.equal(m.vix_publish_duration_seconds_count, 4)
  t.equal(m.vix_ws_connections_total, 2)
})

t.test('persisted publish: a duplicate is neither delivered nor counted; join replays through persistence', async (t) => {
  const { hub, metrics, open } = setup(t)
  const stored = new Map<string, RealtimeMessage>()
  const persistence: Persistence = {
    shouldPersist: (message) => message.room === 'kept',
    async persist (message) {
      const existing = stored.get(message.id as string)
      if (existing !== undefined) return { duplicate: true, message: existing }
      stored.set(message.id as string, message)
      return { duplicate: false, message }
    },
    joinWithRecovery (session, room, since, join) {
      join()
      for (const message of stored.values()) session.send(message)
      return { recovered: since !== undefined, replayed: stored.size, latestId: since ?? null }
    }
  }
  hub.persistence = persistence
  const a = open()
  await send(hub, a.session, { type: 'room.join', payload: { room: 'kept' } })
  await hub.publish({ id: 'm1', room: 'kept', type: 'x' })
  await hub.publish({ id: 'm1', room: 'kept', type: 'x' })
  await hub.publish({ room: 'other', type: 'y' })
  const b = open()
  await send(hub, b.session, { type: 'room.join', payload: { room: 'kept', since: 'm0' } })
  t.same(a.frames.filter((f) => f.kind === 'event').map((f) => f.id), ['m1'], 'the duplicate was not delivered')
  t.match(b.frames, [{ kind: 'event', id: 'm1' }, { kind: 'ack', type: 'room.join', payload: { room: 'kept', recovered: true, replayed: 1, latestId: 'm0' } }])
  t.equal((await counts(metrics)).vix_publish_duration_seconds_count, 2, 'a duplicate publish is not observed')
})
