import t from 'tap'
import { postgresAvailable, postgresUrl } from './helpers/postgres.js'
import { redisAvailable, redisUrl } from './helpers/redis.js'
import { requireService } from './helpers/services.js'

// One fixed-seed run: ~10 s to start, 55 s of faults, up to ~60 s to settle and check.
// The file's own bound, above .taprc's 120 s (a heavily loaded machine boots nodes slowly).
t.setTimeout(240_000)

const SEED = 20
const FAULT_PHASE_MS = 55_000

t.test('chaos: overlapping faults, nodes killed and stopped, clients moving; every acked message reaches every reader once, in order', async (t) => {
  const [redis, postgres] = await Promise.all([redisAvailable(), postgresAvailable()])
  if (!requireService(t, 'redis', redis.ok, redis.reason)) return
  if (!requireService(t, 'postgresql', postgres.ok, postgres.reason)) return
  // Loaded only when it runs: a skipped run adds no uncovered lines to the coverage floors.
  const { formatReport, runChaos } = await import('./chaos/run.js')
  const timeline: string[] = []

  const report = await runChaos({
    seed: SEED,
    durationMs: FAULT_PHASE_MS,
    services: { redisUrl, postgresUrl },
    workDir: t.testdir(),
    // Gentle enough for a 2-core machine running another test file meanwhile.
    rate: 5,
    settleMs: 50_000,
    log: (line) => { timeline.push(line) }
  })
  t.comment(formatReport(report))
  const { check } = report

  t.ok(report.faults.filter((fault) => fault.startedAt !== undefined).length >= 10, 'faults were injected')
  t.ok(report.maxOverlap >= 2, `faults overlapped (at most ${report.maxOverlap} at once)`)
  t.ok(check.acked > 0, `messages were acked (${check.acked} of ${check.sent})`)
  t.equal(check.missing, 0, 'no acked message missing at any reader', { examples: check.examples })
  t.equal(check.duplicated, 0, 'no message delivered twice', { examples: check.examples })
  t.equal(check.outOfOrder, 0, 'no message out of the room\'s order', { examples: check.examples })
  t.equal(check.unknown, 0, 'no message delivered that the history does not hold')
  t.equal(report.clients.gaps, 0, 'no client saw a hole in a room\'s positions: the server never skipped an offset (the client\'s repair is a safety net, not the mechanism)')
  // Every fault is shorter than the hold bound (30 s): a node that holds and retries never interrupts a stream here.
  t.equal(report.clients.interrupted, 0, 'no stream interrupted: holes were held and filled, never skipped (a member gate would have said room.interrupted)')
  t.equal(check.storedTwice, 0, 'every message stored once')
  t.ok(check.historyIdentical, 'the history is the same on every node', { diffs: check.historyDiffs })
  t.not(check.positions, 'holes', 'history positions are dense', { problems: check.positionProblems.slice(0, 10) })
  // The faults and phases with their times, to read a failure against.
  if (!t.passing()) t.comment(['timeline:', ...timeline].join('\n'))
})
