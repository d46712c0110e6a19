import type { ChaosNode } from './cluster.js'
import { dependencyOf, isProcessFault, type FaultKind, type PlannedFault } from './schedule.js'
import { delay } from '../helpers/wait.js'

/** A fault as it happened: when it began and ended (ms after the fault phase began), or why it was skipped. */
export interface FaultRecord { seq: number, kind: FaultKind, node: string, plannedAt: number, startedAt?: number, endedAt?: number, skipped?: string, note?: string }

/**
 * Plays a fault schedule against the cluster: each fault starts at its
 * planned time whatever else is going on (so they overlap as planned), and
 * ends by itself (restore, SIGCONT, restart on the same port). `finish()`
 * waits for every fault under way to end.
 */
export class FaultInjector {
  readonly records: FaultRecord[] = []
  private readonly running: Array<Promise<void>> = []
  private started = 0
  private stopped = false

  constructor (private readonly nodes: readonly ChaosNode[], private readonly log: (line: string) => void, private readonly restartDeadline: () => number) {}

  /** Ms since the fault phase began. */
  elapsed (): number {
    return Date.now() - this.started
  }

  /** Play `faults` from now; resolves when the last one has started (or `stop()`). */
  async play (faults: readonly PlannedFault[]): Promise<void> {
    this.started = Date.now()
    for (const fault of faults) {
      const wait = this.started + fault.at - Date.now()
      if (wait > 0) await delay(wait)
      if (this.stopped) return
      this.running.push(this.inject(fault))
    }
  }

  stop (): void {
    this.stopped = true
  }

  /** Every fault under way has ended. */
  async finish (): Promise<void> {
    await Promise.allSettled(this.running)
  }

  private async inject (fault: PlannedFault): Promise<void> {
    const node = this.nodes[fault.node]
    const record: FaultRecord = { seq: fault.seq, kind: fault.kind, node: node.name, plannedAt: fault.at }
    this.records.push(record)
    const dependency = dependencyOf(fault.kind)
    if (isProcessFault(fault.kind) && node.state !== 'up') {
      record.skipped = `node ${node.name} is ${node.state}`
      this.log(`fault #${fault.seq} ${fault.kind} ${node.name} skipped: ${record.skipped}`)
      return
    }
    record.startedAt = this.elapsed()
    this.log(`fault #${fault.seq} ${fault.kind} ${node.name} for ${fault.duration} ms`)
    try {
      if (dependency !== undefined) {
        const proxy = node.proxy(dependency)
        const mode = fault.kind.slice(dependency.length + 1)
        if (mode === 'cut') proxy.cut()
        else if (mode === 'blackhole') proxy.blackhole()
        else proxy.stall()
        await delay(fault.duration)
        proxy.restore()
      } else if (fault.kind === 'sigstop') {
        node.stop()
        await delay(fault.duration)
        node.resume()
      } else {
        await node.kill(fault.kind === 'sigkill' ? 'SIGKILL' : 'SIGTERM')
        record.note = `down after ${this.elapsed() - record.startedAt} ms`
        await delay(fault.duration)
        await node.start(this.restartDeadline())
      }
    } catch (error) {
      record.note = `${record.note ?? ''} failed: ${(error as Error).message}`.trim()
    }
    record.endedAt = this.elapsed()
    this.log(`fault #${fault.seq} ${fault.kind} ${node.name} over${record.note === undefined ? '' : ` (${record.note})`}`)
  }
}
