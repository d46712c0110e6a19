/** Where the client gets its timers; replace it with a fake clock in tests. */
export interface Timers {
  setTimeout: (callback: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

/**
 * Every timer the client (and its transports) started and has not yet
 * fired or cleared, so `close()` can clear them all.
 */
export class TimerSet {
  private readonly active = new Set<unknown>()

  constructor (private readonly timers: Timers, private readonly unref: boolean) {}

  set (callback: () => void, ms: number): unknown {
    const handle = this.timers.setTimeout(() => {
      this.active.delete(handle)
      callback()
    }, ms)
    // Browsers have no unref; in Node it lets the process exit while the client waits.
    if (this.unref) (handle as { unref?: () => void }).unref?.()
    this.active.add(handle)
    return handle
  }

  clear (handle: unknown): void {
    if (handle === undefined || !this.active.delete(handle)) return
    this.timers.clearTimeout(handle)
  }

  clearAll (): void {
    for (const handle of this.active) this.timers.clearTimeout(handle)
    this.active.clear()
  }

  get size (): number {
    return this.active.size
  }
}

export function defaultTimers (): Timers {
  return {
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (handle) => { globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>) }
  }
}
