// @vix-realtime/client as a user installs it: `npm pack` of packages/client,
// the tarball installed into a fresh project, then an unrelated package
// installed after it (npm re-resolves the whole tree then: a dependency or
// peer hidden anywhere would come in now). Nothing of the server may appear.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

// About 15 s alone (a build when stale, one pack, two small installs, one tsc).
t.setTimeout(120_000)

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..')
const packageDir = join(root, 'packages/client')
const npm = async (cwd: string, ...args: string[]): Promise<string> => {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, maxBuffer: 16 * 1024 * 1024 })
  return stdout
}

/** Every file under `dir`, relative to it. */
function walk (dir: string, base = ''): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((entry) => {
    const path = base === '' ? entry.name : `${base}/${entry.name}`
    return entry.isDirectory() ? walk(dir, path) : [path]
  })
}

// Build the package unless its dist/ is newer than every source (npm ci's prepare and npm test's pretest build it).
const mtimes = (dir: string): number[] => existsSync(dir) ? walk(dir).map((file) => statSync(join(dir, file)).mtimeMs) : []
const built = mtimes(join(packageDir, 'dist'))
if (built.length === 0 || !existsSync(join(packageDir, 'dist/types/lib/client/index.d.ts')) || Math.min(...built) < Math.max(...mtimes(join(root, 'lib/client')))) {
  await npm(root, 'run', 'build', '--workspace', '@vix-realtime/client')
}

const work = mkdtempSync(join(tmpdir(), 'vix-client-package-'))
t.teardown(() => { rmSync(work, { recursive: true, force: true }) })
const [packed] = JSON.parse(await npm(packageDir, 'pack', '--json', '--pack-destination', work)) as Array<{ filename: string, files: Array<{ path: string }> }>
const packedFiles = packed.files.map((file) => file.path)

t.test('the tarball: the module, its typings and the browser bundle; a manifest with no dependency of any kind', async (t) => {
  for (const file of ['package.json', 'dist/index.js', 'dist/types/lib/client/index.d.ts', 'dist/browser/vix-client.js']) t.ok(packedFiles.includes(file), `has ${file}`)
  t.same(packedFiles.filter((file) => !file.startsWith('dist/') && file !== 'package.json'), [], 'nothing besides dist/ and package.json (no sources, no tsconfig)')
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as Record<string, unknown>
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies']) t.equal(manifest[field], undefined, `no ${field}`)
  t.equal(manifest.type, 'module', 'ESM')
  t.equal(readFileSync(join(packageDir, 'dist/browser/vix-client.js'), 'utf8'), readFileSync(join(root, 'dist/browser/vix-client.js'), 'utf8'), 'its browser bundle is the one GET /ws/client.js serves')
})

t.test('installed into a fresh project, then an unrelated package: no server package, no native build; it imports and type-checks', async (t) => {
  const app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
  await npm(app, 'install', '--prefer-offline', join(work, packed.filename))
  await npm(app, 'install', '--prefer-offline', 'is-number')
  const modules = join(app, 'node_modules')
  const installed = readdirSync(modules).filter((name) => !name.startsWith('.')).flatMap((name) => name.startsWith('@') ? readdirSync(join(modules, name)).map((sub) => `${name}/${sub}`) : [name])
  t.same(installed.sort(), ['@vix-realtime/client', 'is-number'], 'the client and the package asked for, nothing else')
  for (const name of ['vix-realtime', 'fastify', 'ws', 'better-sqlite3', '@fastify']) t.notOk(existsSync(join(modules, name)), `no ${name}`)
  t.same(walk(modules).filter((file) => file.endsWith('.node')), [], 'no .node file')

  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('@vix-realtime/client'); console.log(typeof m.VixClient, typeof m.VixClientError, m.ClientErrorCodes.TIMEOUT)"], { cwd: app })
  t.equal(stdout.trim(), 'function function VIX_ERR_CLIENT_TIMEOUT', 'the module imports in Node')

  writeFileSync(join(app, 'use.ts'), [
    "import { VixClient, type VixMessage, type JoinAck } from '@vix-realtime/client'",
    "const client = new VixClient({ url: 'ws://127.0.0.1:8080/ws' })",
    "const ack: Promise<JoinAck> = client.join('general', { since: null })",
    "client.on('chat.message', (message: VixMessage<{ text: string }>) => { const text: string = message.payload.text; return text })",
    '// @ts-expect-error publish takes a room first',
    "void client.publish({ text: 'no room' })",
    'export { ack }', ''
  ].join('\n'))
  const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], noEmit: true, types: [] }
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['use.ts'] }))
  const report = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app }).then(() => '', (error: { stdout: string }) => error.stdout)
  t.equal(report, '', 'its typings serve a strict nodenext project (no skipLibCheck)')
})
