import { createHash } from 'node:crypto'
import { Prng } from './prng.js'

/** A dependency link of one node, behind its own proxy. */
export type Dependency = 'redis' | 'pg'
/** What a dependency fault does to the node's proxy. */
export type LinkFault = 'cut' | 'blackhole' | 'stall'
/** What a process fault does to the node. */
export type ProcessFault = 'sigkill' | 'sigterm' | 'sigstop'

export type FaultKind = `${Dependency}-${LinkFault}` | ProcessFault

export const faultKinds: readonly FaultKind[] = [
  'redis-cut', 'redis-blackhole', 'redis-stall', 'pg-cut', 'pg-blackhole', 'pg-stall', 'sigkill', 'sigterm', 'sigstop'
]

/**
 * One planned fault: from `at` (ms after the fault phase starts) for
 * `duration` ms. For `sigkill` and `sigterm` the duration is how long the node
 * stays down after it exited (then it restarts on its port); for `sigstop`,
 * how long until `SIGCONT`.
 */
export interface PlannedFault { seq: number, kind: FaultKind, node: number, at: number, duration: number, wave: number }

export interface ScheduleOptions { seed: number, durationMs: number, nodes: number }

const linkFaults: readonly LinkFault[] = ['cut', 'blackhole', 'stall']

export function isProcessFault (kind: FaultKind): kind is ProcessFault {
  return kind === 'sigkill' || kind === 'sigterm' || kind === 'sigstop'
}

export function dependencyOf (kind: FaultKind): Dependency | undefined {
  return kind.startsWith('redis-') ? 'redis' : kind.startsWith('pg-') ? 'pg' : undefined
}

/**
 * The fault schedule of a run, a pure function of seed, duration and node
 * count: waves a few seconds apart, each with one node's Redis link faulted
 * while another node's PostgreSQL link is (overlapping by construction), and
 * often a process fault on a third node (or on one of the two) meanwhile.
 * One fault at a time per node and dependency, one process fault at a time in
 * the cluster, and every fault over before `durationMs`.
 *
 * @example
 * const faults = planFaults({ seed: 1, durationMs: 60_000, nodes: 3 })
 */
export function planFaults (options: ScheduleOptions): PlannedFault[] {
  const { durationMs, nodes } = options
  if (nodes < 2) throw new Error('a chaos schedule needs at least two nodes')
  const random = Prng.derive(options.seed, 0)
  const faults: PlannedFault[] = []
  // Per lane ("0:redis", "1:pg", "process"): when it is free again.
  const busyUntil = new Map<string, number>()
  const add = (lane: string, fault: Omit<PlannedFault, 'seq'>): void => {
    const end = fault.at + fault.duration + (isProcessFault(fault.kind) ? 3000 : 0)
    if (fault.at < (busyUntil.get(lane) ?? 0) || end > durationMs) return
    // A process fault keeps its lane busy a little longer: the restart takes time.
    busyUntil.set(lane, end + 500)
    faults.push({ seq: 0, ...fault })
  }
  let start = 1500
  for (let wave = 0; start < durationMs - 3000; wave++) {
    const [first, second, third] = random.shuffle([...Array(nodes).keys()])
    const redisAt = start + random.between(0, 800)
    add(`${first}:redis`, { kind: `redis-${random.pick(linkFaults)}`, node: first, at: redisAt, duration: random.between(1500, 6000), wave })
    const pgAt = redisAt + random.between(0, 1500)
    add(`${second}:pg`, { kind: `pg-${random.pick(linkFaults)}`, node: second, at: pgAt, duration: random.between(1500, 6000), wave })
    // Sometimes one node loses both links at once.
    if (random.chance(0.25)) {
      add(`${first}:pg`, { kind: `pg-${random.pick(linkFaults)}`, node: first, at: redisAt + random.between(0, 1000), duration: random.between(1000, 4000), wave })
    }
    if (random.chance(0.7)) {
      const kind = random.pick<ProcessFault>(['sigkill', 'sigterm', 'sigstop'])
      const node = third ?? random.pick([first, second])
      const duration = kind === 'sigstop' ? random.between(1000, 5000) : random.between(300, 2500)
      add('process', { kind, node, at: redisAt + random.between(0, 3000), duration, wave })
    }
    start += random.between(2500, 6500)
  }
  faults.sort((a, b) => a.at - b.at || a.node - b.node)
  for (const [seq, fault] of faults.entries()) fault.seq = seq
  return faults
}

/** A short fingerprint of a schedule, printed with the figures: the same seed gives the same one. */
export function scheduleDigest (faults: readonly PlannedFault[]): string {
  return createHash('sha256').update(JSON.stringify(faults)).digest('hex').slice(0, 12)
}
