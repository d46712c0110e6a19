// npm run deps:graph [-- --quiet] [-- --json]
// Lists the import graph of lib/, plugins/ and schemas/ — every relative import,
// `import type` and `export … from` included, and `import('./x.js')` whether
// called or used as a type — then every import circle. Exits 1 when there is one,
// so `npm run lint` fails on a new circle. A type-only circle counts: it is still
// two modules that cannot be read, moved or tested one without the other.
// --quiet prints only the circles (what lint shows); --json prints the graph as JSON;
// --root <dir> reads another tree (the tests use a fixture).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import ts from 'typescript'

/** The folders whose modules make up the graph, relative to the repository root. */
export const GRAPH_ROOTS = ['lib', 'plugins', 'schemas']

/** One import of a module: the module it names and whether only types cross it. */
export interface ImportEdge {
  to: string
  typeOnly: boolean
}

/** Module path (relative to the root, `/`-separated) → the modules it imports, sorted. */
export type ImportGraph = Map<string, ImportEdge[]>

interface Specifier {
  text: string
  typeOnly: boolean
}

/** Every module specifier a TypeScript source names, static, re-exported or dynamic. */
export function importSpecifiers (fileName: string, source: string): Specifier[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const found: Specifier[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ text: node.moduleSpecifier.text, typeOnly: importIsTypeOnly(node) })
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ text: node.moduleSpecifier.text, typeOnly: exportIsTypeOnly(node) })
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)) {
      found.push({ text: node.moduleReference.expression.text, typeOnly: node.isTypeOnly })
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments
      if (argument !== undefined && ts.isStringLiteralLike(argument)) found.push({ text: argument.text, typeOnly: false })
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ text: node.argument.literal.text, typeOnly: true })
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  return found
}

function importIsTypeOnly (node: ts.ImportDeclaration): boolean {
  const clause = node.importClause
  if (clause === undefined) return false // `import './x.js'` runs the module
  if (clause.isTypeOnly) return true
  if (clause.name !== undefined) return false
  const bindings = clause.namedBindings
  if (bindings === undefined || ts.isNamespaceImport(bindings)) return false
  return bindings.elements.length > 0 && bindings.elements.every((element) => element.isTypeOnly)
}

function exportIsTypeOnly (node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true
  const clause = node.exportClause
  return clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 &&
    clause.elements.every((element) => element.isTypeOnly)
}

/** The source a relative specifier names (`./x.js` → `x.ts`), or undefined when it is not a module of ours. */
function resolveSpecifier (fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined
  const target = resolve(dirname(fromFile), specifier)
  const candidates = [target.replace(/\.(m|c)?js$/, '.$1ts'), target, `${target}.ts`, join(target, 'index.ts')]
  return candidates.find((candidate) => /\.(m|c)?ts$/.test(candidate) && existsSync(candidate) && statSync(candidate).isFile())
}

function sourcesUnder (dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourcesUnder(path)
    return /\.(m|c)?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : []
  }).sort()
}

/** Reads every module under `roots` (relative to `root`) and the imports among them. */
export function readImportGraph (root: string, roots: string[] = GRAPH_ROOTS): ImportGraph {
  const name = (path: string): string => relative(root, path).split(sep).join('/')
  const files = roots.flatMap((dir) => sourcesUnder(join(root, dir)))
  const inGraph = new Set(files)
  const graph: ImportGraph = new Map()
  for (const file of files) {
    const edges = new Map<string, boolean>()
    for (const { text, typeOnly } of importSpecifiers(file, readFileSync(file, 'utf8'))) {
      const target = resolveSpecifier(file, text)
      if (target === undefined || !inGraph.has(target)) continue
      const to = name(target)
      // A module imported both ways at once is a value import.
      edges.set(to, (edges.get(to) ?? true) && typeOnly)
    }
    graph.set(name(file), [...edges].map(([to, typeOnly]) => ({ to, typeOnly })).sort((a, b) => a.to.localeCompare(b.to)))
  }
  return graph
}

/** Modules that import one another, all ways round: one strongly connected component. */
export interface ImportCycle {
  /** Every module of the component, sorted. */
  modules: string[]
  /** One shortest closed path through it, from `modules[0]` back to itself. */
  path: string[]
}

/**
 * Every import circle, one per strongly connected component (Tarjan), sorted by
 * first module. A module that imports itself is a circle of one.
 */
export function findCycles (graph: ReadonlyMap<string, ReadonlyArray<{ to: string }>>): ImportCycle[] {
  const targets = (node: string): string[] => (graph.get(node) ?? []).map((edge) => edge.to).filter((to) => graph.has(to))
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const onStack = new Set<string>()
  const stack: string[] = []
  const components: string[][] = []
  let next = 0
  const connect = (node: string): void => {
    index.set(node, next)
    low.set(node, next)
    next++
    stack.push(node)
    onStack.add(node)
    for (const to of targets(node)) {
      if (!index.has(to)) {
        connect(to)
        low.set(node, Math.min(low.get(node)!, low.get(to)!))
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!))
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = []
      let member: string
      do {
        member = stack.pop()!
        onStack.delete(member)
        component.push(member)
      } while (member !== node)
      if (component.length > 1 || targets(node).includes(node)) components.push(component.sort())
    }
  }
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) connect(node)
  return components
    .map((modules) => ({ modules, path: closedPath(modules, targets) }))
    .sort((a, b) => a.modules[0].localeCompare(b.modules[0]))
}

/** A shortest way from the component's first module back to itself, inside the component. */
function closedPath (component: string[], targets: (node: string) => string[]): string[] {
  const members = new Set(component)
  const start = component[0]
  const cameFrom = new Map<string, string>()
  const queue = [start]
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]
    for (const to of targets(node).filter((target) => members.has(target)).sort()) {
      if (to === start) {
        const path = [start]
        for (let at: string | undefined = node; at !== start && at !== undefined; at = cameFrom.get(at)) path.splice(1, 0, at)
        return [...path, start]
      }
      if (!cameFrom.has(to)) {
        cameFrom.set(to, node)
        queue.push(to)
      }
    }
  }
  return [start, start] // unreachable for a strongly connected component
}

/** The lines `npm run deps:graph` prints: the graph (unless quiet), then the circles or "no import circles". */
export function formatReport (graph: ImportGraph, cycles: ImportCycle[], quiet = false): string[] {
  const lines: string[] = []
  if (!quiet) {
    for (const [from, edges] of graph) {
      lines.push(from)
      for (const edge of edges) lines.push(`  → ${edge.to}${edge.typeOnly ? ' (type)' : ''}`)
    }
    const count = [...graph.values()].reduce((sum, edges) => sum + edges.length, 0)
    lines.push('', `${graph.size} modules, ${count} imports in ${GRAPH_ROOTS.join('/, ')}/`)
  }
  if (cycles.length === 0) {
    if (!quiet) lines.push('no import circles')
    return lines
  }
  lines.push(`${cycles.length} import circle${cycles.length === 1 ? '' : 's'} (type-only imports count; declare the type where it is used, or in a module that imports neither):`)
  for (const { modules, path } of cycles) {
    lines.push(`  ${path.join(' → ')}`)
    if (modules.length <= 2) continue
    lines.push(`    ${modules.length} modules reach one another through these imports:`)
    const members = new Set(modules)
    for (const from of modules) {
      for (const edge of graph.get(from) ?? []) {
        if (members.has(edge.to)) lines.push(`      ${from} → ${edge.to}${edge.typeOnly ? ' (type)' : ''}`)
      }
    }
  }
  return lines
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      quiet: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      root: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) }
    }
  })
  const root = resolve(values.root)
  const graph = readImportGraph(root)
  const cycles = findCycles(graph)
  if (values.json) {
    console.log(JSON.stringify({ modules: Object.fromEntries(graph), cycles }, null, 2))
  } else {
    const lines = formatReport(graph, cycles, values.quiet)
    if (lines.length > 0) (cycles.length > 0 ? console.error : console.log)(lines.join('\n'))
  }
  process.exitCode = cycles.length > 0 ? 1 : 0
}
