/**
 * Message store benchmark (run: npx tsx bench/store.ts). Two comparisons, each
 * against its reference in the same run, alternating rounds so machine noise
 * hits both sides alike; the median round of each side is reported.
 *
 * 1. Append throughput: SqliteMessageStore.append (real schema and indexes,
 *    group commit, room offsets, duplicate check, one promise per message)
 *    against raw better-sqlite3 inserting the same rows and offsets (counted in
 *    memory) into the same schema in transactions of 1000.
 * 2. Fan-out over real WebSockets on 127.0.0.1: publish to a room of
 *    connected clients, timed until every client got every message, with the
 *    SQLite store plugged in against the same app without it.
 * 3. The same fan-out to in-process sessions (no sockets): isolates the
 *    store's cost against pure in-memory dispatch, a worst case for the ratio.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import Fastify from 'fastify'
import WebSocket from 'ws'
import vixRealtime from '../plugins/index.js'
import { Hub } from '../lib/hub/hub.js'
import type { Transport } from '../lib/session.js'
import { StorePersistence } from '../lib/store/persistence.js'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import type { StorableMessage } from '../lib/store/types.js'

const APPEND_ROWS = 20_000
const BATCH = 1000
const FANOUT_MESSAGES = 3_000
const FANOUT_SESSIONS = 100
const FANOUT_WAVE = 100
const ROUNDS = 7
const WS_CLIENTS = 50
const WS_MESSAGES = 3_000

const dir = mkdtempSync(join(tmpdir(), 'vix-bench-store-'))
let fileNo = 0
const freshPath = (): string => join(dir, `bench-${fileNo++}.db`)

function rows (count: number, tag: string): StorableMessage[] {
  const ts = new Date().toISOString()
  return Array.from({ length: count }, (_, i) => ({
    id: `${tag}-${i}-7f3c2a9e-1b4d-4c8e-9a2f`,
    kind: 'event',
    room: `room-${i % 16}`,
    type: 'chat.message',
    ts,
    payload: { text: `message number ${i} with a realistic short chat line`, user: `user-${i % 50}` }
  }))
}

function rate (count: number, started: bigint): number {
  return count / (Number(process.hrtime.bigint() - started) / 1e9)
}

async function appendStore (messages: StorableMessage[]): Promise<number> {
  const store = new SqliteMessageStore({ path: freshPath() })
  const started = process.hrtime.bigint()
  for (let i = 0; i < messages.length; i += BATCH) {
    await Promise.all(messages.slice(i, i + BATCH).map((message) => store.append(message, 'server')))
  }
  const perSecond = rate(messages.length, started)
  await store.close()
  return perSecond
}

async function appendRaw (messages: StorableMessage[]): Promise<number> {
  // Same file layout: let the store create the schema, then write to it directly.
  const path = freshPath()
  await new SqliteMessageStore({ path }).close()
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  const insert = db.prepare('INSERT INTO messages (id, room, "offset", kind, type, ts, payload_json) VALUES (?, ?, ?, ?, ?, ?, ?)')
  const saveRoom = db.prepare('INSERT INTO rooms (room, epoch, last_offset) VALUES (?, ?, ?) ON CONFLICT (room) DO UPDATE SET last_offset = excluded.last_offset')
  // The only writer, so room offsets can be counted in memory: the least work that fills the schema correctly.
  const lastOffset = new Map<string, number>()
  const insertMany = db.transaction((batch: StorableMessage[]) => {
    for (const m of batch) {
      const offset = (lastOffset.get(m.room) ?? 0) + 1
      lastOffset.set(m.room, offset)
      insert.run(m.id, m.room, offset, m.kind, m.type, m.ts, JSON.stringify(m.payload))
    }
    for (const [room, last] of lastOffset) saveRoom.run(room, 'bench', last)
  })
  const started = process.hrtime.bigint()
  for (let i = 0; i < messages.length; i += BATCH) insertMany(messages.slice(i, i + BATCH))
  const perSecond = rate(messages.length, started)
  db.close()
  return perSecond
}

async function fanout (persisted: boolean, tag: string): Promise<number> {
  const hub = new Hub()
  const store = persisted ? new SqliteMessageStore({ path: freshPath() }) : undefined
  if (store !== undefined) hub.attachPersistence(new StorePersistence(hub.persistenceParts(), store))
  let bytes = 0
  const transport: Transport = { name: 'bench', send: (data) => { bytes += data.length }, bufferedAmount: () => 0, close () {}, terminate () {} }
  for (let i = 0; i < FANOUT_SESSIONS; i++) hub.join(hub.openSession(transport), 'bench')
  const started = process.hrtime.bigint()
  for (let i = 0; i < FANOUT_MESSAGES; i += FANOUT_WAVE) {
    const wave: Array<Promise<unknown>> = []
    for (let j = i; j < i + FANOUT_WAVE; j++) wave.push(hub.publish({ id: `${tag}-${j}`, room: 'bench', type: 'chat.message', payload: { text: `fan-out message ${j}` } }))
    await Promise.all(wave)
  }
  const perSecond = rate(FANOUT_MESSAGES * FANOUT_SESSIONS, started)
  await store?.close()
  if (bytes === 0) throw new Error('nothing was delivered')
  return perSecond
}

async function fanoutOverSockets (persisted: boolean, tag: string): Promise<number> {
  const app = Fastify()
  await app.register(vixRealtime, persisted ? { store: { path: freshPath() } } : {})
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const expected = WS_CLIENTS * WS_MESSAGES
  let received = 0
  let done!: () => void
  const allReceived = new Promise<void>((resolve) => { done = resolve })
  const clients: WebSocket[] = []
  for (let i = 0; i < WS_CLIENTS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
    await new Promise((resolve) => ws.once('open', resolve))
    ws.send(JSON.stringify({ type: 'room.join', payload: { room: 'bench' } }))
    await new Promise((resolve) => ws.once('message', resolve))
    ws.on('message', () => { if (++received === expected) done() })
    clients.push(ws)
  }
  const started = process.hrtime.bigint()
  for (let i = 0; i < WS_MESSAGES; i += FANOUT_WAVE) {
    const wave: Array<Promise<unknown>> = []
    for (let j = i; j < i + FANOUT_WAVE; j++) wave.push(app.realtime.publish({ id: `${tag}-${j}`, room: 'bench', type: 'chat.message', payload: { text: `fan-out message ${j}` } }))
    await Promise.all(wave)
  }
  await allReceived
  const perSecond = rate(expected, started)
  for (const ws of clients) ws.close()
  await app.close()
  return perSecond
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')

try {
  const raw: number[] = []
  const stored: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    raw.push(await appendRaw(rows(APPEND_ROWS, `raw${round}`)))
    stored.push(await appendStore(rows(APPEND_ROWS, `store${round}`)))
  }
  const socketsPlain: number[] = []
  const socketsPersisted: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    socketsPlain.push(await fanoutOverSockets(false, `wsplain${round}`))
    socketsPersisted.push(await fanoutOverSockets(true, `wspersisted${round}`))
  }
  const plain: number[] = []
  const persisted: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    plain.push(await fanout(false, `plain${round}`))
    persisted.push(await fanout(true, `persisted${round}`))
  }
  const appendRatio = median(stored) / median(raw)
  const fanoutRatio = median(persisted) / median(plain)
  const socketRatio = median(socketsPersisted) / median(socketsPlain)
  console.log(`\nNode ${process.version}, ${ROUNDS} alternating rounds, median of each; ${APPEND_ROWS} rows per append round (batches of ${BATCH}); WebSocket fan-out of ${WS_MESSAGES} messages to ${WS_CLIENTS} clients; in-process fan-out of ${FANOUT_MESSAGES} messages to ${FANOUT_SESSIONS} sessions; ${FANOUT_WAVE} publishes in flight.\n`)
  console.log('| benchmark | reference | result | ratio | target |')
  console.log('|---|---|---|---|---|')
  console.log(`| append (msg/s) | raw better-sqlite3, txn of ${BATCH}: ${fmt(median(raw))} | SqliteMessageStore: ${fmt(median(stored))} | ${appendRatio.toFixed(2)}x | >= 0.7x ${appendRatio >= 0.7 ? 'met' : 'MISSED'} |`)
  console.log(`| fan-out over WebSocket (deliveries/s) | no persistence: ${fmt(median(socketsPlain))} | with SQLite store: ${fmt(median(socketsPersisted))} | ${socketRatio.toFixed(2)}x | >= 0.9x ${socketRatio >= 0.9 ? 'met' : 'MISSED'} |`)
  console.log(`| fan-out in-process, no sockets (deliveries/s) | no persistence: ${fmt(median(plain))} | with SQLite store: ${fmt(median(persisted))} | ${fanoutRatio.toFixed(2)}x | >= 0.9x ${fanoutRatio >= 0.9 ? 'met' : 'MISSED'} |`)
  console.log(`\nall rounds: raw ${raw.map(fmt).join(', ')}; store ${stored.map(fmt).join(', ')}; ws plain ${socketsPlain.map(fmt).join(', ')}; ws persisted ${socketsPersisted.map(fmt).join(', ')}; in-process plain ${plain.map(fmt).join(', ')}; in-process persisted ${persisted.map(fmt).join(', ')}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
