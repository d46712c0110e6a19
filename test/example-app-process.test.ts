import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { connectUrl, type TestClient } from './helpers/ws-client.js'
import { bundleForChild } from './helpers/child.js'
import { waitFor } from './helpers/wait.js'

const serverFile = fileURLToPath(new URL('../example-app/server.ts', import.meta.url))
// The example app's shutdownTimeout (the default): a clean close must fit in it plus 1 s.
const SHUTDOWN_BOUND_MS = 10_000 + 1000

/** A port free right now: listen on :0, note it, close. */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

interface Child { process: ChildProcess, output: () => string, exited: Promise<{ code: number | null, signal: string | null, at: number }> }

function start (file: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  const exited = new Promise<{ code: number | null, signal: string | null, at: number }>((resolve) => {
    child.on('exit', (code, signal) => { resolve({ code, signal, at: Date.now() }) })
  })
  return { process: child, output: () => output, exited }
}

/**
 * Wait until the server answers a plain GET on /ws with 426 (it is listening
 * and routed). The deadline is generous for a loaded machine.
 */
async function waitListening (base: string, child: Child): Promise<void> {
  const message = (): string => `the example app did not start: ${child.output()}`
  await waitFor(async () => {
    try {
      if ((await fetch(`${base}/ws`)).status === 426) return true
    } catch {}
    if (child.process.exitCode !== null) throw new Error(message())
    return false
  }, { timeout: 90_000, interval: 100, message })
}

function walSize (dbPath: string): number {
  const wal = `${dbPath}-wal`
  return existsSync(wal) ? statSync(wal).size : 0
}

// Both children run at once.
t.jobs = 2

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} with connected clients: going_away, 1001, exit 0 in time, WAL checkpointed`, async (t) => {
    const port = await freePort()
    const dir = t.testdir()
    const dbPath = join(dir, 'data', 'messages.db')
    const child = start(await bundleForChild(serverFile, dir), [], { PORT: String(port), HOST: '127.0.0.1', VIX_STORE_PATH: dbPath })
    t.teardown(() => { if (child.process.exitCode === null) child.process.kill('SIGKILL') })
    await waitListening(`http://127.0.0.1:${port}`, child)

    const clients: TestClient[] = await Promise.all(Array.from({ length: 3 }, async () => await connectUrl(`ws://127.0.0.1:${port}/ws`)))
    await Promise.all(clients.map(async (client) => await client.join('general')))
    for (const [i, client] of clients.entries()) {
      for (let k = 0; k < 3; k++) client.send({ type: 'chat.message', id: `m-${i}-${k}`, room: 'general', payload: { text: `line ${k}` } })
    }
    for (const [i, client] of clients.entries()) {
      for (let k = 0; k < 3; k++) await client.waitFor((f) => f.kind === 'ack' && f.id === `m-${i}-${k}`)
    }
    // Every client saw every line (3 senders x 3 lines), so the store and fan-out are live.
    for (const client of clients) await client.waitForCount((f) => f.kind === 'event' && f.type === 'chat.message', 9)

    const signalled = Date.now()
    child.process.kill(signal)
    // A child that never exits is killed so the run cannot hang; the test then fails on its signal.
    const killer = setTimeout(() => child.process.kill('SIGKILL'), 30_000)
    const exit = await child.exited
    clearTimeout(killer)
    t.equal(exit.signal, null, 'exited by itself, not killed', { output: child.output() })
    t.equal(exit.code, 0, 'exit code 0')
    t.ok(exit.at - signalled < SHUTDOWN_BOUND_MS, `exited ${exit.at - signalled} ms after ${signal}`)
    t.match(child.output(), /"signal":"SIG(TERM|INT)".*"msg":"closing"/, 'closed through close-with-grace')

    for (const client of clients) {
      t.equal((await client.closed).code, 1001, 'client closed 1001')
      t.match(client.frames.at(-1), { kind: 'system', type: 'server.going_away' }, 'after server.going_away')
    }
    t.equal(walSize(dbPath), 0, 'the -wal file is checkpointed away')
    const db = new Database(dbPath, { readonly: true })
    t.teardown(() => db.close())
    t.equal(db.prepare('SELECT COUNT(*) FROM messages').pluck().get(), 9, 'every acked line is stored')
  })
}
