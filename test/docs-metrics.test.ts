import t from 'tap'
import { build } from './helpers/app.js'
import { codeOf, readDoc, tableRows } from './helpers/markdown.js'

t.test('docs/metrics.md lists exactly the vix_ metrics a running app registers, with their types', async (t) => {
  const app = await build(t, { presence: {} })
  const registered = (await app.realtimeMetrics.registry.getMetricsAsJSON())
    .filter((metric) => metric.name.startsWith('vix_'))
    .map((metric) => `${metric.name} ${String(metric.type)}`)
  const rows = tableRows(readDoc('docs/metrics.md'), ['name', 'type', 'labels', 'meaning'])
  const documented = rows.map((row) => `${codeOf(row[0]) ?? row[0]} ${row[1]}`)
  t.same([...documented].sort(), [...registered].sort())
  t.equal(new Set(documented).size, documented.length, 'no metric twice')
})
