/**
 * The real timers, taken when this module loads: the test client waits on
 * them, so a test that fakes the global timers afterwards (to drive the
 * server's heartbeats and expiries) still gets its `next` timeouts.
 */
export const realTimers = {
  setTimeout: globalThis.setTimeout.bind(globalThis),
  clearTimeout: globalThis.clearTimeout.bind(globalThis),
  setImmediate: globalThis.setImmediate.bind(globalThis),
  now: Date.now.bind(Date)
}

/** Resolve after `ms` real milliseconds. */
export async function realDelay (ms: number): Promise<void> {
  await new Promise<void>((resolve) => { realTimers.setTimeout(resolve, ms) })
}
