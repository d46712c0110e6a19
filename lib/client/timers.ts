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
  private readonly active_ = new Set<unknown>()

  constructor (private readonly timers_: Timers, private readonly unref_: boolean) {}

  set (callback: () => void, ms: number): unknown {
    const handle = this.timers_.setTimeout(() => {
      this.active_.delete(handle)
      callback()
    }, ms)
    // Browsers have no unref; in Node it lets the process exit while the client waits.
    if (this.unref_) (handle as { unref?: () => void }).unref?.()
    this.active_.add(handle)
    return handle
  }

  clear (handle: unknown): void {
    if (handle === undefined || !this.active_.delete(handle)) return
    this.timers_.clearTimeout(handle)
  }

  clearAll (): void {
    for (const handle of this.active_) this.timers_.clearTimeout(handle)
    this.active_.clear()
  }

  get size (): number {
    return this.active_.size
  }
}

export function defaultTimers (): Timers {
  return {
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (handle) => { globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>) }
  }
}
