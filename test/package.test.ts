// The package as a user installs it: `npm pack`, then two consumer projects
// installed from the tarball and the npm registry (default npm cache):
// a server app (the tarball and fastify, nothing else of ours) that
// type-checks the README's and docs/' TypeScript blocks under strict +
// nodenext and runs a server with a Node client; and a browser-only project
// (`--omit=peer --omit=optional`) that must get no server framework and no
// native build. One pack, two installs (in parallel).
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { documentationFiles, typescriptBlocks, type CodeBlock } from './helpers/markdown.js'

// About 90 s alone (one pack, two installs in parallel, two tsc runs); more when the suite loads the machine.
t.setTimeout(240_000)

/** Every file under `dir`, relative to it. */
function walk (dir: string, base = ''): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((entry) => {
    const path = base === '' ? entry.name : `${base}/${entry.name}`
    return entry.isDirectory() ? walk(dir, path) : [path]
  })
}

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..')
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string>, peerDependencies: object, optionalDependencies: object }
const npm = async (cwd: string, ...args: string[]): Promise<string> => {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, maxBuffer: 16 * 1024 * 1024 })
  return stdout
}
const tsc = join(root, 'node_modules/typescript/bin/tsc')

const work = mkdtempSync(join(tmpdir(), 'vix-package-'))
t.teardown(() => { rmSync(work, { recursive: true, force: true }) })

// `npm pack` runs `prepare` (the build) itself when the package has one; else build here.
// Else a clean build (files a former build left in dist/ would be packed too), unless dist/ is newer than every source.
const newest = (paths: string[]): number => Math.max(...paths.map((path) => statSync(join(root, path)).mtimeMs))
const sources = ['tsconfig.json', 'tsconfig.build.json', ...['lib', 'plugins', 'schemas'].flatMap((dir) => walk(root, dir))]
const built = existsSync(join(root, 'dist')) ? walk(root, 'dist') : []
if (packageJson.scripts.prepare === undefined && (built.length === 0 || Math.min(...built.map((path) => statSync(join(root, path)).mtimeMs)) < newest(sources))) {
  rmSync(join(root, 'dist'), { recursive: true, force: true })
  await run('npm', ['run', 'build'], { cwd: root })
}
const [packed] = JSON.parse(await npm(root, 'pack', '--json', '--pack-destination', work)) as Array<{ filename: string, files: Array<{ path: string }> }>
const tarball = join(work, packed.filename)
const packedFiles = packed.files.map((file) => file.path)

function consumer (name: string): string {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }))
  return dir
}

const server = consumer('server-app')
const browser = consumer('browser-app')
// The app's own choices besides ours: typings for its own code (Node, ws for the Node client).
// Scripts are skipped in the app install only to spare compiling better-sqlite3 from source (minutes
// here, where its prebuilt binary cannot be downloaded): the binary the repo's own install built, of
// the same version, takes its place.
const installs = Promise.all([
  npm(server, 'install', '--ignore-scripts', tarball, 'fastify', '@types/node@20', '@types/ws').then(useRepoSqliteBinary),
  npm(browser, 'install', '--omit=peer', '--omit=optional', tarball)
])
function useRepoSqliteBinary (): void {
  const version = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version
  if (version(server) !== version(root)) throw new Error(`better-sqlite3 ${version(server)} in the app, ${version(root)} built in the repo: update package-lock.json`)
  const binary = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'
  mkdirSync(dirname(join(server, binary)), { recursive: true })
  copyFileSync(join(root, binary), join(server, binary))
}
const installed = installs.then(() => true, (error: Error) => error)

t.test('the tarball holds the built package, its typings, README and LICENSE, and nothing of the repo', async (t) => {
  for (const file of ['package.json', 'README.md', 'LICENSE', 'dist/plugins/index.js', 'dist/plugins/index.d.ts', 'dist/lib/client/index.js', 'dist/lib/client/index.d.ts']) {
    t.ok(packedFiles.includes(file), `has ${file}`)
  }
  // The browser bundle (GET /ws/client.js) comes with the build script that makes it.
  if (packageJson.scripts['build:client'] !== undefined) t.ok(packedFiles.includes('dist/browser/vix-client.js'), 'has dist/browser/vix-client.js')
  t.same(packedFiles.filter((file) => /^(test|bench|example-app|lib|plugins|schemas|coverage|\.tap)\//.test(file)), [], 'no sources, tests, benchmarks or example app')
  t.same(packedFiles.filter((file) => file.endsWith('.map')), [], 'no source maps (they would point at .ts files not shipped)')
  t.same(packedFiles.filter((file) => !file.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(file)), [], 'nothing besides dist/, README, LICENSE and package.json')
})

t.test('a browser-only install gets no server framework and no native build, and the client imports', async (t) => {
  const ok = await installed
  if (ok !== true) throw ok
  const modules = join(browser, 'node_modules')
  const files = walk(modules)
  // npm leaves a few tiny packages shared by omitted peer and optional trees (it lists them as extraneous); none of ours.
  const ours = Object.keys({ ...packageJson.peerDependencies, ...packageJson.optionalDependencies })
  t.same(ours.filter((name) => existsSync(join(modules, name))), [], 'none of the peer or optional dependencies (fastify, better-sqlite3, ...)')
  t.notOk(existsSync(join(modules, '@fastify')), 'no Fastify plugin')
  t.same(files.filter((file) => file.endsWith('.node')), [], 'no .node file')
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('vix-realtime/client'); console.log(typeof m.VixClient, typeof m.VixClientError)"], { cwd: browser })
  t.equal(stdout.trim(), 'function function')
})

t.test('in an app: the README and docs TypeScript blocks type-check under strict + nodenext, and a server talks to a Node client', async (t) => {
  const ok = await installed
  if (ok !== true) throw ok
  const blocks: CodeBlock[] = documentationFiles().flatMap((file) => typescriptBlocks(file))
  t.ok(blocks.length > 0, 'the README has TypeScript blocks')
  const dir = join(server, 'blocks')
  mkdirSync(dir)
  // `export {}` keeps a block without imports a module of its own (no clash between blocks' names).
  blocks.forEach((block, i) => { writeFileSync(join(dir, `block-${i}.ts`), `${block.code}export {}\n`) })
  writeFileSync(join(server, 'typed-identity.ts'), typedIdentityFixture)
  // Two programs: the blocks are one app (a VixRealtimeTypes declaration in one block holds for all, as in a
  // project), the fixture declares its own identity.
  const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: true, types: ['node'] }
  writeFileSync(join(server, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['blocks/*.ts'] }))
  writeFileSync(join(server, 'tsconfig.identity.json'), JSON.stringify({ compilerOptions, include: ['typed-identity.ts'] }))
  const check = async (project: string): Promise<string> => await run(process.execPath, [tsc, '-p', project], { cwd: server }).then(() => '', (error: { stdout: string }) => error.stdout)
  const result = (await Promise.all([check('tsconfig.json'), check('tsconfig.identity.json')])).join('')
  // Name each error by its markdown file and line, not the generated file.
  const report = result.replace(/blocks\/block-(\d+)\.ts\((\d+),(\d+)\)/g, (_, i: string, line: string, column: string) => {
    const block = blocks[Number(i)]
    return `${block.file}:${block.line + Number(line)}:${column}`
  })
  t.equal(report, '', 'no type error in any block, nor in the typed-identity fixture')

  writeFileSync(join(server, 'run.mjs'), runScript)
  const { stdout } = await run(process.execPath, ['run.mjs'], { cwd: server, timeout: 30_000 })
  const seen = JSON.parse(stdout) as Record<string, string>
  t.same(seen.message, { text: 'hello', from: 'ada' }, 'a message through the packed server and client, with the identity typed by authenticate')
  t.equal(seen.stored, 1, 'stored in the embedded SQLite default (better-sqlite3, an optional dependency, installed by default)')
  t.match(seen.redis, /^VIX_ERR_INVALID_OPTION .*"broker\.redis".*npm install ioredis/, 'the Redis broker without ioredis: a coded error naming the package')
  t.match(seen.postgres, /^VIX_ERR_INVALID_OPTION .*"store\.postgres".*npm install pg/, 'the PostgreSQL store without pg: a coded error naming the package')
})

// Declared once; then every callback and handler sees the type, and wrong uses fail.
const typedIdentityFixture = `import Fastify from 'fastify'
import vixRealtime, { type Identity, type Session } from 'vix-realtime'

declare module 'vix-realtime' {
  interface VixRealtimeTypes { identity: { user: string, admin: boolean } }
}

const app = Fastify()
await app.register(vixRealtime, {
  authenticate: (request) => request.headers['x-user'] === undefined ? undefined : { user: String(request.headers['x-user']), admin: false },
  identityKey: (identity) => identity.user,
  authorizeJoin: (session, room) => session.identity.admin || !room.startsWith('admin:'),
  authorizePublish: (session, message) => session === null || message.room !== session.identity.user,
  presence: { rooms: ['lobby'], meta: (identity) => ({ name: identity.user }) }
})
app.realtime.on('ping', (session) => { const user: string = session.identity.user; return user })
const admin: boolean = ({} as Session).identity.admin
const identity: Identity = { user: 'ada', admin: true }

await app.register(vixRealtime, {
  // @ts-expect-error an identity of another shape is refused
  authenticate: () => ({ name: 'ada' })
})
// @ts-expect-error no such field on the declared identity
app.realtime.on('pong', (session) => session.identity.name)
// @ts-expect-error the request is a FastifyRequest, not anything
await app.register(vixRealtime, { authenticate: (request) => request.nope })
export { admin, identity }
`

const runScript = `import Fastify from 'fastify'
import WebSocket from 'ws'
import vixRealtime from 'vix-realtime'
import { VixClient } from 'vix-realtime/client'

const app = Fastify()
await app.register(vixRealtime, {
  relayTypes: ['chat.message'],
  store: { path: ':memory:' },
  authenticate: (request) => ({ user: request.headers['x-user'] })
})
app.realtime.on('chat.send', (session, message) => app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: message.payload.text, from: session.identity.user } }))
await app.listen({ port: 0, host: '127.0.0.1' })
const client = new VixClient({ url: 'ws://127.0.0.1:' + app.server.address().port + '/ws', WebSocket, webSocketOptions: { headers: { 'x-user': 'ada' } } })
await client.connect()
await client.join('general')
const received = new Promise((resolve) => client.on('chat.message', resolve))
await client.publish(null, 'chat.send', { text: 'hello' })
const message = (await received).payload
const stored = (await app.messageStore.listByRoom('general', { limit: 10 })).messages.length
client.close()
await app.close()

async function refusal (options) {
  try { await Fastify().register(vixRealtime, { websocket: false, longPolling: false, metrics: false, docs: false, ...options }) } catch (error) { return error.code + ' ' + error.message }
  return 'registered'
}
const redis = await refusal({ broker: { redis: 'redis://127.0.0.1:1' } })
const postgres = await refusal({ store: { postgres: 'postgres://vix@127.0.0.1:1/vix' } })
console.log(JSON.stringify({ message, stored, redis, postgres }))
`
