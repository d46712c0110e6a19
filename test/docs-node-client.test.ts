// docs/client.md's Node example, run as a user would run it: the block as it is
// written (only its URL pointed at this test's port), importing the package by
// its name, against the example app.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { baseUrl, startExampleApp } from './helpers/app.js'
import { root, typescriptBlocks } from './helpers/markdown.js'
import { connectUrl } from './helpers/ws-client.js'

const run = promisify(execFile)

t.test('the Node client example of docs/client.md runs against the example app', async (t) => {
  const blocks = typescriptBlocks('docs/client.md').filter((block) => block.code.includes("from 'ws'") && block.code.includes('new VixClient'))
  t.equal(blocks.length, 1, 'docs/client.md has one Node client example')
  const [example] = blocks
  t.match(example.code, 'ws://127.0.0.1:8080/ws', 'it talks to the example app on its documented port')
  // `vix-realtime/client` resolves by the package's own name (its exports) from inside the project: the built client.
  t.ok(existsSync(join(root, 'dist/lib/client/index.js')), 'the package is built (npm install runs the build)')

  const app = await startExampleApp(t)
  const watcher = await connectUrl(`${baseUrl(app, 'ws')}/ws?name=watcher`)
  t.teardown(() => watcher.close())
  await watcher.join('general')

  const dir = join(root, 'test-artifacts', `node-client-${process.pid}`)
  mkdirSync(dir, { recursive: true })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'example.ts')
  writeFileSync(file, example.code.replace('ws://127.0.0.1:8080/ws', `${baseUrl(app, 'ws')}/ws`))
  const tsx = join(root, 'node_modules/tsx/dist/cli.mjs')
  // The child runs the built package (dist/), a copy of lib/ the sources' coverage already
  // counts: tap's process tracking leaves dist/ out of the report, as it does node_modules.
  process.env._TAPJS_PROCESSINFO_EXCLUDE_ = String(/(^|[\\/])(node_modules|dist|\.tap|tap-testdir-.*?|tests?|[^\\/]+\.test\.([cm]?[jt]s|[jt]sx?))([\\/]|$)/i)
  const { stderr } = await run(process.execPath, [tsx, file], { cwd: root, timeout: 60_000 })
  t.equal(stderr, '', 'nothing on stderr')

  const line = await watcher.waitFor((frame) => frame.type === 'chat.message', 10_000)
  t.match(line, { kind: 'event', room: 'general', payload: { text: 'Hello from Node' }, from: { name: 'guest' } }, 'its message reached the room, sent by a guest (no ?name=)')
})
