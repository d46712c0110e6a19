import type { DefaultMetricsCollectorConfiguration, Registry, RegistryContentType } from 'prom-client'
import { InvalidOptionError } from '../errors.js'

/** Default buckets of `vix_publish_duration_seconds`: an in-memory fan-out takes microseconds to milliseconds. */
export const publishDurationBuckets: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

/** Default buckets of `vix_store_append_duration_seconds`: one append, from the call to its commit (the group-commit wait and fsync included). */
export const storeAppendDurationBuckets: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

export type DefaultMetricsOptions = Omit<DefaultMetricsCollectorConfiguration<RegistryContentType>, 'register'>

export interface RealtimeMetricsOptions {
  /**
   * Registry to register the `vix_` metrics in (e.g. one shared with fastify-metrics).
   * Default: a new registry owned by this instance, so two apps in one process never collide.
   */
  registry?: Registry
  /** Also collect prom-client's default process metrics into the registry (default false). */
  defaultMetrics?: boolean | DefaultMetricsOptions
  /** Histogram buckets, in seconds. */
  buckets?: {
    publish?: number[]
    storeAppend?: number[]
  }
}

/** Register-time checks of the metrics options; a bad one throws `VIX_ERR_INVALID_OPTION`. */
export function checkMetricsOptions (options: RealtimeMetricsOptions): void {
  const registry = options.registry as unknown
  if (registry !== undefined && !isRegistry(registry)) {
    throw new InvalidOptionError('registry', 'expected a prom-client Registry')
  }
  const defaults = options.defaultMetrics as unknown
  if (defaults !== undefined && typeof defaults !== 'boolean' && (typeof defaults !== 'object' || defaults === null)) {
    throw new InvalidOptionError('defaultMetrics', `expected a boolean or an options object, got ${JSON.stringify(defaults)}`)
  }
  checkBuckets('buckets.publish', options.buckets?.publish)
  checkBuckets('buckets.storeAppend', options.buckets?.storeAppend)
}

// Duck-typed rather than `instanceof`, so a registry from another copy of prom-client is accepted.
function isRegistry (value: unknown): value is Registry {
  const candidate = value as Partial<Registry> | null
  return typeof candidate === 'object' && candidate !== null &&
    typeof candidate.registerMetric === 'function' && typeof candidate.metrics === 'function' &&
    typeof candidate.getSingleMetric === 'function' && typeof candidate.removeSingleMetric === 'function'
}

function checkBuckets (name: string, value: unknown): void {
  if (value === undefined) return
  const valid = Array.isArray(value) && value.length > 0 &&
    value.every((bound, i) => typeof bound === 'number' && Number.isFinite(bound) && bound > 0 && (i === 0 || bound > value[i - 1]))
  if (!valid) throw new InvalidOptionError(name, 'expected a non-empty array of increasing positive numbers (seconds)')
}
