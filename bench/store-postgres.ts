/**
 * PostgreSQL store appends (run: npx tsx bench/store-postgres.ts [appends] [rounds]):
 * `PostgresMessageStore.append` with 64 appends in flight (each resolved append
 * is replaced by the next, round-robin over the rooms), over 1 room and over 8
 * rooms, with one batch in flight per store (`maxInFlight: 1`, the build before
 * it) against batches of rooms no other holds committing side by side
 * (`maxInFlight: 4`, the default). Reports appends/s, append latency p50/p99
 * and transactions (batches) per second; rounds alternate the variants, each
 * on a fresh schema, and medians are reported. The load generator (this
 * process) is pinned to core 1 when `taskset` exists; PostgreSQL is not pinned
 * (it is the shared one: nothing is reconfigured).
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import os from 'node:os'
import pg from 'pg'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { percentile, pinSelf } from './lib-load.js'

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const appends = Number(process.argv[2] ?? 20_000)
const rounds = Number(process.argv[3] ?? 5)
const inFlight = 64
const payload = { text: 'x'.repeat(64) }

if (os.cpus().length >= 2) pinSelf(1)

interface Result { rate: number, p50: number, p99: number, commitsPerSecond: number }

async function run (rooms: number, maxInFlight: number, round: number): Promise<Result> {
  const schema = `vix_bench_store_${process.pid}_${round}_${rooms}_${maxInFlight}`
  const store = new PostgresMessageStore({ connectionString: databaseUrl, schema, maxInFlight })
  await store.ready()
  const latencies = new Float64Array(appends)
  let sent = 0
  const started = performance.now()
  await new Promise<void>((resolve, reject) => {
    let done = 0
    const next = (): void => {
      if (sent >= appends) return
      const i = sent++
      const at = performance.now()
      store.append({ id: `m-${i}`, kind: 'event', room: `room-${i % rooms}`, type: 'chat.message', ts: new Date().toISOString(), payload }, 'id:bench').then(() => {
        latencies[done] = performance.now() - at
        if (++done === appends) resolve()
        else next()
      }, reject)
    }
    for (let i = 0; i < inFlight; i++) next()
  })
  const seconds = (performance.now() - started) / 1000
  const commits = store.commits
  await store.close()
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  await admin.query(`DROP SCHEMA "${schema}" CASCADE`)
  await admin.end()
  latencies.sort()
  return { rate: appends / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), commitsPerSecond: commits / seconds }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const variants = [1, 8].flatMap((rooms) => [1, 4].map((maxInFlight) => ({ rooms, maxInFlight })))
const results = new Map<string, Result[]>()
const load = (): string => os.loadavg().map((l) => l.toFixed(1)).join(' ')
const loadAtStart = load()
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? variants : [...variants].reverse()
  for (const v of order) {
    const key = `${v.rooms} ${v.maxInFlight}`
    results.set(key, [...(results.get(key) ?? []), await run(v.rooms, v.maxInFlight, round)])
  }
  console.error(`round ${round + 1}/${rounds} done`)
}

console.log(`\nPostgreSQL store appends: ${appends} per run, ${inFlight} in flight, median of ${rounds} rounds; load average ${loadAtStart} at the start, ${load()} at the end`)
console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}\n`)
console.log('| rooms | batches in flight (`maxInFlight`) | appends/s | vs one in flight | append p50 ms | append p99 ms | transactions/s |')
console.log('|---:|---:|---:|---:|---:|---:|---:|')
for (const v of variants) {
  const rs = results.get(`${v.rooms} ${v.maxInFlight}`) as Result[]
  const base = median((results.get(`${v.rooms} 1`) as Result[]).map((r) => r.rate))
  const rate = median(rs.map((r) => r.rate))
  console.log(`| ${v.rooms} | ${v.maxInFlight} | ${Math.round(rate).toLocaleString('en')} | ${(rate / base).toFixed(2)}x | ${median(rs.map((r) => r.p50)).toFixed(2)} | ${median(rs.map((r) => r.p99)).toFixed(2)} | ${Math.round(median(rs.map((r) => r.commitsPerSecond))).toLocaleString('en')} |`)
}
