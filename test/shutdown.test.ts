import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import WebSocket from 'ws'
import vixRealtime from '../plugins/index.js'
import { baseUrl, build } from './helpers/app.js'
import { connect } from './helpers/ws-client.js'
import { bundleForChild } from './helpers/child.js'
import { PollClient } from './helpers/poll-client.js'
import { waitFor } from './helpers/wait.js'
import { hubOf } from '../lib/hub/realtime.js'

/** Try to upgrade; resolve with the status and headers of the refusal. */
async function refusedUpgrade (url: string): Promise<{ status: number, retryAfter: string | undefined }> {
  const ws = new WebSocket(url)
  return await new Promise((resolve, reject) => {
    ws.once('open', () => { ws.close(); reject(new Error('upgrade was accepted')) })
    ws.once('error', reject)
    ws.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] as string | undefined })
      response.resume()
    })
  })
}

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

t.test('goingAwayRetryAfter, a hub option: both transports send the same server.going_away; new sessions get Retry-After in whole seconds', async (t) => {
  const app = await build(t, { goingAwayRetryAfter: 2500, shutdownTimeout: 2000 })
  const ws = await connect(app)
  const poller = await PollClient.create(app)
  const held = fetch(`${baseUrl(app)}/ws/poll?session_id=${poller.sessionId}&ack=${poller.next}&wait=20000`).then(async (response): Promise<any> => await response.json())
  await waitFor(() => app.realtimeLongPolling.get(poller.sessionId, undefined)?.waiter !== null, { message: 'the poll to be held' })

  app.realtime.lifecycle.requestStop()
  const wsNotice = await ws.waitFor((f) => f.type === 'server.going_away')
  const polled = await held
  t.equal(polled.messages.length, 1)
  const pollNotice = polled.messages[0]
  t.match(wsNotice, { kind: 'system', type: 'server.going_away', payload: { retryAfterMs: 2500 } })
  t.same({ ...pollNotice, ts: undefined }, { ...wsNotice, ts: undefined }, 'the same frame on both transports')
  t.equal((await ws.closed).code, 1001)

  const upgrade = await refusedUpgrade(`${baseUrl(app, 'ws')}/ws`)
  t.equal(upgrade.status, 503)
  t.equal(upgrade.retryAfter, '3', 'ceil(2500 / 1000) seconds')
  const created = await app.inject({ url: '/ws/poll' })
  t.equal(created.statusCode, 503)
  t.equal(created.json().code, 'VIX_ERR_SHUTTING_DOWN')
  t.equal(created.headers['retry-after'], '3', 'the same on a new long-poll session')

  const misplaced = Fastify()
  t.teardown(() => misplaced.close())
  await t.rejects(async () => { await misplaced.register(vixRealtime, { websocket: { goingAwayRetryAfter: 2500 } as any }) },
    { code: 'VIX_ERR_INVALID_OPTION', message: /"goingAwayRetryAfter".*hub option/ }, 'no longer a WebSocket option')
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
  await Promise.all([hubOf(app.realtime).lifecycle.finalizeShutdown(), hubOf(app.realtime).lifecycle.finalizeShutdown()])
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
