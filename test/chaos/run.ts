import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL, fileURLToPath } from 'node:url'
import { bundleForChild } from '../helpers/child.js'
import { delay, waitFor } from '../helpers/wait.js'
import { check, fetchHistory, type CheckResult, type StoredMessage } from './checker.js'
import { ChaosReader, ChaosWriter, type ClientCounters, type NodeDirectory } from './clients.js'
import { deleteRedisPrefix, RunDatabase, startCluster, stopCluster, watchdogModule, type ChaosNode, type NodeExit, type Services } from './cluster.js'
import { FaultInjector, type FaultRecord } from './faults.js'
import { Prng } from './prng.js'
import { faultKinds, planFaults, scheduleDigest, type FaultKind } from './schedule.js'

const serverFile = fileURLToPath(new URL('../../example-app/server.ts', import.meta.url))

export interface ChaosOptions {
  seed: number
  /** How long faults are injected, ms (clients publish and move meanwhile). */
  durationMs: number
  services: Services
  /** A directory inside the project (the bundle's packages resolve from node_modules): bundle, node logs, timeline, report. */
  workDir: string
  nodes?: number
  writers?: number
  readers?: number
  rooms?: number
  /** Messages per second per writer. */
  rate?: number
  /** Each client moves to another node every this many ms (a random value in the range). */
  moveEveryMs?: [number, number]
  /** Bound of the settle phase (nodes back, writers drained, readers caught up), ms. */
  settleMs?: number
  /** A timeline line (also written to `timeline.log` in `workDir`). */
  log?: (line: string) => void
}

export interface ChaosReport {
  seed: number
  durationMs: number
  scheduleDigest: string
  nodes: number
  writers: number
  readers: number
  rooms: string[]
  check: CheckResult
  faults: FaultRecord[]
  faultsByKind: Record<FaultKind, number>
  /** Largest number of faults in force at the same instant. */
  maxOverlap: number
  unexpectedExits: NodeExit[]
  publishFailures: Record<string, number>
  clients: ClientCounters
  /** Readers that had not caught up on their own and did a final rejoin. */
  finalRejoins: number
  /** From the end of the last fault until every reader caught up (ms), or null when some never did. */
  recoveryMs: number | null
  /** Readers still behind at the end. */
  notCaughtUp: string[]
  loadAverage: { start: number[], end: number[] }
  elapsedMs: number
}

/** Every node process the runs of this process started, killed when it exits, however it exits. */
const liveNodes = new Set<ChaosNode>()
let exitHookInstalled = false
function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const node of liveNodes) {
      const pid = node.pid
      if (pid === undefined) continue
      try { process.kill(pid, 'SIGCONT'); process.kill(pid, 'SIGKILL') } catch {}
    }
  })
}

function sumCounters (clients: ReadonlyArray<{ counters: ClientCounters }>): ClientCounters {
  const total: ClientCounters = { moves: 0, reconnects: 0, rejoins: 0, notRecovered: 0, recoveryFailed: 0, gaps: 0, interrupted: 0, errors: 0, joinFailures: 0, connectTimeouts: 0 }
  for (const { counters } of clients) {
    for (const key of Object.keys(total) as Array<keyof ClientCounters>) total[key] += counters[key]
  }
  return total
}

/** The largest number of faults in force at once, from their actual start and end. */
function overlapOf (records: readonly FaultRecord[]): number {
  const edges: Array<[number, number]> = []
  for (const record of records) {
    if (record.startedAt === undefined) continue
    edges.push([record.startedAt, 1], [record.endedAt ?? Infinity, -1])
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let now = 0
  let max = 0
  for (const [, change] of edges) max = Math.max(max, now += change)
  return max
}

/**
 * One chaos run: a fresh database, `nodes` example-app processes behind
 * proxies of their own, writers and readers moving between them while the
 * seeded fault schedule plays; then every fault is undone, writers drain,
 * readers catch up (a final rejoin for those that do not), and the checker
 * compares what readers got with the history of every node. Everything it
 * started is stopped and the database dropped, whatever happens.
 *
 * @example
 * const report = await runChaos({ seed: 7, durationMs: 60_000, services, workDir })
 * console.log(formatReport(report))
 */
export async function runChaos (options: ChaosOptions): Promise<ChaosReport> {
  installExitHook()
  const began = Date.now()
  const nodeCount = options.nodes ?? 3
  const roomNames = Array.from({ length: options.rooms ?? 3 }, (_, i) => `chaos-${i}`)
  const rate = options.rate ?? 10
  const [moveMin, moveMax] = options.moveEveryMs ?? [4000, 12_000]
  const settleMs = options.settleMs ?? 60_000
  mkdirSync(options.workDir, { recursive: true })
  const timeline = join(options.workDir, 'timeline.log')
  writeFileSync(timeline, '')
  const log = (line: string): void => {
    const text = `[${((Date.now() - began) / 1000).toFixed(1).padStart(6)}s] ${line}`
    appendFileSync(timeline, `${text}\n`)
    options.log?.(text)
  }
  const loadStart = loadavg()
  const schedule = planFaults({ seed: options.seed, durationMs: options.durationMs, nodes: nodeCount })
  log(`seed ${options.seed}: ${schedule.length} faults over ${options.durationMs} ms (schedule ${scheduleDigest(schedule)}), load ${loadStart.map((n) => n.toFixed(2)).join(' ')}`)

  const watchdog = join(options.workDir, 'watchdog.mjs')
  writeFileSync(watchdog, watchdogModule)
  const bundle = await bundleForChild(serverFile, options.workDir)
  const redisPrefix = `vixchaos:${options.seed}:${process.pid}:`
  const database = await RunDatabase.create(options.services.postgresUrl, options.seed)
  const unexpectedExits: NodeExit[] = []
  let nodes: ChaosNode[] = []
  let shuttingDown = false
  const writers: ChaosWriter[] = []
  const readers: ChaosReader[] = []
  try {
    nodes = await startCluster({
      services: options.services,
      database,
      bundle,
      logDir: options.workDir,
      nodes: nodeCount,
      redisPrefix,
      execArgv: ['--import', pathToFileURL(watchdog).href],
      onExit: (exit) => {
        if (exit.expected || !exit.wasServing || shuttingDown) return
        // A node that died by itself: note it, and start it again as an orchestrator would.
        unexpectedExits.push(exit)
        log(`node ${exit.node} exited by itself (code ${String(exit.code)}, signal ${String(exit.signal)}): restarting`)
        const node = nodes.find((candidate) => candidate.name === exit.node)
        setTimeout(() => { node?.start(Date.now() + 60_000).catch((error) => { log(`node ${exit.node} restart failed: ${(error as Error).message}`) }) }, 1000)
      }
    }, Date.now() + 90_000)
    for (const node of nodes) liveNodes.add(node)
    log(`nodes up: ${nodes.map((node) => `${node.name}=${node.port} (redis via ${node.redis.port}, pg via ${node.postgres.port})`).join(', ')}`)

    const directory: NodeDirectory = { count: nodeCount, url: (index) => nodes[index].ws, serving: (index) => nodes[index].state === 'up' }
    const writerCount = options.writers ?? 6
    const readerCount = options.readers ?? 6
    // Clients' draws come from streams of their own (labels 100+), so the schedule (label 0) never shifts.
    for (let i = 0; i < readerCount; i++) {
      const rooms = roomNames.length <= 2 ? roomNames : [roomNames[i % roomNames.length], roomNames[(i + 1) % roomNames.length]]
      readers.push(new ChaosReader(`reader-${i}`, rooms, Prng.derive(options.seed, 100 + i), directory))
    }
    for (let i = 0; i < writerCount; i++) {
      writers.push(new ChaosWriter(`writer-${i}`, roomNames, Prng.derive(options.seed, 200 + i), directory, rate))
    }
    // Every reader is a member of its rooms before the first publish: it must get every message.
    await Promise.all(readers.map(async (reader, i) => { await reader.connectTo(i % nodeCount) }))
    await Promise.all(writers.map(async (writer, i) => { await writer.connectTo((i + 1) % nodeCount) }))
    log(`${readers.length} readers and ${writers.length} writers connected; faults begin`)

    const injector = new FaultInjector(nodes, log, () => Date.now() + 60_000)
    let faultPhase = true
    let writingDeadline = Infinity
    const writing = writers.map((writer) => writer.run(() => faultPhase, () => writingDeadline))
    const wandering = [...readers, ...writers].map((client) => client.wander(moveMin, moveMax, () => faultPhase))
    const played = injector.play(schedule)
    await delay(options.durationMs)
    faultPhase = false
    injector.stop()
    await played
    await injector.finish()
    await Promise.all(wandering)

    // Settle: every dependency restored, every node up and ready.
    for (const node of nodes) {
      node.redis.restore()
      node.postgres.restore()
      node.resume()
    }
    await Promise.all(nodes.filter((node) => node.state === 'down').map(async (node) => { await node.start(Date.now() + settleMs) }))
    const settleStart = Date.now()
    log('faults over, every link restored')
    const settleDeadline = settleStart + settleMs
    await waitFor(async () => (await Promise.all(nodes.map(async (node) => await node.ready()))).every(Boolean), { timeout: settleMs, interval: 250, message: 'every node ready' })
    log('every node ready; writers drain their unacked messages')
    // Writers stop publishing new messages and publish the unacked ones again until acked.
    writingDeadline = Date.now() + Math.min(30_000, settleMs / 2)
    await Promise.all(writing)
    // Publishes still waiting for an ack settle (or time out) before the writers close.
    await waitFor(() => writers.every((writer) => writer.outstanding === 0) || Date.now() > writingDeadline + 12_000, { timeout: settleMs, interval: 200, message: 'writers to drain' })
    for (const writer of writers) writer.close()
    log(`writers done: ${writers.reduce((n, w) => n + w.outstanding, 0)} messages left unacked`)

    // Readers catch up to the tail of each room's history; those that do not, rejoin once more.
    const tails = new Map<string, string | undefined>()
    for (const room of roomNames) tails.set(room, (await fetchHistory(nodes[0].base, room, 'chaos-checker')).at(-1)?.id)
    const caughtUp = (reader: ChaosReader): boolean => reader.rooms.every((room) => tails.get(room) === undefined || reader.lastId(room) === tails.get(room))
    const waitCaughtUp = async (until: number): Promise<boolean> => {
      try {
        await waitFor(() => readers.every(caughtUp), { timeout: Math.max(0, until - Date.now()), interval: 100, message: 'readers to catch up' })
        return true
      } catch {
        return false
      }
    }
    let recoveryMs: number | null = null
    let finalRejoins = 0
    if (await waitCaughtUp(Math.min(settleDeadline, Date.now() + 20_000))) recoveryMs = Date.now() - settleStart
    else {
      const behind = readers.filter((reader) => !caughtUp(reader))
      finalRejoins = behind.length
      log(`${behind.length} readers behind: final rejoin (${behind.map((reader) => reader.name).join(', ')})`)
      await Promise.all(behind.map(async (reader) => { await reader.move() }))
      if (await waitCaughtUp(Math.max(settleDeadline, Date.now() + 10_000))) recoveryMs = Date.now() - settleStart
    }
    const notCaughtUp = readers.filter((reader) => !caughtUp(reader)).map((reader) => reader.name)
    log(recoveryMs === null ? `readers not caught up: ${notCaughtUp.join(', ')}` : `every reader caught up ${recoveryMs} ms after the last fault`)
    // A moment for anything late (a duplicate would show up now), then freeze what readers saw.
    await delay(1000)
    for (const reader of readers) reader.close()

    const histories: Array<Map<string, StoredMessage[]>> = []
    for (const node of nodes) {
      const byRoom = new Map<string, StoredMessage[]>()
      for (const room of roomNames) byRoom.set(room, await fetchHistory(node.base, room, 'chaos-checker'))
      histories.push(byRoom)
    }
    const sent = new Map(writers.flatMap((writer) => [...writer.sent]))
    const result = check({
      rooms: roomNames,
      sent,
      histories,
      readers: readers.flatMap((reader) => reader.rooms.map((room) => ({ reader: reader.name, room, deliveries: reader.deliveries.filter((d) => d.room === room) })))
    })
    const faultsByKind = Object.fromEntries(faultKinds.map((kind) => [kind, 0])) as Record<FaultKind, number>
    for (const record of injector.records) if (record.startedAt !== undefined) faultsByKind[record.kind]++
    const publishFailures: Record<string, number> = {}
    for (const writer of writers) for (const [code, count] of writer.failures) publishFailures[code] = (publishFailures[code] ?? 0) + count
    const report: ChaosReport = {
      seed: options.seed,
      durationMs: options.durationMs,
      scheduleDigest: scheduleDigest(schedule),
      nodes: nodeCount,
      writers: writers.length,
      readers: readers.length,
      rooms: roomNames,
      check: result,
      faults: injector.records,
      faultsByKind,
      maxOverlap: overlapOf(injector.records),
      unexpectedExits,
      publishFailures,
      clients: sumCounters([...readers, ...writers]),
      finalRejoins,
      recoveryMs,
      notCaughtUp,
      loadAverage: { start: loadStart, end: loadavg() },
      elapsedMs: Date.now() - began
    }
    writeFileSync(join(options.workDir, 'report.json'), JSON.stringify({
      report,
      deliveries: Object.fromEntries(readers.map((reader) => [reader.name, reader.deliveries])),
      joins: Object.fromEntries(readers.map((reader) => [reader.name, reader.joins])),
      history: Object.fromEntries(roomNames.map((room) => [room, histories[0].get(room)?.map((message) => message.pos === undefined ? message.id : `${message.id} ${message.pos}`)])),
      sent: [...sent.values()]
    }, null, 1))
    log('checked')
    return report
  } finally {
    shuttingDown = true
    for (const client of [...readers, ...writers]) client.close()
    await stopCluster(nodes)
    for (const node of nodes) liveNodes.delete(node)
    await database.drop().catch((error) => { log(`could not drop ${database.name}: ${(error as Error).message}`) })
    await deleteRedisPrefix(options.services.redisUrl, redisPrefix).catch(() => {})
    // The logs stay; the bundle goes (it is no source of the project's: lint would read it).
    rmSync(bundle, { force: true })
    rmSync(watchdog, { force: true })
  }
}

const pad = (label: string): string => `${label}:`.padEnd(26)

/** The figures of a run, one per line. */
export function formatReport (report: ChaosReport): string {
  const c = report.check
  const kinds = Object.entries(report.faultsByKind).filter(([, n]) => n > 0).map(([kind, n]) => `${kind} ${n}`).join(', ')
  const failures = Object.entries(report.publishFailures).map(([code, n]) => `${code} ${n}`).join(', ') || 'none'
  const lines = [
    `chaos run: seed ${report.seed}, ${report.durationMs / 1000} s of faults, ${report.nodes} nodes, ${report.writers} writers, ${report.readers} readers, rooms ${report.rooms.join(' ')} (schedule ${report.scheduleDigest})`,
    `${pad('sent')}${c.sent}`,
    `${pad('acked')}${c.acked} (duplicate acks ${c.duplicateAcks})`,
    `${pad('stored')}${c.stored} (acked but not stored ${c.ackedNotStored}, stored but not acked ${c.storedNotAcked}, stored twice ${c.storedTwice})`,
    `${pad('delivered')}${c.delivered} of ${c.expected} acked deliveries expected`,
    `${pad('missing (acked)')}${c.missing}`,
    `${pad('missing (stored, unacked)')}${c.missingUnacked}`,
    `${pad('duplicated')}${c.duplicated}`,
    `${pad('out of order')}${c.outOfOrder}`,
    `${pad('not in history')}${c.unknown}`,
    `${pad('history')}${c.historyIdentical ? 'identical on every node' : `DIFFERS: ${c.historyDiffs.join('; ')}`}; positions ${c.positions}${c.positionProblems.length > 0 ? ` (${c.positionProblems.slice(0, 3).join('; ')})` : ''}`,
    `${pad('faults')}${report.faults.filter((f) => f.startedAt !== undefined).length} (${kinds}); at most ${report.maxOverlap} at once; skipped ${report.faults.filter((f) => f.skipped !== undefined).length}`,
    `${pad('unexpected node exits')}${report.unexpectedExits.length}`,
    `${pad('client gaps detected')}${report.clients.gaps}`,
    `${pad('room.interrupted frames')}${report.clients.interrupted}`,
    `${pad('client moves / reconnects')}${report.clients.moves} / ${report.clients.reconnects}; rejoins ${report.clients.rejoins}, join failures ${report.clients.joinFailures}, not recovered ${report.clients.notRecovered}, recovery_failed ${report.clients.recoveryFailed}`,
    `${pad('publish failures')}${failures}`,
    `${pad('longest recovery')}${report.recoveryMs === null ? `never (behind: ${report.notCaughtUp.join(', ')})` : `${report.recoveryMs} ms`}${report.finalRejoins > 0 ? ` (${report.finalRejoins} final rejoins)` : ''}`,
    `${pad('load average')}${report.loadAverage.start.map((n) => n.toFixed(2)).join(' ')} at start, ${report.loadAverage.end.map((n) => n.toFixed(2)).join(' ')} at end`,
    `${pad('elapsed')}${(report.elapsedMs / 1000).toFixed(1)} s`
  ]
  if (c.examples.length > 0) lines.push('examples:', ...c.examples.map((line) => `  ${line}`))
  return lines.join('\n')
}
