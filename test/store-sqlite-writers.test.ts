import t from 'tap'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import { bundleForChild } from './helpers/child.js'

const WRITERS = 3
const PER_WRITER = 600
const ROOMS = ['general', 'side']

/** What a writer process reports for each of its appends, in the order it called append. */
type Report = [room: string, id: string, offset: number, epoch: string, duplicate: boolean]

/**
 * A writer process: its own SqliteMessageStore (its own connection) on the
 * shared file. Bursts of appends without waiting for them, a pause between
 * bursts, so its group commits race the other writers' for the write lock. Some appends resend one of its earlier messages; some send an id
 * that every writer sends under one shared sender scope (as `server` code on several nodes would), so exactly one of them stores it;
 * the others go under the writer's own scope.
 */
const isCommon = (n: number): boolean => n % 50 === 0
const isResend = (n: number): boolean => n % 7 === 0 && n > 7 && !isCommon(n)

const writerSource = `
import { SqliteMessageStore } from './sqlite.bundle.mjs'
const isCommon = ${isCommon.toString()}
const isResend = ${isResend.toString()}
const [path, name, count] = process.argv.slice(2)
const store = new SqliteMessageStore({ path })
await new Promise((resolve) => process.stdin.once('data', resolve))
const appends = []
const sent = []
let n = 0
while (n < Number(count)) {
  for (let burst = 1 + (n % 5); burst > 0 && n < Number(count); burst--) {
    n++
    const message = isCommon(n) ? { room: 'general', id: 'common-' + n } : isResend(n) ? sent[sent.length - 7] : { room: n % 3 === 0 ? 'side' : 'general', id: name + '-' + n }
    sent.push(message)
    const sender = message.id.startsWith('common-') ? 'server' : 'id:' + name
    appends.push(store.append({ ...message, kind: 'event', type: 'chat.message', ts: new Date().toISOString(), payload: { name, n } }, sender)
      .then((r) => [r.message.room, r.message.id, r.position.offset, r.position.epoch, r.duplicate]))
  }
  // A millisecond between bursts spreads each writer over a few hundred ms, so all of them overlap.
  await new Promise((resolve) => setTimeout(resolve, 1))
}
const reports = await Promise.all(appends)
await store.close()
process.stdout.write(JSON.stringify(reports))
`

function runWriter (script: string, path: string, name: string): { go: () => void, reports: Promise<Report[]> } {
  const child = spawn(process.execPath, [script, path, name, String(PER_WRITER)], { stdio: ['pipe', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const reports = new Promise<Report[]>((resolve, reject) => {
    child.once('exit', (code) => { code === 0 ? resolve(JSON.parse(output) as Report[]) : reject(new Error(`writer ${name} exited with ${code}`)) })
  })
  return { go: () => { child.stdin.end('go\n') }, reports }
}

t.test(`${WRITERS} processes appending to one file while a reader repairs with readAfter: dense offsets in commit order, no gap, no duplicate`, async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'shared.db')
  await bundleForChild(fileURLToPath(new URL('../lib/store/sqlite.ts', import.meta.url)), dir)
  const script = join(dir, 'writer.mjs')
  writeFileSync(script, writerSource)
  // The reader creates the schema first: the writers start on an existing database, as nodes do.
  const reader = new SqliteMessageStore({ path })
  t.teardown(() => reader.close())

  const writers = Array.from({ length: WRITERS }, (_, i) => runWriter(script, path, `w${i}`))
  // Let every writer load and open its store before any of them writes.
  await new Promise((resolve) => setTimeout(resolve, 300))
  for (const writer of writers) writer.go()
  const state = { writersDone: false }
  const allReports = Promise.all(writers.map((w) => w.reports)).finally(() => { state.writersDone = true })
  allReports.catch(() => {})

  const read = new Map(ROOMS.map((room) => [room, [] as string[]]))
  const breaks: string[] = []
  const epochs = new Set<string>()
  let reads = 0
  // Read on until the writers are gone and nothing is left, so a lost message fails the test instead of hanging it.
  for (let idle = false; !(state.writersDone && idle);) {
    idle = true
    for (const room of ROOMS) {
      const seen = read.get(room) as string[]
      const batch = await reader.readAfter(room, seen.length, 1 + (reads++ % 20))
      if (batch.epoch !== null) epochs.add(batch.epoch)
      for (const entry of batch.messages) {
        if (entry.offset !== seen.length + 1) breaks.push(`${room}: ${entry.offset} after ${seen.length}`)
        seen.push(entry.message.id)
        idle = false
      }
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  const reports = await allReports

  t.same(breaks, [], 'the reader never saw a gap or a step back')
  t.equal(epochs.size, ROOMS.length, 'one epoch per room throughout')
  const stored = reports.flat().filter((r) => !r[4])
  for (const room of ROOMS) {
    const seen = read.get(room) as string[]
    const inRoom = stored.filter((r) => r[0] === room)
    t.same(inRoom.map((r) => r[2]).sort((a, b) => a - b), seen.map((_, i) => i + 1), `${room}: offsets 1..${seen.length}, each given once`)
    t.same(seen, [...inRoom].sort((a, b) => a[2] - b[2]).map((r) => r[1]), `${room}: the reader saw what the writers were told, at the same offsets`)
    t.equal(new Set(seen).size, seen.length, `${room}: no id stored twice`)
    const switches = seen.filter((id, i) => i > 0 && id.split('-')[0] !== seen[i - 1].split('-')[0]).length
    t.ok(switches > 10, `${room}: the writers really interleaved (${switches} changes of writer along the offsets)`)
  }
  for (const [i, own] of reports.entries()) {
    for (const room of ROOMS) {
      const offsets = own.filter((r) => r[0] === room && !r[4] && r[1].startsWith(`w${i}-`)).map((r) => r[2])
      t.same(offsets, [...offsets].sort((a, b) => a - b), `w${i} in ${room}: its appends in its call order`)
    }
  }
  const positionOf = new Map(stored.map((r) => [`${r[0]} ${r[1]}`, r[2]]))
  const numbers = Array.from({ length: PER_WRITER }, (_, i) => i + 1)
  const commonIds = numbers.filter(isCommon).length
  const duplicates = reports.flat().filter((r) => r[4])
  t.equal(duplicates.length, WRITERS * numbers.filter(isResend).length + (WRITERS - 1) * commonIds, 'every resend, and all but one send of each common id, came back as a duplicate')
  t.ok(duplicates.every((r) => positionOf.get(`${r[0]} ${r[1]}`) === r[2]), 'every duplicate answered with the stored offset')
  t.equal(stored.filter((r) => r[1].startsWith('common-')).length, commonIds, 'an id all writers sent is stored by exactly one of them')
})
