import t from 'tap'
import { Histogram, Registry } from 'prom-client'
import { LeanHistogram } from '../lib/histogram.js'

t.test('LeanHistogram exposes exactly what a prom-client Histogram does', async (t) => {
  const buckets = [0.001, 0.01, 0.1, 1]
  const reference = new Registry()
  const lean = new Registry()
  const expected = new Histogram({ name: 'job_seconds', help: 'Job time', buckets, registers: [reference] })
  const actual = new LeanHistogram({ name: 'job_seconds', help: 'Job time', buckets, registers: [lean] })
  const empty = await reference.metrics()
  t.equal(await lean.metrics(), empty, 'empty')
  // Values on a bound belong to that bucket (le is inclusive); 5 is above every bound.
  for (const value of [0, 0.001, 0.0011, 0.05, 0.1, 0.7, 1, 5]) {
    expected.observe(value)
    actual.observe(value)
  }
  t.equal(await lean.metrics(), await reference.metrics(), 'after observations')
  const values = async (registry: Registry): Promise<unknown> =>
    (await registry.getMetricsAsJSON())[0].values.map((sample) => ({ value: sample.value, labels: sample.labels, metricName: (sample as { metricName?: string }).metricName }))
  t.same(await values(lean), await values(reference), 'same JSON values too')
  // Back to zeros, as a fresh histogram shows (prom-client's own drops the samples until the next observe).
  lean.resetMetrics()
  t.equal(await lean.metrics(), empty, 'after reset')
})
