export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export interface WaitOptions {
  /** Give up after this many ms (default 3000). */
  timeout?: number
  /** Pause between checks when there is no `next` (default 5 ms). */
  interval?: number
  /** What the timeout error says; a function is called only on timeout, to show the latest state. */
  message: string | (() => string)
  /** Instead of sleeping `interval`, await this between checks (e.g. the next frame, or one long poll); it is given the ms left. */
  next?: (remaining: number) => Promise<unknown>
}

/**
 * The one wait loop: check `condition` until it returns something other than
 * `undefined` or `false`, and resolve with that. After the deadline passes it
 * throws `message`.
 *
 * @example
 * await waitFor(() => app.realtime.sessions.size === 0, { message: 'every session to close' })
 */
export async function waitFor<T> (condition: () => T | undefined | false | Promise<T | undefined | false>, options: WaitOptions): Promise<T> {
  const timeout = options.timeout ?? 3000
  const deadline = Date.now() + timeout
  const next = options.next ?? (() => delay(options.interval ?? 5))
  for (;;) {
    const found = await condition()
    if (found !== undefined && found !== false) return found
    if (Date.now() > deadline) throw new Error(typeof options.message === 'function' ? options.message() : options.message)
    await next(Math.max(1, deadline - Date.now()))
  }
}

/** Wait until `check` holds (polling a condition the test cannot await directly). */
export async function until (check: () => boolean, timeoutMs = 3000): Promise<void> {
  await waitFor(check, { timeout: timeoutMs, message: 'condition not met in time' })
}

/**
 * An event-driven wake-up: `wait(ms)` resolves at the next `notify()`, or
 * after `ms` at the latest. Pass `(ms) => signal.wait(ms)` as `waitFor`'s `next`.
 */
export class Signal {
  private waiters: Array<() => void> = []

  notify (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  async wait (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.waiters.push(() => { clearTimeout(timer); resolve() })
    })
  }
}

/** Resolve with the arguments of the next `event` (matching `predicate`) of an emitter whose `on` returns an unsubscribe function. */
export async function nextEvent (emitter: { on: (event: any, listener: (...args: any[]) => void) => () => void }, event: string, predicate: (...args: any[]) => boolean = () => true, timeoutMs = 3000): Promise<any[]> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no "${event}" event within ${timeoutMs} ms`)) }, timeoutMs)
    const off = emitter.on(event, (...args: any[]) => {
      if (!predicate(...args)) return
      clearTimeout(timer)
      off()
      resolve(args)
    })
  })
}
