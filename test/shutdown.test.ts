import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { bundleForChild } from './helpers/child.js'

t.test('100 sockets with publishes in flight: each gets server.going_away then 1001', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] })
  const clients = await Promise.all(Array.from({ length: 100 }, () => connect(app)))
  await Promise.all(clients.map(async (c) => await c.join('r')))
  for (let i = 0; i < 50; i++) clients[i % 100].send({ type: 'chat.message', room: 'r', payload: { i } })
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 5000, 'close did not wait for the timeout')
  for (const c of clients) {
    const { code } = await c.closed
    t.equal(code, 1001)
    const last = c.frames.at(-1) as any
    t.match(last, { kind: 'system', type: 'server.going_away', payload: { retryAfterMs: 1000 } })
  }
  t.equal(app.realtime.sessions.size, 0)
})

t.test('a client that never answers the close handshake does not hold close past shutdownTimeout + 1 s', async (t) => {
  const app = await build(t, { shutdownTimeout: 500 })
  const stuck = await connect(app)
  const polite = await connect(app)
  ;(stuck.ws as any)._socket.pause()
  const started = Date.now()
  await app.close()
  const elapsed = Date.now() - started
  t.ok(elapsed < 1500, `closed in ${elapsed} ms`)
  t.equal((await polite.closed).code, 1001)
})

t.test('the phases run on their own, twice is harmless', async (t) => {
  const app = await build(t)
  const c = await connect(app)
  app.realtime.lifecycle.requestStop()
  app.realtime.lifecycle.requestStop()
  t.equal(app.realtime.lifecycle.stopping, true)
  t.equal((await c.closed).code, 1001)
  await Promise.all([app.realtime.lifecycle.finalizeShutdown(), app.realtime.lifecycle.finalizeShutdown()])
  await app.close()
  t.equal(c.frames.filter((f: any) => f.type === 'server.going_away').length, 1)
})

t.test('a failing participant is logged and does not stop the others', async (t) => {
  const app = await build(t)
  const ran: string[] = []
  app.realtime.lifecycle.add({ name: 'broken', order: -1, requestStop () { throw new Error('stop broke') }, finalize () { throw new Error('finalize broke') } })
  app.realtime.lifecycle.add({ name: 'after', order: 1, requestStop () { ran.push('stop') }, finalize () { ran.push('finalize') } })
  await app.close()
  t.same(ran, ['stop', 'finalize'])
})

/** Run the close-exits fixture; its kill timer starts once the app has closed. */
async function runCloseExits (script: string, storePath?: string): Promise<{ code: number | null, signal: string | null, output: string }> {
  const child = spawn(process.execPath, [script, ...(storePath === undefined ? [] : [storePath])], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  let killer: NodeJS.Timeout | undefined
  // Only the time after close is bounded: starting is not what this measures.
  child.stdout.on('data', (chunk) => {
    output += chunk
    if (killer === undefined && output.includes('closed')) killer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  })
  child.stderr.on('data', (chunk) => { output += chunk })
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(killer)
  return { code, signal, output }
}

t.test('after close no handle keeps the event loop alive (child process exits by itself)', async (t) => {
  const dir = t.testdir()
  const script = await bundleForChild(fileURLToPath(new URL('./fixtures/close-exits.ts', import.meta.url)), dir)
  const storePath = join(dir, 'messages.db')
  const [plain, withStore] = await Promise.all([runCloseExits(script), runCloseExits(script, storePath)])
  for (const [name, run] of [['without store', plain], ['with the SQLite store', withStore]] as const) {
    t.equal(run.signal, null, `${name}: exited by itself: ${run.output}`)
    t.equal(run.code, 0)
    t.match(run.output, 'closed')
  }
  t.notOk(existsSync(`${storePath}-wal`) && statSync(`${storePath}-wal`).size > 0, 'the -wal file is checkpointed away')
})
