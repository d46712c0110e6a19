// npm run chaos -- --seed 7 --duration 90 [--rate 15] [--nodes 3] [--quiet]
// Three example-app nodes behind proxies of their own, faults from the seed,
// writers and readers moving between nodes; prints the figures, exits 1 when
// an acked message went missing, was duplicated or came out of order.
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { postgresAvailable, postgresUrl } from '../test/helpers/postgres.js'
import { redisAvailable, redisUrl } from '../test/helpers/redis.js'
import { formatReport, runChaos } from '../test/chaos/run.js'

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    duration: { type: 'string', default: '90' },
    rate: { type: 'string', default: '15' },
    nodes: { type: 'string', default: '3' },
    quiet: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false }
  }
})

function integer (name: string, text: string, min: number): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be an integer >= ${min}, got ${text}`)
    process.exit(2)
  }
  return value
}

const seed = integer('seed', values.seed, 0)
const duration = integer('duration', values.duration, 5)
const [redis, postgres] = await Promise.all([redisAvailable(), postgresAvailable()])
for (const service of [redis, postgres]) {
  if (!service.ok) {
    console.error(`chaos needs Redis and PostgreSQL: ${service.reason}`)
    process.exit(2)
  }
}

// Inside the project, so the nodes' bundle resolves its packages from node_modules (test-artifacts/ is ignored by git).
const workDir = join(fileURLToPath(new URL('..', import.meta.url)), 'test-artifacts', `chaos-${seed}-${process.pid}`)
// Ctrl-C: exit, and the run's exit hook kills every node it started (a later run drops the orphaned database).
process.once('SIGINT', () => { process.exit(130) })
process.once('SIGTERM', () => { process.exit(143) })

const report = await runChaos({
  seed,
  durationMs: duration * 1000,
  rate: integer('rate', values.rate, 1),
  nodes: integer('nodes', values.nodes, 3),
  services: { redisUrl, postgresUrl },
  workDir,
  log: values.quiet ? undefined : (line) => { console.log(line) }
})
console.log(formatReport(report))
// A hole a client had to detect and repair is the server's failure too: the client's check is the safety net, not the mechanism.
// So is an interrupted stream: every fault of the schedule (at most 6 s) is shorter than the hold bound (30 s), so a node that
// holds and retries never needs to interrupt one here; a member gate that had to (a node skipped an offset) is a failure.
const failed = report.check.missing + report.check.duplicated + report.check.outOfOrder + report.clients.gaps + report.clients.interrupted > 0 || !report.check.historyIdentical || report.check.positions === 'holes'
if (failed || values.keep) console.log(`logs, timeline and report.json: ${workDir}`)
else rmSync(workDir, { recursive: true, force: true })
process.exit(failed ? 1 : 0)
