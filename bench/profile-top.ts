// Summarize a V8 CPU profile (node --cpu-prof, e.g. `npm run bench -- --profile`):
// the functions with the most self time, as a markdown table.
//   npx tsx bench/profile-top.ts bench/results/profiles/vix-123.cpuprofile [top=15] [skip-seconds=0]
// skip-seconds leaves out the start (module loading) of the profile.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }
interface Profile { nodes: Node[], samples: number[], timeDeltas: number[] }

const [file, topArg, skipArg] = process.argv.slice(2)
const skipUs = Number(skipArg ?? 0) * 1e6
if (file === undefined) throw new Error('usage: profile-top.ts <file.cpuprofile> [top]')
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map<string, number>()
let total = 0
let elapsed = 0
profile.samples.forEach((id, i) => {
  const node = byId.get(id)
  const dt = profile.timeDeltas[i] ?? 0
  elapsed += dt
  if (node === undefined || elapsed < skipUs) return
  total += dt
  const { functionName, url, lineNumber } = node.callFrame
  const where = url === '' ? '' : ` ${relative(process.cwd(), url.replace('file://', '')).replace(/^.*node_modules\//, '')}:${lineNumber + 1}`
  const key = `${functionName === '' ? '(anonymous)' : functionName}${where}`
  self.set(key, (self.get(key) ?? 0) + dt)
})
const idle = [...self.entries()].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0)
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${((total - idle) / 1e6).toFixed(1)} s busy`)
console.log('| self % of busy | function |')
console.log('|---:|---|')
for (const [key, us] of [...self.entries()].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 15))) {
  console.log(`| ${(100 * us / (total - idle)).toFixed(1)} | \`${key}\` |`)
}
