import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { baseUrl, build } from './helpers/app.js'
import { bundleForChild } from './helpers/child.js'

test('works with a standard (browser API) global WebSocket, and exits by itself after close()', async (t) => {
  const app = await build(t, { relayTypes: ['chat.message'] }, (app) => {
    app.realtime.onMessage((session, data, info) => { if (info.binary) session.transport.send(data as Buffer) })
  })
  const fixture = fileURLToPath(new URL('./fixtures/client-standard-websocket.ts', import.meta.url))
  const script = await bundleForChild(fixture, t.testdir())
  const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', script, `${baseUrl(app, 'ws')}/ws`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(timer)
  t.equal(signal, null, `exited by itself (stderr: ${stderr})`)
  t.equal(code, 0)
  t.same(JSON.parse(stdout), [
    'websocket', 'function',
    { room: 'general', recovered: false, replayed: 0, latestId: null, pos: null },
    'chat.message', { text: 'from a standard WebSocket' },
    [7, 8],
    'closed'
  ])
})
