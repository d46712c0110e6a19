import Database from 'better-sqlite3'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import { Doorbell } from '../lib/store/doorbell.js'
import { MemoryMessageStore } from '../lib/store/memory.js'
import { PgNotifyListener, doorbellSql, notifyChannel, parseDoorbell } from '../lib/store/pg-notify.js'
import { RoomStreams } from '../lib/store/room-streams.js'
import type { MessageStore, PositionedMessage } from '../lib/store/types.js'
import { TcpProxy } from './helpers/tcp-proxy.js'
import { build } from './helpers/app.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { requireService } from './helpers/services.js'
import { delay } from './helpers/wait.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { scrapeMetrics } from './helpers/metrics.js'

const up = await postgresAvailable()

const events = (client: TestClient, room: string): any[] => client.frames.filter((f: any) => f.kind === 'event' && f.room === room)

t.test('doorbell payloads carry (room, offset) only and parse back; anything else is ignored', async (t) => {
  t.equal(doorbellSql('$1', 'v.last', 'v.room'), 'pg_notify($1, v.last::text || \' \' || v.room)')
  t.same(parseDoorbell('7 a room'), { room: 'a room', offset: 7 })
  for (const bad of [undefined, '', '7', ' r', 'x r', '0 r', '-1 r', '1.5 r']) t.equal(parseDoorbell(bad), null, `${String(bad)} is not a doorbell`)
  t.equal(notifyChannel('x'.repeat(80)).length, 63, 'a channel name fits PostgreSQL\'s identifier length')
})

t.test('the doorbell observes announced offsets once, bounded, and ignores what is not to be delivered here', async (t) => {
  const seconds: number[] = []
  let notified = 0
  const wanted = new Set(['r'])
  const doorbell = new Doorbell({ ring: (room) => wanted.has(room), observers: [{ transactionNotified: () => { notified++ }, transactionDelivered: (s) => { seconds.push(s) } }] }, 2)
  doorbell.delivered({ node: 'n', room: 'r', offset: 1, message: {} as any })
  doorbell.ring('other', 1, true)
  doorbell.ring('r', 1, true)
  doorbell.ring('r', 1, false)
  doorbell.delivered({ node: 'store', room: 'r', offset: 1, message: {} as any })
  doorbell.delivered({ node: 'store', room: 'r', offset: 1, message: {} as any })
  t.equal(notified, 2, 'notifications counted, own commits not')
  t.equal(seconds.length, 1, 'one latency sample per announced offset')
  doorbell.ring('r', 2, false)
  doorbell.ring('r', 3, false)
  doorbell.ring('r', 4, false)
  doorbell.delivered({ node: 'store', room: 'r', offset: 2, message: {} as any })
  t.equal(seconds.length, 1, 'past its bound the doorbell forgot older announcements')
  doorbell.delivered({ node: 'store', room: 'r', offset: 4, message: {} as any })
  t.equal(seconds.length, 2)
})

const silent = { debug () {}, info () {}, warn () {}, error () {} }

t.test('a doorbell that rings while a read is in flight gets one more read: that read\'s snapshot may predate the commit', async (t) => {
  const stored: PositionedMessage[] = []
  let release = (): void => {}
  let reads = 0
  const store = {
    latest: async () => null,
    readAfter: async (_room: string, after: number) => {
      reads++
      const snapshot = stored.filter((m) => m.offset > after)
      await new Promise<void>((resolve) => { release = resolve })
      return { epoch: 'e', messages: snapshot }
    }
  } as unknown as MessageStore
  const delivered: number[] = []
  const streams = new RoomStreams({ store, logger: silent, members: () => [], deliver: (envelope) => { delivered.push(envelope.offset as number) }, send: () => true, outbound () {}, repaired () {}, interrupted () {} }, { checkInterval: 0 })
  t.teardown(() => { streams.stop() })
  t.notOk(streams.ring('r', 1), 'a room with no local member rings nothing')
  streams.open('r')
  await delay(10)
  streams.resync()
  await delay(10)
  stored.push({ offset: 1, message: { id: 'm1', kind: 'event', type: 'x', room: 'r', ts: new Date().toISOString(), payload: {} } })
  t.ok(streams.ring('r', 1), 'committed while the read was in flight')
  release()
  await delay(10)
  t.same(delivered, [], 'the first read saw nothing')
  release()
  await delay(10)
  t.same(delivered, [1], 'the read after it delivered the message')
  t.equal(reads, 2)
  t.notOk(streams.ring('r', 1), 'a delivered offset rings nothing')
})

t.test('SQLite: transaction((db) => ...) stores the app\'s rows and the message together; delivered after commit; a rollback leaves no trace', async (t) => {
  const app = await build(t, { docs: false, metrics: {}, store: { path: join(t.testdir(), 'm.db') } })
  const member = await connect(app)
  t.teardown(() => { member.close() })
  await member.join('r')
  const first = app.realtime.transaction((db: Database.Database) => {
    db.exec('CREATE TABLE IF NOT EXISTS topics (room TEXT PRIMARY KEY, text TEXT NOT NULL)')
    db.prepare('INSERT INTO topics (room, text) VALUES (?, ?) ON CONFLICT (room) DO UPDATE SET text = excluded.text').run('r', 'hello')
    const message = app.realtime.publishIn(db, { room: 'r', type: 'topic', payload: { text: 'hello' } })
    app.realtime.publishIn(db, { room: 'other', type: 'topic.none' })
    t.equal(events(member, 'r').length, 0, 'nothing delivered before the commit')
    return message
  })
  t.match(first, { room: 'r', type: 'topic', kind: 'event', pos: /.+/ }, 'publishIn answers the stored message with its position')
  const delivered = await member.waitFor((f) => f.kind === 'event' && f.type === 'topic')
  t.same((await app.inject({ url: '/ws/history?room=other' })).json().messages.map((m: any) => m.payload), [{}], 'no payload is an empty one, as publish()')
  t.equal(delivered.id, first.id)
  t.throws(() => app.realtime.transaction((db: Database.Database) => {
    db.prepare('UPDATE topics SET text = ? WHERE room = ?').run('rolled back', 'r')
    app.realtime.publishIn(db, { room: 'r', type: 'topic', id: 'never', payload: { text: 'rolled back' } })
    throw new Error('changed my mind')
  }), { message: 'changed my mind' })
  t.throws(() => app.realtime.transaction((db: Database.Database) => app.realtime.publishIn(db, { room: 'r', type: 'topic', payload: 'not an object' as any })), { code: 'VIX_ERR_INVALID_MESSAGE' }, 'a bad envelope throws inside, so the transaction rolls back')
  t.throws(() => app.realtime.transaction((db: Database.Database) => app.realtime.publishIn(db, { type: 'topic', payload: {} })), { code: 'VIX_ERR_INVALID_MESSAGE', path: '/room' }, 'only a stored room message can be published in a transaction')
  t.throws(() => app.realtime.transaction((db: Database.Database) => app.realtime.transaction((inner: Database.Database) => inner)), { code: 'VIX_ERR_INVALID_OPTION' }, 'no nesting')
  t.throws(() => app.realtime.publishIn(new Database(':memory:'), { room: 'r', type: 'topic', payload: {} }), { code: 'VIX_ERR_INVALID_OPTION' }, 'publishIn(db) outside transaction() is refused')
  await delay(100)
  t.same(events(member, 'r').map((f) => f.id), [first.id], 'the rolled-back message was never delivered')
  const history = (await app.inject({ url: '/ws/history?room=r' })).json()
  t.same(history.messages.map((m: { id: string }) => m.id), [first.id], 'nor stored')
  const text = app.realtime.transaction((db: Database.Database) => (db.prepare('SELECT text FROM topics WHERE room = ?').get('r') as { text: string }).text)
  t.equal(text, 'hello', 'and the app\'s own row rolled back with it')
  t.equal((await scrapeMetrics(app)).histogram('vix_transaction_delivery_seconds').count, 1, 'the delivery after the commit is observed')
})

t.test('without a store of its own kind, publishIn and transaction are refused with a coded error', async (t) => {
  for (const options of [{ docs: false as const }, { docs: false as const, store: { store: new MemoryMessageStore() } }]) {
    const app = await build(t, options)
    t.throws(() => app.realtime.transaction((db: Database.Database) => db), { code: 'VIX_ERR_INVALID_OPTION' })
    t.throws(() => app.realtime.publishIn(new Database(':memory:'), { room: 'r', type: 'x', payload: {} }), { code: 'VIX_ERR_INVALID_OPTION' })
  }
})

t.test('PostgreSQL: publishIn on the app\'s own client inside BEGIN; rollback leaves no trace; commit reaches members on another node by NOTIFY; 100 KB works', async (t) => {
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return
  t.teardown(() => dropRunSchemas())
  const schema = schemaFor(t.fullname)
  const store = { postgres: postgresUrl, schema, listen: true, hold: { checkInterval: 0 } }
  const a = await build(t, { docs: false, metrics: {}, store })
  const b = await build(t, { docs: false, metrics: {}, store: { ...store, listen: postgresUrl } })
  const member = await connect(b)
  t.teardown(() => { member.close() })
  await member.join('r')
  const app = new pg.Client({ connectionString: postgresUrl })
  await app.connect()
  t.teardown(() => app.end())
  await app.query(`CREATE TABLE "${schema}".orders (id TEXT PRIMARY KEY)`)

  await t.rejects(a.realtime.publishIn(app, { room: 'r', type: 'order', payload: {} }), { code: 'VIX_ERR_INVALID_OPTION', message: /BEGIN first/ }, 'outside a transaction it is refused')
  await t.rejects(a.realtime.publishIn({} as unknown as pg.Client, { room: 'r', type: 'order', payload: {} }), { code: 'VIX_ERR_INVALID_OPTION' }, 'something else than a client is refused')

  await app.query('BEGIN')
  await app.query(`INSERT INTO "${schema}".orders VALUES ('o-1')`)
  await t.rejects(a.realtime.publishIn(app, { room: 'r', type: 'order', payload: [] as any }), { code: 'VIX_ERR_INVALID_MESSAGE' }, 'a bad envelope throws before anything is written')
  await t.rejects(a.realtime.publishIn(app, { room: 'r', type: 'order', from: 'me' as any, payload: {} }), { code: 'VIX_ERR_INVALID_MESSAGE', path: '/from' }, 'a bad from too')
  const rolled = await a.realtime.publishIn(app, { room: 'r', type: 'order', id: 'rolled', payload: { id: 'o-1' } })
  t.match(rolled.pos, /.+/)
  await app.query('ROLLBACK')

  // A client that cannot tell whether it is in a transaction (no getTransactionStatus): publishIn runs under a savepoint.
  const plain = { query: async (text: string, values?: unknown[]) => await app.query(text, values) }
  await t.rejects(a.realtime.publishIn(plain, { room: 'r', type: 'order', payload: {} }), { code: 'VIX_ERR_INVALID_OPTION', message: /BEGIN first/ }, 'outside a transaction it is refused too')
  const refusing = { query: async (text: string) => text.startsWith('SAVEPOINT') ? await Promise.reject(Object.assign(new Error('no'), { code: '08006' })) : undefined }
  await t.rejects(a.realtime.publishIn(refusing, { room: 'r', type: 'order', payload: {} }), { message: 'no' }, 'any other failure of the savepoint is the caller\'s')
  await app.query('BEGIN')
  const failing = { query: async (text: string, values?: unknown[]) => text.includes('vix_append(') ? await Promise.reject(new Error('insert failed')) : await app.query(text, values) }
  await t.rejects(a.realtime.publishIn(failing, { room: 'r', type: 'order', id: 'failed', payload: {} }), { message: 'insert failed' })
  await app.query(`INSERT INTO "${schema}".orders VALUES ('o-0')`)
  const saved = await a.realtime.publishIn(plain, { room: 'r', type: 'order', id: 'o-0', payload: {} })
  t.match(saved.pos, /.+/, 'after a failed publishIn the savepoint kept the app\'s transaction usable')
  await app.query('ROLLBACK')

  await app.query('BEGIN')
  await app.query(`INSERT INTO "${schema}".orders VALUES ('o-2')`)
  const big = 'x'.repeat(100 * 1024)
  const small = await a.realtime.publishIn(app, { room: 'r', type: 'order', id: 'o-2', payload: { id: 'o-2' } })
  const large = await a.realtime.publishIn(app, { room: 'r', type: 'order', id: 'big', payload: { big } })
  const again = await a.realtime.publishIn(app, { room: 'r', type: 'order', id: 'o-2', payload: { id: 'o-2' } })
  t.equal(again.pos, small.pos, 'the same id again in the room is the stored one (idempotent, as publish())')
  await delay(100)
  t.equal(events(member, 'r').length, 0, 'nothing is delivered before COMMIT')
  await app.query('COMMIT')

  const got = await member.waitForCount((f) => f.kind === 'event' && f.room === 'r', 2, 10_000)
  t.same(got.map((f) => f.id), ['o-2', 'big'], 'delivered once each, in offset order, on the other node')
  t.equal(got[1].payload.big.length, big.length, 'the 100 KB payload arrived whole (NOTIFY carried only its position)')
  t.equal(got[0].pos, small.pos)
  t.equal(got[1].pos, large.pos)
  await delay(200)
  t.equal(events(member, 'r').length, 2, 'nothing twice')
  const history = (await b.inject({ url: '/ws/history?room=r' })).json()
  t.same(history.messages.map((m: { id: string }) => m.id), ['o-2', 'big'], 'the rolled-back message is in no history')
  const metrics = await scrapeMetrics(b)
  t.ok(metrics.value('vix_transaction_notifications_total') >= 2, 'notifications counted')
  t.equal(metrics.histogram('vix_transaction_delivery_seconds').count, 2, 'each delivery observed')
})

t.test('PostgreSQL: transaction(async (client) => ...) on the store\'s pool commits, delivers at once on this node, and rolls back on a throw', async (t) => {
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return
  t.teardown(() => dropRunSchemas())
  const schema = schemaFor(t.fullname)
  const app = await build(t, { docs: false, store: { postgres: postgresUrl, schema, hold: { checkInterval: 0 } } })
  const member = await connect(app)
  t.teardown(() => { member.close() })
  await member.join('r')
  const answer = await app.realtime.transaction(async (client) => {
    await client.query(`CREATE TABLE "${schema}".pins (room TEXT, id TEXT)`)
    await client.query(`INSERT INTO "${schema}".pins VALUES ('r', 'p-1')`)
    return (await app.realtime.publishIn(client, { room: 'r', type: 'pin', id: 'p-1', payload: {} })).id
  })
  t.equal(answer, 'p-1', 'transaction answers what run returned')
  await member.waitFor((f) => f.kind === 'event' && f.id === 'p-1', 5000)
  await t.rejects(app.realtime.transaction(async (client) => {
    await client.query(`INSERT INTO "${schema}".pins VALUES ('r', 'p-2')`)
    await app.realtime.publishIn(client, { room: 'r', type: 'pin', id: 'p-2', payload: {} })
    throw new Error('no')
  }), { message: 'no' })
  const pins = await app.realtime.transaction(async (client) => (await client.query(`SELECT id FROM "${schema}".pins`)).rows.map((row: { id: string }) => row.id))
  t.same(pins, ['p-1'], 'the app\'s row rolled back')
  await delay(200)
  t.same(events(member, 'r').map((f) => f.id), ['p-1'], 'and its message was never delivered')
})

t.test('the listen option is checked at boot', async (t) => {
  await t.rejects(build(t, { docs: false, store: { path: join(t.testdir(), 'm.db'), listen: 'redis://x' as any } }), { code: 'VIX_ERR_INVALID_OPTION', message: /listen/ })
  await t.rejects(build(t, { docs: false, store: { path: join(t.testdir(), 'm.db'), listen: true } }), { code: 'VIX_ERR_INVALID_OPTION', message: /listen.*PostgreSQL/ })
})

t.test('PostgreSQL: transaction() with the database unreachable rejects VIX_ERR_STORE_UNAVAILABLE', async (t) => {
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return
  t.teardown(() => dropRunSchemas())
  const proxy = await TcpProxy.start(Number(new URL(postgresUrl).port || 5432))
  t.teardown(() => proxy.close())
  const url = new URL(postgresUrl)
  url.host = `127.0.0.1:${proxy.port}`
  const app = await build(t, { docs: false, store: { postgres: url.toString(), schema: schemaFor(t.fullname) } })
  t.equal(await app.realtime.transaction(async () => 1), 1)
  proxy.cut()
  await t.rejects(app.realtime.transaction(async () => 2), { code: 'VIX_ERR_STORE_UNAVAILABLE' }, 'on the pooled connection that broke')
  await t.rejects(app.realtime.transaction(async () => 3), { code: 'VIX_ERR_STORE_UNAVAILABLE' }, 'and when no new connection can be made')
  proxy.restore()
  t.equal(await app.realtime.transaction(async () => 4), 4, 'back once PostgreSQL is')
})

t.test('a LISTEN connection closed while it is still connecting leaves nothing open', async (t) => {
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return
  let listening = 0
  const listener = new PgNotifyListener({ notified () {}, listening: () => { listening++ }, logger: silent }, { connection: { connectionString: postgresUrl }, channel: 'vix_unused' })
  listener.start()
  await listener.close()
  await listener.close()
  t.equal(listening, 0, 'it never reported listening')
})
