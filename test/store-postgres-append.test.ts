import t, { type Test } from 'tap'
import pg from 'pg'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { notifyChannel } from '../lib/store/pg-notify.js'
import type { AppendResult, StorableMessage } from '../lib/store/types.js'
import { dropRunSchemas, postgresAvailable, postgresUrl, schemaFor } from './helpers/postgres.js'
import { requireService } from './helpers/services.js'

// The schema's append function (`vix_append`, schema version 4): a batch in one round trip, with every guarantee of the statements it replaced.

function msg (room: string, id: string, text = id): StorableMessage {
  return { id, kind: 'event', room, type: 'chat.message', ts: '2026-01-01T10:00:00.000Z', payload: { text } }
}

/** A fixed pseudo-random sequence, so a failing interleaving can be replayed. */
function lcg (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state / 2 ** 31
  }
}

async function stores (t: Test, count: number): Promise<PostgresMessageStore[] | null> {
  const up = await postgresAvailable()
  if (!requireService(t, 'postgresql', up.ok, up.reason)) return null
  t.teardown(() => dropRunSchemas())
  const schema = schemaFor(t.fullname)
  return Array.from({ length: count }, () => {
    const store = new PostgresMessageStore({ connectionString: postgresUrl, schema, maxConnections: 3 })
    t.teardown(() => store.close())
    return store
  })
}

async function connect (t: Test): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  t.teardown(() => client.end())
  return client
}

t.test('a batch is one statement: offsets per room, duplicates of stored rows and of earlier entries answer the original', async (t) => {
  const opened = await stores(t, 1)
  if (opened === null) return
  const [store] = opened
  await store.append(msg('b', 'old', 'stored first'), 'id:ada')
  const client = await connect(t)
  const statements: string[] = []
  const counting = new Proxy(client, {
    get: (target, key) => key === 'query' ? (...args: Parameters<pg.Client['query']>) => { statements.push(String(args[0])); return (target.query as (...a: unknown[]) => unknown)(...args) } : Reflect.get(target, key)
  })
  const results = await store.storeIn(counting, [
    { message: msg('b', 'x'), sender: 'id:ada' },
    { message: msg('a', 'x'), sender: 'id:ada' },
    { message: msg('b', 'old', 'retried'), sender: 'id:ada' },
    { message: msg('b', 'x', 'again in the batch'), sender: 'id:ada' },
    { message: msg('b', 'x'), sender: 'id:bob' },
    { message: msg('a', 'y'), sender: 'id:ada' }
  ])
  t.equal(statements.length, 1, 'one round trip, autocommit')
  t.same(results.map((r) => [r.message.room, r.position.offset, r.duplicate]), [['b', 2, false], ['a', 1, false], ['b', 1, true], ['b', 2, true], ['b', 3, false], ['a', 2, false]])
  t.same(results[2].message.payload, { text: 'stored first' }, 'a duplicate of a stored row answers the stored message')
  t.same(results[3].message.payload, { text: 'x' }, 'a duplicate of an earlier entry answers that entry')
  t.equal(results[0].position.epoch, results[2].position.epoch, 'one epoch per room')
  t.not(results[0].position.epoch, results[1].position.epoch, 'a new room gets an epoch of its own')
  t.same((await store.readAfter('b', 0, 10)).messages.map((e) => [e.offset, e.message.id, e.message.payload]), [[1, 'old', { text: 'stored first' }], [2, 'x', { text: 'x' }], [3, 'x', { text: 'x' }]], 'committed: each stored once')
})

t.test('two stores on one schema: each one dedupes what the other stored, and continues its counter', async (t) => {
  const opened = await stores(t, 2)
  if (opened === null) return
  const [a, b] = opened
  const first = await a.append({ ...msg('general', 'm1', 'original'), from: { name: 'Ada' } }, 'id:ada')
  const again = await b.append(msg('general', 'm1', 'retry'), 'id:ada')
  t.same([again.duplicate, again.position, again.message], [true, first.position, { ...msg('general', 'm1', 'original'), from: { name: 'Ada' } }], 'the other store\'s row, its offset and from')
  const next = await b.append(msg('general', 'm2'), 'id:ada')
  t.same([next.duplicate, next.position], [false, { offset: 2, epoch: first.position.epoch }])
  const both = await Promise.all([a.append(msg('general', 'm3'), 'id:ada'), b.append(msg('general', 'm3'), 'id:ada')])
  t.same(both.map((r) => r.duplicate).sort(), [false, true], 'one id through both stores at once: stored once')
  t.same(both.map((r) => r.position.offset), [3, 3])
})

t.test('four stores appending at once into overlapping rooms: no deadlock, offsets dense per room, each store\'s appends in call order, one history', async (t) => {
  const opened = await stores(t, 4)
  if (opened === null) return
  const rooms = ['r0', 'r1', 'r2', 'r3', 'r4']
  const random = lcg(25)
  const calls: Array<{ store: number, message: StorableMessage, sender: string }> = []
  for (let i = 0; i < 600; i++) {
    const store = Math.floor(random() * 4)
    // Some ids repeat across stores (the same sender retrying through another node).
    const id = random() < 0.1 && i > 10 ? calls[i - 1 - Math.floor(random() * 10)].message.id : `m${i}`
    calls.push({ store, message: msg(rooms[Math.floor(random() * rooms.length)], id), sender: 'id:ada' })
  }
  const results: AppendResult[] = new Array(calls.length)
  // Each store gets its calls in bursts of varying size, so batches of different room sets commit concurrently.
  await Promise.all([0, 1, 2, 3].map(async (s) => {
    const own = calls.map((call, i) => ({ ...call, i })).filter((call) => call.store === s)
    while (own.length > 0) {
      const burst = own.splice(0, 1 + Math.floor(random() * 40))
      const done = await Promise.all(burst.map((call) => opened[s].append(call.message, call.sender)))
      burst.forEach((call, k) => { results[call.i] = done[k] })
    }
  }))
  for (const room of rooms) {
    const history = (await opened[0].readAfter(room, 0, 1000)).messages
    const ids = new Set(calls.filter((c) => c.message.room === room).map((c) => c.message.id))
    t.same(history.map((e) => e.offset), Array.from({ length: history.length }, (_, i) => i + 1), `${room}: offsets 1..n, no gap`)
    t.same(history.map((e) => e.message.id).sort(), [...ids].sort(), `${room}: every id stored exactly once`)
    const answered = calls.map((c, i) => ({ c, r: results[i] })).filter(({ c }) => c.message.room === room)
    t.same(answered.map(({ r }) => history[r.position.offset - 1]?.message.id), answered.map(({ c }) => c.message.id), `${room}: each call answered the offset its id holds`)
    for (let s = 0; s < 4; s++) {
      const own = calls.map((c, i) => ({ c, r: results[i] })).filter(({ c, r }) => c.store === s && c.message.room === room && !r.duplicate).map(({ r }) => r.position.offset)
      t.same(own, [...own].sort((x, y) => x - y), `${room}: store ${s}'s new messages in its call order`)
    }
    const other = (await opened[3].readAfter(room, 0, 1000)).messages
    t.same(other.map((e) => e.message.id), history.map((e) => e.message.id), `${room}: the same history through another store`)
  }
})

t.test('with a channel, the doorbell of each advanced room rings once the transaction commits; a rollback leaves no row and rings nothing', async (t) => {
  const opened = await stores(t, 1)
  if (opened === null) return
  const [store] = opened
  await store.append(msg('quiet', 'q1'), 'id:ada')
  const channel = notifyChannel(store.schema)
  const listener = await connect(t)
  const heard: string[] = []
  listener.on('notification', (n) => { if (n.channel === channel) heard.push(n.payload as string) })
  await listener.query(`LISTEN "${channel}"`)
  const client = await connect(t)

  await client.query('BEGIN')
  await store.storeIn(client, [{ message: msg('gone', 'g1'), sender: 'id:ada' }], channel)
  await client.query('ROLLBACK')
  await client.query('BEGIN')
  const results = await store.storeIn(client, [
    { message: msg('loud', 'l1'), sender: 'id:ada' }, { message: msg('quiet', 'q1'), sender: 'id:ada' }, { message: msg('loud', 'l2'), sender: 'id:ada' }
  ], channel)
  await listener.query('SELECT 1')
  t.same(heard, [], 'nothing before the commit')
  await client.query('COMMIT')
  await listener.query('SELECT 1')
  t.same(results.map((r) => r.duplicate), [false, true, false])
  t.same(heard, ['2 loud'], 'the advanced room, with its last offset; not the room whose entry was a duplicate, nor the rolled-back one')
  t.equal(await store.latest('gone'), null, 'the rolled-back append left no row')
  const next = await store.append(msg('gone', 'g2'), 'id:ada')
  t.equal(next.position.offset, 1, 'and no offset')
})

t.test('a batch aborted by a deadlock (40P01) runs again and commits', async (t) => {
  const opened = await stores(t, 1)
  if (opened === null) return
  const [store] = opened
  await Promise.all([store.append(msg('a', 'a1'), 'id:ada'), store.append(msg('b', 'b1'), 'id:ada')])
  const other = await connect(t)
  const rooms = `"${store.schema}".vix_rooms`
  const deadlocks = async (): Promise<number> => Number((await other.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks)
  const before = await deadlocks()
  // Another transaction holds room b, then asks for room a while the batch holds a and waits for b. Its own deadlock check
  // comes late, so PostgreSQL aborts the batch's transaction.
  await other.query('BEGIN')
  await other.query("SET LOCAL deadlock_timeout = '20s'")
  await other.query(`UPDATE ${rooms} SET last_offset = last_offset WHERE room = 'b'`)
  const batch = Promise.all([store.append(msg('a', 'a2'), 'id:ada'), store.append(msg('b', 'b2'), 'id:ada')])
  const waiting = async (): Promise<boolean> => (await other.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position($1 IN query) > 0", [`"${store.schema}".vix_append(`])).rowCount === 1
  for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  await other.query(`UPDATE ${rooms} SET last_offset = last_offset WHERE room = 'a'`)
  await other.query('COMMIT')
  const results = await batch
  t.same(results.map((r) => [r.message.id, r.position.offset, r.duplicate]), [['a2', 2, false], ['b2', 2, false]], 'the batch committed on its next attempt')
  let after = before
  for (let i = 0; i < 100 && after === before; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    after = await deadlocks()
  }
  t.ok(after > before, 'PostgreSQL did report a deadlock')
})

t.test('under a cached (generic) plan a batch reads no stored row: nothing planned on a near-empty table scans it later', async (t) => {
  // PL/pgSQL caches a generic plan after a connection's fifth call, planned for the tables as they were then:
  // a lookup of stored ids planned as a hash join scanned every stored row on each batch as the table grew
  // (2 ms per 50-row batch at 10,000 rows, 13 ms at 80,000), and one planned through the (room, offset) key
  // read the whole room. Forcing the generic plan on an empty table shows what such a plan does.
  const opened = await stores(t, 1)
  if (opened === null) return
  const [store] = opened
  await store.ready()
  const client = await connect(t)
  await client.query("SET plan_cache_mode = force_generic_plan; LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET client_min_messages = log")
  const plans: string[] = []
  client.on('notice', (notice) => { plans.push(notice.message ?? '') })
  await client.query(`LISTEN "${notifyChannel(store.schema)}"`)
  const rung = new Promise<string | undefined>((resolve) => { client.once('notification', (n) => { resolve(n.payload) }) })
  const results = await store.storeIn(client, [{ message: msg('r', 'a'), sender: 'id:ada' }, { message: msg('r', 'b'), sender: 'id:ada' }], notifyChannel(store.schema))
  t.same(results.map((r) => r.position.offset), [1, 2], 'stored under the generic plan')
  t.equal(await rung, '2 r', 'the doorbell rang with the room\'s last offset')
  const insert = plans.find((plan) => plan.includes('Insert on vix_messages'))
  const doorbell = plans.find((plan) => plan.includes('pg_notify'))
  if (insert === undefined || doorbell === undefined) return t.fail(`the statements were not explained: ${plans.length} plans`)
  t.match(insert, /Conflict Arbiter Indexes: vix_messages_room_id_sender_key/, 'stored ids are found by the insert\'s conflict arbiter, the (room, id, sender) index')
  t.notOk(plans.some((plan) => /Scan using vix_messages_pkey|Seq Scan on vix_messages/.test(plan)), 'no statement reads stored messages')
  t.notOk(plans.some((plan) => plan.includes('stored AS')), 'the lookup of stored rows did not run: nothing of the batch was stored')
  t.notOk(plans.some((plan) => /Seq Scan on vix_rooms/.test(plan)), 'no statement reads every room (the counters are locked and advanced through their key)')
  t.notMatch(doorbell, /on vix_rooms/, 'the doorbell rings from the counters as advanced, reading no table')
})

t.test('a room held by an open transaction holds back only its own appends: another room\'s batch commits beside the waiting one', async (t) => {
  const opened = await stores(t, 1)
  if (opened === null) return
  const [store] = opened
  await store.append(msg('a', 'a1'), 'id:ada')
  const holder = await connect(t)
  const other = await connect(t)
  // An application's transaction published into room a and is still open: a's counter stays locked until it ends.
  await holder.query('BEGIN')
  await store.storeIn(holder, [{ message: msg('a', 'in-tx'), sender: 'id:app' }])
  const settledA: string[] = []
  const appendA = store.append(msg('a', 'a2'), 'id:ada').then((r) => { settledA.push(r.message.id); return r })
  const waiting = async (): Promise<boolean> => (await other.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position($1 IN query) > 0", [`"${store.schema}".vix_append(`])).rowCount === 1
  for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.ok(await waiting(), 'room a\'s batch is in flight, waiting for the open transaction')
  let timer: ReturnType<typeof setTimeout> | undefined
  const appendB = await Promise.race([
    store.append(msg('b', 'b1'), 'id:ada'),
    new Promise<null>((resolve) => { timer = setTimeout(() => { resolve(null) }, 5000) })
  ])
  clearTimeout(timer)
  t.ok(appendB !== null, 'room b committed while room a\'s batch waited')
  t.same(appendB === null ? null : [appendB.message.id, appendB.position.offset], ['b1', 1])
  t.same(settledA, [], 'room a\'s append still waits')
  const next = store.append(msg('a', 'a3'), 'id:ada')
  await holder.query('COMMIT')
  const [a2, a3] = await Promise.all([appendA, next])
  t.same([a2.position.offset, a3.position.offset], [3, 4], 'room a goes on after the transaction, in call order, after its message')
  t.same((await store.listByRoom('a', { limit: 10 })).messages.map(({ message: m }) => m.id), ['a1', 'in-tx', 'a2', 'a3'])
})

t.test('maxInFlight is an integer of 1 or more: anything else is refused when the store is made, not a store that never commits', async (t) => {
  for (const maxInFlight of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => new PostgresMessageStore({ connectionString: postgresUrl, maxInFlight }), { code: 'VIX_ERR_INVALID_OPTION', message: /maxInFlight/ }, String(maxInFlight))
  }
  const store = new PostgresMessageStore({ connectionString: postgresUrl, maxInFlight: 1 })
  await store.close()
})
