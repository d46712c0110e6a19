import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { findCycles, formatReport, importSpecifiers, readImportGraph, type ImportGraph } from '../scripts/import-graph.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const script = fileURLToPath(new URL('../scripts/import-graph.ts', import.meta.url))

function graphOf (edges: Record<string, string[]>): ImportGraph {
  return new Map(Object.entries(edges).map(([from, tos]) => [from, tos.map((to) => ({ to, typeOnly: false }))]))
}

/** `npm run deps:graph` on another tree, as lint runs it. */
function runScript (dir: string): { status: number | null, stdout: string, stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, '--quiet', '--root', dir], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

t.test('the cycle finder reports a circle in a tiny graph, and one per tangle', async (t) => {
  t.same(findCycles(graphOf({ a: ['b'], b: ['c'], c: [] })), [], 'a chain is no circle')
  t.same(findCycles(graphOf({ a: ['b', 'c'], b: ['d'], c: ['d'], d: [] })), [], 'a diamond is no circle')
  t.same(findCycles(graphOf({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] })), [{ modules: ['a', 'b', 'c'], path: ['a', 'b', 'c', 'a'] }])
  t.same(findCycles(graphOf({ self: ['self'] })), [{ modules: ['self'], path: ['self', 'self'] }], 'a module importing itself')
  const two = findCycles(graphOf({ a: ['b'], b: ['a'], x: ['y', 'a'], y: ['z'], z: ['x', 'y'] }))
  t.same(two.map((cycle) => cycle.modules), [['a', 'b'], ['x', 'y', 'z']], 'two separate circles, each reported once')
  t.same(two[1].path, ['x', 'y', 'z', 'x'])
  t.same(findCycles(graphOf({ a: ['outside'] })), [], 'an import of a module not in the graph is ignored')
})

t.test('every kind of relative import is read, type-only ones marked', async (t) => {
  const source = [
    "import { a } from './a.js'",
    "import type { B } from './b.js'",
    "import { type C } from './c.js'",
    "import { type D, d } from './d.js'",
    "import './e.js'",
    "export { f } from './f.js'",
    "export type { G } from './g.js'",
    "export * from './h.js'",
    "const i = await import('./i.js')",
    "type J = typeof import('./j.js')",
    "import fs from 'node:fs'",
    "// import { k } from './k.js'",
    "const text = \"import { l } from './l.js'\""
  ].join('\n')
  t.same(importSpecifiers('x.ts', source), [
    { text: './a.js', typeOnly: false },
    { text: './b.js', typeOnly: true },
    { text: './c.js', typeOnly: true },
    { text: './d.js', typeOnly: false },
    { text: './e.js', typeOnly: false },
    { text: './f.js', typeOnly: false },
    { text: './g.js', typeOnly: true },
    { text: './h.js', typeOnly: false },
    { text: './i.js', typeOnly: false },
    { text: './j.js', typeOnly: true },
    { text: 'node:fs', typeOnly: false }
  ], 'comments and strings are not imports')
})

t.test('a fixture tree with a type-only circle fails the script', async (t) => {
  const dir = t.testdir({
    lib: {
      'a.ts': "import type { B } from './b.js'\nexport const a = 1\nexport type A = B\n",
      'b.ts': "export { c } from './deep/c.js'\nexport type B = number\n",
      deep: { 'c.ts': "export const c = async () => await import('../a.js')\n" }
    },
    plugins: { 'p.ts': "import { a } from '../lib/a.js'\nimport fastify from 'fastify'\nexport { a, fastify }\n" },
    schemas: { 's.ts': 'export const s = 1\n' },
    test: { 't.ts': "import { s } from '../schemas/s.js'\nimport { t } from './t.js'\nexport { s, t }\n" }
  })
  const graph = readImportGraph(dir)
  t.same(Object.fromEntries(graph), {
    'lib/a.ts': [{ to: 'lib/b.ts', typeOnly: true }],
    'lib/b.ts': [{ to: 'lib/deep/c.ts', typeOnly: false }],
    'lib/deep/c.ts': [{ to: 'lib/a.ts', typeOnly: false }],
    'plugins/p.ts': [{ to: 'lib/a.ts', typeOnly: false }],
    'schemas/s.ts': []
  }, 'test/ is outside the graph; packages are not modules of ours')
  const cycles = findCycles(graph)
  t.same(cycles, [{ modules: ['lib/a.ts', 'lib/b.ts', 'lib/deep/c.ts'], path: ['lib/a.ts', 'lib/b.ts', 'lib/deep/c.ts', 'lib/a.ts'] }])
  t.match(formatReport(graph, cycles).join('\n'), /5 modules, 4 imports[^]*1 import circle[^]*lib\/a\.ts → lib\/b\.ts → lib\/deep\/c\.ts → lib\/a\.ts/)

  const run = runScript(dir)
  t.equal(run.status, 1, 'exits 1, so `npm run lint` fails')
  t.match(run.stderr, 'lib/a.ts → lib/b.ts → lib/deep/c.ts → lib/a.ts')
})

t.test('lib/, plugins/ and schemas/ have no import circle', async (t) => {
  const graph = readImportGraph(root)
  t.ok(graph.has('lib/hub/hub.ts') && graph.has('plugins/index.ts') && graph.has('schemas/protocol.ts'), 'the graph holds all three folders')
  t.ok(graph.get('plugins/index.ts')!.some((edge) => edge.to === 'lib/hub/hub.ts'), 'and their imports')
  const cycles = findCycles(graph)
  t.same(cycles, [], formatReport(graph, cycles, true).join('\n'))
  t.same(formatReport(graph, cycles).at(-1), 'no import circles')
})

t.test('`npm run lint` runs the script', async (t) => {
  const { scripts } = (await import('../package.json', { with: { type: 'json' } })).default
  t.match(scripts.lint, /npm run deps:graph -- --quiet/)
  t.match(scripts['deps:graph'], /scripts\/import-graph\.ts/)
})
