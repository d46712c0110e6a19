import { Registry } from 'prom-client'
import type { HubObserver } from './hub/types.js'
import { countedFamilies } from './metrics/counted.js'
import { metricsObserver } from './metrics/observer.js'
import { checkMetricsOptions, type RealtimeMetricsOptions } from './metrics/options.js'
import { prepareRegistry } from './metrics/registry.js'
import { scrapedFamilies, type ScrapedParts } from './metrics/scraped.js'
import { errorReasons } from '../schemas/protocol.js'

/** Every value of the `reason` label (declared beside the error table, which gives each code its reason). */
export { errorReasons }
export { MetricNames } from './metrics/names.js'
export { checkMetricsOptions, publishDurationBuckets, storeAppendDurationBuckets, type DefaultMetricsOptions, type RealtimeMetricsOptions } from './metrics/options.js'

/** What the metrics read of the hub at scrape time, and the observer hook that feeds the counters. */
export interface MetricsParts extends ScrapedParts {
  addObserver: (observer: HubObserver) => () => void
}

/**
 * The Prometheus metrics of one hub. Counters and histograms are fed by a
 * hub observer (once per event, `inc(n)` per publish, never per recipient);
 * gauges are computed from the hub's live state at scrape time, so they
 * cannot drift whatever way a connection ended.
 *
 * @example
 * const metrics = new RealtimeMetrics(hub.metricsParts())
 * const text = await metrics.registry.metrics()
 * metrics.close()
 */
export class RealtimeMetrics {
  readonly registry: Registry
  /** True when the registry was created here (cleared on close) rather than passed in. */
  readonly ownsRegistry: boolean
  /** Names of the families this instance added (removed again on close from a registry passed in). */
  private readonly added: string[]
  private readonly detach: () => void
  private closed = false

  constructor (parts: MetricsParts, options: RealtimeMetricsOptions = {}) {
    checkMetricsOptions(options)
    this.ownsRegistry = options.registry === undefined
    this.registry = options.registry ?? new Registry()
    const before = prepareRegistry(this.registry, options.defaultMetrics)
    const counted = countedFamilies(this.registry, options.buckets)
    scrapedFamilies(this.registry, parts)
    this.detach = parts.addObserver(metricsObserver(counted))
    this.added = this.registry.getMetricsAsArray().map((metric) => metric.name).filter((name) => !before.has(name))
  }

  /** The content type of the exposition (`text/plain; version=0.0.4; charset=utf-8` for a default registry). */
  get contentType (): string {
    return this.registry.contentType
  }

  /** The exposition text of the whole registry. */
  async expose (): Promise<string> {
    return await this.registry.metrics()
  }

  /**
   * Stop counting. An owned registry is cleared; from a registry passed in, only
   * the families added here are removed (the app's own metrics stay), so a new
   * app may register into it again.
   */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.detach()
    if (this.ownsRegistry) {
      this.registry.clear()
    } else {
      for (const name of this.added) this.registry.removeSingleMetric(name)
    }
  }
}
