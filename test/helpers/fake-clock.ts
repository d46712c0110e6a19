import type { Timers } from '../../lib/client/timers.js'

interface Scheduled { id: number, at: number, callback: () => void }

/** A manual clock for client timers: nothing fires until `tick`. Records every delay asked for. */
export class FakeClock implements Timers {
  now = 0
  readonly delays: number[] = []
  private readonly scheduled = new Map<number, Scheduled>()
  private nextId = 1

  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.nextId++
    this.delays.push(ms)
    this.scheduled.set(id, { id, at: this.now + ms, callback })
    return id
  }

  clearTimeout = (handle: unknown): void => {
    this.scheduled.delete(handle as number)
  }

  /** Timers waiting to fire. */
  get pending (): number {
    return this.scheduled.size
  }

  /** Advance by `ms`, firing due timers in order (including ones they schedule). */
  tick (ms: number): void {
    const target = this.now + ms
    for (;;) {
      const due = [...this.scheduled.values()].filter((s) => s.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0]
      if (due === undefined) break
      this.scheduled.delete(due.id)
      this.now = due.at
      due.callback()
    }
    this.now = target
  }
}

/** Real timers that count what is still pending, to prove `close()` leaves none. */
export class CountingTimers implements Timers {
  readonly active = new Set<unknown>()

  setTimeout = (callback: () => void, ms: number): unknown => {
    const handle = setTimeout(() => { this.active.delete(handle); callback() }, ms)
    this.active.add(handle)
    return handle
  }

  clearTimeout = (handle: unknown): void => {
    this.active.delete(handle)
    clearTimeout(handle as NodeJS.Timeout)
  }
}
