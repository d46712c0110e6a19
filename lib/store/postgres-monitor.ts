import type { Dependency, Health } from '../health.js'
import type { PostgresMessageStore } from './postgres.js'

export interface PostgresMonitorOptions {
  /** Retry backoff while the database is down: first delay and ceiling, in ms (default 100 and 2000). */
  retryDelay?: { min?: number, max?: number }
  /** How often a reachable database is checked, in ms (default 2000). */
  interval?: number
}

/**
 * Keeps the `postgres` dependency's state: pings the store's pool (which
 * creates or migrates the schema first, so a store opened while the database
 * was down gets its tables once it comes up), every `interval` while it
 * answers and with capped exponential backoff while it does not. Any
 * operation of the store that cannot reach the database marks it down at once.
 *
 * @example
 * const monitor = new PostgresMonitor(store, health.add({ name: 'postgres', label: 'PostgreSQL', option: 'store.postgres', url }))
 * monitor.start()
 * monitor.stop()
 */
export class PostgresMonitor {
  private timer: NodeJS.Timeout | undefined
  private failures = 0
  private stopped = false
  private probing: Promise<void> | undefined
  private readonly min: number
  private readonly max: number
  private readonly interval: number

  constructor (private readonly store: PostgresMessageStore, readonly dependency: Dependency, options: PostgresMonitorOptions = {}) {
    this.min = options.retryDelay?.min ?? 100
    this.max = options.retryDelay?.max ?? 2000
    this.interval = options.interval ?? 2000
    store.onUnavailable = (error) => {
      if (this.stopped) return
      const wasUp = this.dependency.state === 'up'
      this.dependency.down(error)
      // Found down between checks: start retrying on the short delay instead of waiting out the interval.
      if (wasUp && this.probing === undefined) this.probeLater(this.min)
    }
  }

  start (): void {
    this.probeLater(0)
  }

  /** One check now: up on an answer, down (logged once per outage) otherwise. */
  probe (): Promise<void> {
    this.probing ??= this.check().finally(() => { this.probing = undefined })
    return this.probing
  }

  private async check (): Promise<void> {
    if (this.stopped) return
    clearTimeout(this.timer)
    try {
      await this.store.ping()
      if (this.stopped) return
      this.failures = 0
      this.dependency.up()
      this.probeLater(this.interval)
    } catch (error) {
      if (this.stopped) return
      this.dependency.down(error)
      this.probeLater(Math.min(this.max, this.min * 2 ** Math.min(this.failures++, 16)))
    }
  }

  private probeLater (delay: number): void {
    clearTimeout(this.timer)
    // check() reports every failure itself; the catch only keeps a bug from becoming an unhandled rejection.
    this.timer = setTimeout(() => { this.probe().catch((error: unknown) => { this.dependency.down(error) }) }, delay)
    this.timer.unref()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.store.onUnavailable = undefined
  }
}

/**
 * Open a PostgreSQL store as a dependency of the node: registered in
 * `health` as `postgres` (option `store.postgres`). By default the store
 * opens lazily: boot goes on while the database is down, publishes that
 * need it fail `VIX_ERR_STORE_UNAVAILABLE`, and the schema is made once it
 * answers. With `health.failFast` the first check must pass, or this
 * rejects with `VIX_ERR_DEPENDENCY_UNAVAILABLE` (the store closed).
 *
 * @example
 * const monitor = await watchPostgres(store, hub.health, url)
 * hub.lifecycle.add({ name: 'postgres-monitor', order: 90, finalize: () => { monitor.stop() } })
 */
export async function watchPostgres (store: PostgresMessageStore, health: Health, url: string | undefined, options: PostgresMonitorOptions = {}): Promise<PostgresMonitor> {
  const dependency = health.add({ name: 'postgres', label: 'PostgreSQL', option: 'store.postgres', url })
  if (health.failFast) {
    try {
      await store.ping()
    } catch (error) {
      await store.close()
      throw dependency.unavailable(error)
    }
    dependency.up()
  }
  const monitor = new PostgresMonitor(store, dependency, options)
  monitor.start()
  return monitor
}
