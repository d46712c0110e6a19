import { collectDefaultMetrics, type Registry } from 'prom-client'
import { InvalidOptionError } from '../errors.js'
import { MetricNames } from './names.js'
import type { RealtimeMetricsOptions } from './options.js'

/**
 * Makes `registry` ready for one hub's families: refuses a registry that
 * already holds one of them (another app's), then adds prom-client's process
 * metrics when asked. Answers the names the registry held before, so that
 * closing removes only what this instance added.
 */
export function prepareRegistry (registry: Registry, defaultMetrics: RealtimeMetricsOptions['defaultMetrics'] = false): ReadonlySet<string> {
  for (const name of Object.values(MetricNames)) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new InvalidOptionError('registry', `already holds "${name}": give each app its own registry`)
    }
  }
  const before = new Set(registry.getMetricsAsArray().map((metric) => metric.name))
  if (defaultMetrics !== false) {
    try {
      collectDefaultMetrics({ ...(defaultMetrics === true ? {} : defaultMetrics), register: registry })
    } catch (error) {
      // Typically a shared registry that already has process metrics: leave it as it was.
      for (const { name } of registry.getMetricsAsArray()) if (!before.has(name)) registry.removeSingleMetric(name)
      throw new InvalidOptionError('defaultMetrics', `cannot add process metrics to this registry (${(error as Error).message})`)
    }
  }
  return before
}
