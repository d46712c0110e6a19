import type { FastifyInstance } from 'fastify'
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format'
import { errorReasons } from '../../plugins/index.js'
import { waitFor } from './wait.js'

/** One parsed scrape of the metrics endpoint. */
export interface MetricsScrape {
  text: string
  families: Map<string, ParsedFamily>
  /** A counter or gauge sample (with `labels`, the sample carrying exactly those). Throws when absent. */
  value: (name: string, labels?: Record<string, string>) => number
  /** A histogram's sample count, sum and cumulative buckets (keyed by `le`). */
  histogram: (name: string) => { count: number, sum: number, buckets: Record<string, number> }
}

/** GET the metrics endpoint and parse it with a real Prometheus text-format parser. */
export async function scrapeMetrics (app: FastifyInstance, path = '/metrics'): Promise<MetricsScrape> {
  const response = await app.inject({ method: 'GET', url: path })
  if (response.statusCode !== 200) throw new Error(`GET ${path} answered ${response.statusCode}: ${response.body}`)
  const text = response.body
  const families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]))
  const family = (name: string): ParsedFamily => {
    const found = families.get(name)
    if (found === undefined) throw new Error(`no metric family ${name}`)
    return found
  }
  return {
    text,
    families,
    value (name, labels) {
      const sample = family(name).metrics.find((metric) => JSON.stringify(metric.labels ?? {}) === JSON.stringify(labels ?? {}))
      if (sample?.value === undefined) throw new Error(`no sample ${name}${JSON.stringify(labels ?? {})}`)
      return Number(sample.value)
    },
    histogram (name) {
      const sample = family(name).metrics[0]
      const buckets: Record<string, number> = {}
      for (const [le, count] of Object.entries(sample.buckets ?? {})) buckets[le] = Number(count)
      return { count: Number(sample.count), sum: Number(sample.sum), buckets }
    }
  }
}

/** Wait until `check` holds on a fresh scrape (the server sees a close a moment after the client). */
export async function eventually (app: Parameters<typeof scrapeMetrics>[0], check: (m: MetricsScrape) => boolean, timeoutMs = 5000): Promise<MetricsScrape> {
  let scrape: MetricsScrape | undefined
  return await waitFor(async () => {
    scrape = await scrapeMetrics(app)
    return check(scrape) && scrape
  }, { timeout: timeoutMs, interval: 10, message: () => `metrics never matched:\n${scrape?.text}` })
}

/** Every `vix_ws_errors_total` reason with its count. */
export const errorsOf = (m: MetricsScrape): Record<string, number> =>
  Object.fromEntries(errorReasons.map((reason) => [reason, m.value('vix_ws_errors_total', { reason })]))
