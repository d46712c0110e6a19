/**
 * The server of two git revisions side by side, in one run.
 *
 *   npx tsx bench/compare.ts --base <rev> [--head <rev|worktree>] [--rounds 5]
 *   npm run bench:compare -- --base <rev>
 *
 * Each revision's source is materialised in a temp dir (`git archive <rev> | tar -x`;
 * the head defaults to this working tree, used in place), this project's
 * node_modules symlinked into it, and bench/compare-server.ts bundled by esbuild
 * against that tree's plugins/index.ts: both sides run as plain `node` on a
 * bundle built the same way, each in its own process pinned to core 0
 * (`taskset -c 0`); this process, the load generator, is pinned to core 1.
 *
 * A round starts a fresh base and a fresh head server. For each scenario, both
 * get their sockets and two warm-up windows, then --windows pairs of short
 * measured windows alternate between them (base, head, head, base, ...), so a
 * burst of other load on the machine hits both sides alike. Other load is
 * measured too (the machine's busy time from /proc/stat minus this process and
 * the server): a pair during which it passed --max-foreign cores is left out
 * of the statistics and measured again (at most --windows more pairs, and only
 * for the first --retry-seconds of the run). Why so: on a shared 2-core machine
 * other work comes in bursts of seconds; one whole run per variant and round
 * gave same-vs-same ratios from 0.58 to 1.73, these short pairs within 0.96-1.03.
 *
 * Scenarios:
 * - fan-out: one publisher relays `chat.message` to a room of --subscribers
 *   members (the publisher is one of them), --window in flight, --messages per
 *   window: deliveries/s and server CPU µs per delivery.
 * - echo ×N: --echo-clients clients, each doing sequential typed `echo`
 *   request/response round trips (--echo-round-trips each per window):
 *   round trips/s, p50/p99 µs, server CPU µs per message.
 * - echo ×1: the same with one client (--echo1-round-trips per window).
 *
 * Server CPU is `process.cpuUsage()` of the server process (all its threads),
 * asked over IPC at both ends of each window. Reported: each side's median over
 * the kept windows, and head/base as the median of the per-pair ratios; a ratio
 * within ±--noise (10%) of 1 is marked noise. A markdown table goes to stdout,
 * every window to bench/results/compare-<date>.json.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build, stop as stopEsbuild, type Plugin } from 'esbuild'
import { echoLoad, fanoutLoad, percentile, type CpuProbe, type Load, type Window } from './lib-load.js'

const projectRoot = resolve(fileURLToPath(new URL('..', import.meta.url)))
const serverEntry = fileURLToPath(new URL('./compare-server.ts', import.meta.url))
const CPUS = os.availableParallelism() // read before this process is pinned to one core
const SERVER_CORE = '0'
const LOADGEN_CORE = '1'
const WARMUP_WINDOWS = 2

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    head: { type: 'string', default: 'worktree' },
    rounds: { type: 'string', default: '5' },
    windows: { type: 'string', default: '12' },
    subscribers: { type: 'string', default: '50' },
    messages: { type: 'string', default: '500' },
    window: { type: 'string', default: '100' },
    'echo-clients': { type: 'string', default: '10' },
    'echo-round-trips': { type: 'string', default: '1000' },
    'echo1-round-trips': { type: 'string', default: '1500' },
    scenarios: { type: 'string', default: 'fanout,echo-n,echo-1' },
    noise: { type: 'string', default: '0.10' },
    'max-foreign': { type: 'string', default: '0.15' },
    'retry-seconds': { type: 'string', default: '200' },
    'timeout-ms': { type: 'string', default: '30000' },
    'no-pin': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false }
  }
})

if (args.help === true || args.base === undefined) {
  console.log(`usage: npx tsx bench/compare.ts --base <rev> [--head <rev|worktree>] [options]
  --rounds 5               fresh server pairs
  --windows 12             measured window pairs per scenario and round
  --subscribers 50         fan-out room members (the publisher is one of them)
  --messages 500           fan-out messages per window
  --window 100             fan-out messages in flight
  --echo-clients 10        clients of the echo ×N scenario
  --echo-round-trips 1000  round trips per client per window (echo ×N)
  --echo1-round-trips 1500 round trips per window (echo ×1)
  --scenarios fanout,echo-n,echo-1
  --noise 0.10             head/base within 1 ± this is noise
  --max-foreign 0.15       other load (cores) above which a window pair is measured again
  --retry-seconds 200      no more measuring again after this long (keeps a busy machine's run bounded)
  --timeout-ms 30000       bound of every window and setup step
  --no-pin                 do not pin with taskset`)
  process.exit(args.help === true ? 0 : 2)
}

function positive (name: string, raw: string, integer = true): number {
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${raw}`)
  return value
}

const config = {
  rounds: positive('rounds', args.rounds),
  windows: positive('windows', args.windows),
  subscribers: positive('subscribers', args.subscribers),
  messages: positive('messages', args.messages),
  window: positive('window', args.window),
  echoClients: positive('echo-clients', args['echo-clients']),
  echoRoundTrips: positive('echo-round-trips', args['echo-round-trips']),
  echo1RoundTrips: positive('echo1-round-trips', args['echo1-round-trips']),
  noise: positive('noise', args.noise, false),
  maxForeign: positive('max-foreign', args['max-foreign'], false),
  retrySeconds: positive('retry-seconds', args['retry-seconds'], false),
  timeoutMs: positive('timeout-ms', args['timeout-ms'])
}

// ---- revisions --------------------------------------------------------------

type Label = 'base' | 'head'
interface Variant { label: Label, spec: string, commit: string, root: string, dir: string, bundle: string }

function git (gitArgs: string[]): string {
  return execFileSync('git', gitArgs, { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
}

/** Point the server script's `../plugins/index.js` at `root`'s plugins/index.ts. */
function revisionPlugin (root: string): Plugin {
  return {
    name: 'vix-revision',
    setup (builder) {
      builder.onResolve({ filter: /^\.\.\/plugins\/index\.js$/ }, (resolveArgs) =>
        resolveArgs.importer === serverEntry ? { path: join(root, 'plugins', 'index.ts') } : undefined)
    }
  }
}

async function prepare (label: Label, spec: string, workdir: string): Promise<Variant> {
  const dir = join(workdir, label)
  mkdirSync(dir)
  let root: string
  let commit: string
  if (spec === 'worktree') {
    root = projectRoot
    commit = git(['rev-parse', 'HEAD']) + (git(['status', '--porcelain', '--untracked-files=no']) === '' ? '' : '+dirty')
  } else {
    try {
      commit = git(['rev-parse', '--verify', '--quiet', `${spec}^{commit}`])
    } catch {
      throw new Error(`--${label} ${spec}: not a commit of this repository`)
    }
    root = dir
    const tar = execFileSync('git', ['archive', '--format=tar', commit], { cwd: projectRoot, maxBuffer: 1 << 30 })
    execFileSync('tar', ['-x', '-C', root], { input: tar })
  }
  if (!existsSync(join(root, 'plugins', 'index.ts'))) throw new Error(`${label} (${spec}) has no plugins/index.ts`)
  // The bundle sits in `dir` (for a revision, the tree itself); its external
  // packages resolve from this project's node_modules, symlinked in.
  symlinkSync(realpathSync(join(projectRoot, 'node_modules')), join(dir, 'node_modules'), 'dir')
  const bundle = join(dir, 'compare-server.bundle.mjs')
  const built = await build({
    entryPoints: [serverEntry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
    metafile: true,
    plugins: [revisionPlugin(root)]
  })
  // Every source in the bundle but the server script itself must come from this revision's tree.
  const entry = realpathSync(serverEntry)
  const tree = realpathSync(root)
  for (const input of Object.keys(built.metafile.inputs)) {
    const file = resolve(process.cwd(), input)
    if (file !== entry && relative(tree, file).startsWith('..')) throw new Error(`${label} bundle took ${file} from outside ${root}`)
  }
  return { label, spec, commit, root, dir, bundle }
}

// ---- servers ----------------------------------------------------------------

const children = new Set<ChildProcess>()

interface Server { cpu: CpuProbe, port: number, stop: () => Promise<void> }

async function startServer (variant: Variant, pin: boolean): Promise<Server> {
  const env = { ...process.env }
  delete env.NODE_OPTIONS // a loader of this process (tsx) must not run in the bundled server
  const [command, commandArgs] = pin ? ['taskset', ['-c', SERVER_CORE, process.execPath, variant.bundle]] : [process.execPath, [variant.bundle]]
  const child = spawn(command, commandArgs, { cwd: variant.dir, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => { children.delete(child); resolve() }))
  const pending = new Map<number, (cpuUs: number) => void>()
  let nextId = 0
  let timer: NodeJS.Timeout | undefined
  const port = await new Promise<number>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${variant.label} server did not start within ${config.timeoutMs} ms`)), config.timeoutMs)
    child.once('exit', (code, signal) => reject(new Error(`${variant.label} server exited (${code ?? signal}) before listening`)))
    child.on('message', (message: { port?: number, id?: number, cpu?: NodeJS.CpuUsage }) => {
      if (message.port !== undefined) resolve(message.port)
      else if (message.id !== undefined && message.cpu !== undefined) pending.get(message.id)?.(message.cpu.user + message.cpu.system)
    })
  }).finally(() => clearTimeout(timer))
  const cpu: CpuProbe = async () => await new Promise<number>((resolve, reject) => {
    const id = nextId++
    const deadline = setTimeout(() => { pending.delete(id); reject(new Error(`${variant.label} server did not report its CPU time`)) }, 5000)
    pending.set(id, (cpuUs) => { clearTimeout(deadline); pending.delete(id); resolve(cpuUs) })
    child.send({ cmd: 'cpu', id })
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(killTimer)
  }
  return { cpu, port, stop }
}

// ---- other load on the machine ------------------------------------------------

const ticksPerSecond = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
})()

/** Busy CPU seconds of the whole machine so far (user + nice + system; interrupts are not any process's). */
function machineBusySeconds (): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    return (fields[0] + fields[1] + fields[2]) / ticksPerSecond
  } catch {
    return null
  }
}

/** One window, with the other load (in cores) the machine had during it: busy time not spent by this process or the server. */
async function measureWindow (load: Load, count: number): Promise<Window & { foreign: number | null }> {
  const busyStart = machineBusySeconds()
  const selfStart = process.cpuUsage()
  const window = await load.measure(count)
  const self = process.cpuUsage(selfStart)
  const busyEnd = machineBusySeconds()
  const foreign = busyStart === null || busyEnd === null
    ? null
    : Math.max(0, (busyEnd - busyStart - (self.user + self.system + window.serverCpuUs) / 1e6) / window.seconds)
  return { ...window, foreign }
}

// ---- scenarios --------------------------------------------------------------

interface Metric { key: string, label: string, better: 'higher' | 'lower' }
type Sample = Record<string, number>
interface Scenario {
  key: string
  title: string
  metrics: Metric[]
  count: number
  open: (server: Server) => Promise<Load>
  sample: (window: Window) => Sample
}

const echoMetrics: Metric[] = [
  { key: 'roundTripsPerSec', label: 'round trips/s', better: 'higher' },
  { key: 'p50Us', label: 'p50 µs', better: 'lower' },
  { key: 'p99Us', label: 'p99 µs', better: 'lower' },
  { key: 'cpuUsPerMessage', label: 'server CPU µs/message', better: 'lower' }
]

function echoScenario (key: string, clients: number, roundTrips: number): Scenario {
  return {
    key,
    title: `typed echo, ${clients} client${clients === 1 ? '' : 's'}`,
    metrics: echoMetrics,
    count: roundTrips,
    open: async (server) => await echoLoad({ port: server.port, clients, timeoutMs: config.timeoutMs, cpu: server.cpu }),
    sample: (w) => ({
      roundTripsPerSec: w.count / w.seconds,
      p50Us: percentile(w.latenciesUs ?? new Float64Array(1), 0.5),
      p99Us: percentile(w.latenciesUs ?? new Float64Array(1), 0.99),
      cpuUsPerMessage: w.serverCpuUs / w.count
    })
  }
}

const allScenarios: Scenario[] = [
  {
    key: 'fanout',
    title: `fan-out, 1 publisher → ${config.subscribers} members`,
    metrics: [
      { key: 'deliveriesPerSec', label: 'deliveries/s', better: 'higher' },
      { key: 'cpuUsPerDelivery', label: 'server CPU µs/delivery', better: 'lower' }
    ],
    count: config.messages,
    open: async (server) => await fanoutLoad({ port: server.port, subscribers: config.subscribers, window: config.window, timeoutMs: config.timeoutMs, cpu: server.cpu }),
    sample: (w) => ({ deliveriesPerSec: w.count / w.seconds, cpuUsPerDelivery: w.serverCpuUs / w.count })
  },
  echoScenario('echo-n', config.echoClients, config.echoRoundTrips),
  echoScenario('echo-1', 1, config.echo1RoundTrips)
]
const scenarios = allScenarios.filter((scenario) => args.scenarios.split(',').includes(scenario.key))
if (scenarios.length === 0) throw new Error(`--scenarios ${args.scenarios}: none of fanout, echo-n, echo-1`)

// ---- statistics and output --------------------------------------------------

function median (values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** The 25th and 75th percentiles. */
function quartiles (values: number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p + 0.5))]
  return [at(0.25), at(0.75)]
}

function format (value: number): string {
  if (!Number.isFinite(value)) return String(value)
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function verdict (ratio: number, better: Metric['better']): string {
  if (!Number.isFinite(ratio)) return 'no data'
  if (Math.abs(ratio - 1) <= config.noise) return 'noise'
  return (better === 'higher') === (ratio > 1) ? '**better**' : '**worse**'
}

function canPin (): boolean {
  if (args['no-pin'] === true || CPUS < 2) return false
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    execFileSync('taskset', ['-a', '-cp', LOADGEN_CORE, String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

// ---- main -------------------------------------------------------------------

const workdir = mkdtempSync(join(os.tmpdir(), 'vix-compare-'))
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
  rmSync(workdir, { recursive: true, force: true })
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))

const startedAt = Date.now()
const log = (line: string): void => { process.stderr.write(line + '\n') }
const base = await prepare('base', args.base, workdir)
const head = await prepare('head', args.head, workdir)
await stopEsbuild()
const pinned = canPin()
log(`base ${base.spec} = ${base.commit}, head ${head.spec} = ${head.commit}; ` +
  (pinned ? `servers on core ${SERVER_CORE}, load generator on core ${LOADGEN_CORE}` : 'not pinned (no taskset, one core, or --no-pin)'))

/** Two adjacent windows, one per side. `foreign`: other load on the machine (cores) during each; null without /proc/stat. */
interface Pair { round: number, first: Label, kept: boolean, base: Sample, head: Sample, foreign: Record<Label, number | null> }
const pairs: Record<string, Pair[]> = {}
for (const scenario of scenarios) pairs[scenario.key] = []

for (let round = 0; round < config.rounds; round++) {
  const servers: Record<Label, Server> = round % 2 === 0
    ? { base: await startServer(base, pinned), head: await startServer(head, pinned) }
    : { head: await startServer(head, pinned), base: await startServer(base, pinned) }
  try {
    for (const scenario of scenarios) {
      const loads: Partial<Record<Label, Load>> = {}
      try {
        for (const label of ['base', 'head'] as const) loads[label] = await scenario.open(servers[label])
        for (let i = 0; i < WARMUP_WINDOWS; i++) {
          for (const label of ['base', 'head'] as const) await loads[label]?.measure(scenario.count)
        }
        // Pairs with too much other load are measured again: at most as many extra
        // pairs again, and only while the run is younger than --retry-seconds.
        for (let attempt = 0, done = 0, retries = 0; done < config.windows; attempt++) {
          const order: Label[] = (round + attempt) % 2 === 0 ? ['base', 'head'] : ['head', 'base']
          const samples: Partial<Record<Label, Sample>> = {}
          const foreign: Record<Label, number | null> = { base: null, head: null }
          for (const label of order) {
            const window = await measureWindow(loads[label] as Load, scenario.count)
            samples[label] = { ...scenario.sample(window), seconds: window.seconds }
            foreign[label] = window.foreign
          }
          const pair: Pair = {
            round,
            first: order[0],
            kept: Object.values(foreign).every((f) => f === null || f <= config.maxForeign),
            base: samples.base as Sample,
            head: samples.head as Sample,
            foreign
          }
          const retry = !pair.kept && retries < config.windows && Date.now() - startedAt < config.retrySeconds * 1000
          if (retry) retries++
          else done++
          pairs[scenario.key].push(pair)
          const show = (label: Label): string => `${label} ${scenario.metrics.map((m) => `${format(pair[label][m.key])}`).join('/')}` +
            (foreign[label] === null ? '' : ` (other load ${(foreign[label] ?? 0).toFixed(2)})`)
          log(`round ${round + 1}/${config.rounds} ${scenario.key} pair ${attempt + 1}: ${show('base')}, ${show('head')}${pair.kept ? '' : retry ? ' — other load: measured again' : ' — other load: left out, no retries left'}`)
        }
      } finally {
        for (const load of Object.values(loads)) await load?.close()
      }
    }
  } finally {
    await Promise.all([servers.base.stop(), servers.head.stop()])
  }
}

const seconds = (Date.now() - startedAt) / 1000
interface Summary { base: number, head: number, ratio: number, ratioIqr: [number, number], pairs: number, verdict: string }
const summary: Record<string, Record<string, Summary>> = {}
const rows: string[] = []
for (const scenario of scenarios) {
  summary[scenario.key] = {}
  let kept = pairs[scenario.key].filter((p) => p.kept)
  // Never no data: when every pair had other load, use them all (and say so).
  const allDisturbed = kept.length === 0
  if (allDisturbed) kept = pairs[scenario.key]
  for (const metric of scenario.metrics) {
    const ratios = kept.map((p) => p.head[metric.key] / p.base[metric.key])
    const entry: Summary = {
      base: median(kept.map((p) => p.base[metric.key])),
      head: median(kept.map((p) => p.head[metric.key])),
      ratio: median(ratios),
      ratioIqr: quartiles(ratios),
      pairs: kept.length,
      verdict: verdict(median(ratios), metric.better)
    }
    summary[scenario.key][metric.key] = entry
    rows.push(`| ${scenario.title} | ${metric.label} | ${format(entry.base)} | ${format(entry.head)} | ${entry.ratio.toFixed(2)} ` +
      `(${entry.ratioIqr[0].toFixed(2)}–${entry.ratioIqr[1].toFixed(2)}) | ${entry.verdict}${allDisturbed ? ' (all pairs had other load)' : ''} |`)
  }
}
const dropped = Object.values(pairs).flat().filter((p) => !p.kept).length
const keptPairs = Object.values(pairs).flat().length - dropped

const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU'
const short = (v: Variant): string => v.commit.replace(/^([0-9a-f]{12})[0-9a-f]*/, '$1')
console.log('\n## vix-realtime: head vs base\n')
console.log(`base \`${base.spec}\` (${short(base)}), head \`${head.spec}\` (${short(head)}). ` +
  `${config.rounds} round${config.rounds === 1 ? '' : 's'} (fresh servers) × ${config.windows} window pair${config.windows === 1 ? '' : 's'} per scenario, alternating base/head; ` +
  `${keptPairs} pairs kept, ${dropped} left out (and measured again while time allowed) for other load above ${config.maxForeign} cores. ` +
  'Medians of the kept windows; head/base is the median of the per-pair ratios (interquartile range in brackets); ' +
  `within ±${Math.round(config.noise * 100)}% of 1 is noise. ` +
  `Fan-out: ${config.messages} messages × ${config.subscribers} members per window, ${config.window} in flight; ` +
  `echo: ${config.echoClients} clients × ${config.echoRoundTrips} and 1 × ${config.echo1RoundTrips} round trips per window. ` +
  `Node ${process.version}, ${CPUS} × ${cpuModel}, ${pinned ? `servers pinned to core ${SERVER_CORE}, load generator to core ${LOADGEN_CORE}` : 'not pinned'}; ${seconds.toFixed(0)} s in all.\n`)
console.log('| scenario | metric | base | head | head/base | |')
console.log('|---|---|---:|---:|---:|---|')
for (const row of rows) console.log(row)

const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')
const resultsDir = join(projectRoot, 'bench', 'results')
mkdirSync(resultsDir, { recursive: true })
const outFile = join(resultsDir, `compare-${stamp}.json`)
writeFileSync(outFile, JSON.stringify({
  date: new Date().toISOString(),
  seconds,
  node: process.version,
  cpus: CPUS,
  cpuModel,
  pinned: pinned ? { servers: SERVER_CORE, loadGenerator: LOADGEN_CORE } : false,
  base: { spec: base.spec, commit: base.commit },
  head: { spec: head.spec, commit: head.commit },
  config,
  summary,
  pairs
}, null, 2) + '\n')
console.log(`\n(every window: ${relative(process.cwd(), outFile)})`)
process.exit(0)
