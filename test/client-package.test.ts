// @vix-realtime/client as a user installs it: `npm pack` of packages/client,
// the tarball installed into a fresh project, then an unrelated package
// installed after it (npm re-resolves the whole tree then: a dependency or
// peer hidden anywhere would come in now). Nothing of the server may appear.
// And @vix-realtime/react packed beside it, in a React project that type-checks
// the README's and docs/' examples of both packages (the blocks importing them).
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as sources from '../lib/client/index.js'
import { promisify } from 'node:util'
import { documentationFiles, typescriptBlocks, type CodeBlock } from './helpers/markdown.js'

// About 25 s alone (a build when stale, two packs, three small installs, two tsc runs).
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

// Build the packages unless their dist/ is newer than every source (npm ci's prepare builds them).
const mtimes = (dir: string): number[] => existsSync(dir) ? walk(dir).map((file) => statSync(join(dir, file)).mtimeMs) : []
const stale = (dir: string, sources: string[], typings: string): boolean => {
  const built = mtimes(join(dir, 'dist'))
  return built.length === 0 || !existsSync(join(dir, 'dist', typings)) || Math.min(...built) < Math.max(...sources.flatMap(mtimes))
}
if (stale(packageDir, [join(root, 'lib/client')], 'types/lib/client/index.d.ts') || stale(join(root, 'packages/react'), [join(root, 'packages/react/src')], 'index.d.ts')) {
  await npm(root, 'run', 'build', '--workspace', '@vix-realtime/client', '--workspace', '@vix-realtime/react')
}

const work = mkdtempSync(join(tmpdir(), 'vix-client-package-'))
t.teardown(() => { rmSync(work, { recursive: true, force: true }) })
type Packed = Array<{ filename: string, files: Array<{ path: string }> }>
const [packed] = JSON.parse(await npm(packageDir, 'pack', '--json', '--pack-destination', work)) as Packed
const [packedReact] = JSON.parse(await npm(join(root, 'packages/react'), 'pack', '--json', '--pack-destination', work)) as Packed
const packedFiles = packed.files.map((file) => file.path)
const tsc = join(root, 'node_modules/typescript/bin/tsc')
/** tsc's report on the project in `dir` ('' when clean). */
const typeErrors = async (dir: string): Promise<string> => await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir }).then(() => '', (error: { stdout: string }) => error.stdout)

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

  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('@vix-realtime/client'); console.log(JSON.stringify([typeof m.VixClient, m.ClientErrorCodes.TIMEOUT, Object.keys(m).sort()]))"], { cwd: app })
  t.same(JSON.parse(stdout), ['function', 'VIX_ERR_CLIENT_TIMEOUT', Object.keys(sources).sort()], 'the module imports in Node, with the exports of lib/client (what `vix-realtime/client` exports)')

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
  t.equal(await typeErrors(app), '', 'its typings serve a strict nodenext project (no skipLibCheck)')
})

t.test('in a React project: @vix-realtime/react imports with no DOM, and the docs\' examples of both packages type-check', async (t) => {
  t.same(packedReact.files.map((file) => file.path).filter((file) => !file.startsWith('dist/') && file !== 'package.json'), [], 'the React package: dist/ and package.json')
  const app = join(work, 'react-app')
  mkdirSync(join(app, 'blocks'), { recursive: true })
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'react-app', private: true, type: 'module' }))
  // Both tarballs at once: the React package's dependency on the client is met by the client's tarball.
  await npm(app, 'install', '--prefer-offline', join(work, packed.filename), join(work, packedReact.filename), 'react@19', 'react-dom@19', '@types/react@19', '@types/react-dom@19')
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('@vix-realtime/react'); console.log(typeof globalThis.window, typeof m.useRoom, typeof m.VixProvider, typeof m.RoomShares)"], { cwd: app })
  t.equal(stdout.trim(), 'undefined function function function', 'imported in plain Node (as in server-side rendering)')

  const blocks: CodeBlock[] = documentationFiles()
    .flatMap((file) => typescriptBlocks(file, ['ts', 'typescript', 'tsx']))
    .filter((block) => block.code.includes("from '@vix-realtime/"))
  t.ok(blocks.some((block) => block.file === 'README.md') && blocks.some((block) => block.file === 'docs/client.md' && block.code.includes('useRoom')), 'the README and docs/client.md show the packages')
  blocks.forEach((block, i) => { writeFileSync(join(app, 'blocks', `block-${i}.tsx`), `${block.code}export {}\n`) })
  const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom', 'dom.iterable'], jsx: 'react-jsx', noEmit: true, skipLibCheck: true, types: [] }
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['blocks/*.tsx'] }))
  // Name each error by its markdown file and line, not the generated file.
  const report = (await typeErrors(app)).replace(/blocks\/block-(\d+)\.tsx\((\d+),(\d+)\)/g, (_, i: string, line: string, column: string) => {
    const block = blocks[Number(i)]
    return `${block.file}:${block.line + Number(line)}:${column}`
  })
  t.equal(report, '', `no type error in the ${blocks.length} blocks`)
})
