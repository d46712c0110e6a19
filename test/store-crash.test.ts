import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import { bundleForChild } from './helpers/child.js'
import { delay } from './helpers/wait.js'

const ROUNDS = 10
const publisher = fileURLToPath(new URL('./fixtures/crash-publisher.ts', import.meta.url))

interface Child { process: ChildProcess, firstAck: Promise<void>, exited: Promise<NodeJS.Signals | null> }

/** Bundle the publisher to plain JS once: a child then starts in a fraction of tsx's time. */
function startPublisher (script: string, dbPath: string, ackLog: string, round: number): Child {
  const child = spawn(process.execPath, [script, dbPath, ackLog, String(round)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const firstAck = new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => { resolve() })
    child.once('exit', (code) => { reject(new Error(`publisher exited with ${code} before its first ack`)) })
  })
  firstAck.catch(() => {})
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => { resolve(signal) }))
  return { process: child, firstAck, exited }
}

t.test(`SIGKILL at random moments (${ROUNDS} rounds): every acked message is stored exactly once and the file is sound`, async (t) => {
  const dir = t.testdir()
  const dbPath = join(dir, 'crash.db')
  const ackLog = join(dir, 'acks.log')
  // Load every publisher up front; each waits for "go" before touching the database.
  // The test dir sits inside the project, so the bundle's external packages resolve from node_modules.
  const script = await bundleForChild(publisher, dir)
  const publishers = Array.from({ length: ROUNDS }, (_, i) => startPublisher(script, dbPath, ackLog, i + 1))
  t.teardown(() => { for (const child of publishers) child.process.kill('SIGKILL') })
  for (let round = 1; round <= ROUNDS; round++) {
    const current = publishers[round - 1]
    const started = Date.now()
    current.process.stdin?.write('go\n')
    await current.firstAck
    await delay(Math.floor(Math.random() * 250))
    current.process.kill('SIGKILL')
    t.equal(await current.exited, 'SIGKILL', `round ${round} was killed after ${Date.now() - started} ms`)
  }

  // A torn last line (killed mid-write) was never a complete ack record.
  const acks = readFileSync(ackLog, 'utf8').split('\n').filter((line) => /^\S+ \S+$/.test(line))
  const distinct = new Set(acks)
  t.ok(distinct.size > ROUNDS * 10, `a real amount of traffic was acked (${distinct.size} distinct, ${acks.length - distinct.size} repeated sends)`)
  t.ok(acks.length > distinct.size, 'some ids were sent again after a crash')

  const store = new SqliteMessageStore({ path: dbPath })
  t.equal(store.integrityCheck(), 'ok')
  await store.close()
  const db = new Database(dbPath, { readonly: true })
  t.teardown(() => db.close())
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'PRAGMA integrity_check')
  const countOf = db.prepare<[string, string], { n: number }>('SELECT count(*) AS n FROM messages WHERE room = ? AND id = ?')
  const missing: string[] = []
  const doubled: string[] = []
  for (const line of distinct) {
    const [room, id] = line.split(' ')
    const { n } = countOf.get(room, id) as { n: number }
    if (n === 0) missing.push(line)
    if (n > 1) doubled.push(line)
  }
  t.same(missing, [], 'every acked message is present')
  t.same(doubled, [], 'none is present twice')
  const dupRows = db.prepare('SELECT room, id, count(*) AS n FROM messages GROUP BY room, id HAVING n > 1').all()
  t.same(dupRows, [], 'no (room, id) stored twice at all')
})
