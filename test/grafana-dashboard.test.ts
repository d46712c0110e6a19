import t from 'tap'
import { readFile } from 'node:fs/promises'
import { build } from './helpers/app.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { hubOf } from '../lib/hub/realtime.js'

// docs/grafana/vix-realtime.json: importable (Grafana's import wizard binds the
// ${DS_PROMETHEUS} input), and every query names only series a vix-realtime server
// exposes, with the labels it groups by.

interface Target { expr: string, refId: string, datasource?: { type: string, uid: string } }
interface Panel { id: number, type: string, title?: string, datasource?: { type: string, uid: string }, gridPos: { h: number, w: number, x: number, y: number }, targets?: Target[], panels?: Panel[] }

const dashboard = JSON.parse(await readFile(new URL('../docs/grafana/vix-realtime.json', import.meta.url), 'utf8'))
const all: Panel[] = dashboard.panels.flatMap((panel: Panel) => [panel, ...(panel.panels ?? [])])
const queries: Panel[] = all.filter((panel) => panel.type !== 'row')
// The literal placeholder that Grafana's import replaces with the chosen datasource.
// eslint-disable-next-line no-template-curly-in-string
const DATASOURCE = { type: 'prometheus', uid: '${DS_PROMETHEUS}' }

/** Functions, aggregations and keywords of PromQL that can stand where a metric name would. */
const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan'])

/** The metric names an expression selects, and the labels it groups by. */
function namesOf (expr: string): { metrics: string[], groupBy: string[] } {
  const groupBy = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((label) => label.trim()).filter(Boolean))
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
  const metrics = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((m) => m[2] === undefined && !keywords.has(m[1].toLowerCase()))
    .map((m) => m[1])
  return { metrics, groupBy }
}

t.test('the expression reader finds metric names and grouping labels, not functions or label names', async (t) => {
  t.same(namesOf('histogram_quantile(0.99, sum by (le) (rate(vix_a_bucket{job=~"$job", x="y{z}"}[$__rate_interval])))'), { metrics: ['vix_a_bucket'], groupBy: ['le'] })
  t.same(namesOf('sum(rate(a_total[5m])) / sum(rate(b_count[5m]))'), { metrics: ['a_total', 'b_count'], groupBy: [] })
  t.same(namesOf('count(up{job="x"} == 0) or vector(0)'), { metrics: ['up'], groupBy: [] })
  t.same(namesOf('sum without (instance, pod) (rate(c_total[1m]))'), { metrics: ['c_total'], groupBy: ['instance', 'pod'] })
})

t.test('the dashboard is importable: uid, title, datasource input, panels with unique ids that do not overlap', async (t) => {
  t.equal(dashboard.uid, 'vix-realtime')
  t.equal(dashboard.title, 'vix-realtime')
  t.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`)
  t.equal(dashboard.id, null, 'no database id: import creates one')
  t.match(dashboard.__inputs, [{ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }])
  const ids = all.map((panel) => panel.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  t.ok(ids.every((id) => Number.isInteger(id) && id > 0))
  t.ok(queries.length >= 20, `${queries.length} panels`)

  const cells = new Map<string, string>()
  for (const panel of all) {
    const { h, w, x, y } = panel.gridPos
    t.ok([h, w, x, y].every(Number.isInteger) && h > 0 && w > 0 && x >= 0 && y >= 0 && x + w <= 24, `${panel.title ?? panel.id}: gridPos inside the 24 columns`)
    for (let row = y; row < y + h; row++) {
      for (let column = x; column < x + w; column++) {
        const owner = cells.get(`${row}:${column}`)
        if (owner !== undefined) t.fail(`${panel.title ?? panel.id} overlaps ${owner} at row ${row}, column ${column}`)
        cells.set(`${row}:${column}`, panel.title ?? String(panel.id))
      }
    }
  }
  for (const panel of queries) {
    t.ok(typeof panel.title === 'string' && panel.title.length > 0, `panel ${panel.id} has a title`)
    t.same(panel.datasource, DATASOURCE, `${panel.title}: the datasource input`)
    t.ok((panel.targets ?? []).length > 0, `${panel.title}: has queries`)
    const refIds = (panel.targets ?? []).map((target) => target.refId)
    t.equal(new Set(refIds).size, refIds.length, `${panel.title}: unique refIds`)
    for (const target of panel.targets ?? []) t.same(target.datasource, DATASOURCE, `${panel.title} ${target.refId}: the datasource input`)
  }
  for (const variable of dashboard.templating.list) t.same(variable.datasource, DATASOURCE, `variable ${variable.name}`)
})

t.test('every query names only series the server exposes, grouped by labels they have', async (t) => {
  // Process metrics are on the dashboard too, for apps that turn them on.
  // A dependency of the node (as Redis or PostgreSQL registers itself), so the vix_dependency_* series have samples;
  // a broker's link, as a networked broker's connection, so the vix_broker_link_* series have them too.
  const app = await build(t, { metrics: { defaultMetrics: true } }, (app) => {
    hubOf(app.realtime).health.add({ name: 'redis', label: 'Redis', option: 'broker.redis' }).link = { errors: 0, resubscriptions: 0 }
  })
  const scrape = await scrapeMetrics(app)
  const series = new Map<string, Set<string>>()
  for (const family of scrape.families.values()) {
    const labels = new Set(family.metrics.flatMap((sample) => Object.keys(sample.labels ?? {})))
    const names = family.type === 'HISTOGRAM'
      ? [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`]
      : family.type === 'SUMMARY' ? [family.name, `${family.name}_sum`, `${family.name}_count`] : [family.name]
    for (const name of names) series.set(name, name.endsWith('_bucket') ? new Set([...labels, 'le']) : labels)
  }
  t.ok(series.has('vix_publish_duration_seconds_bucket') && series.has('vix_ws_errors_total'), 'the scrape was read')

  const used = new Set<string>()
  const check = (where: string, expr: string): void => {
    const { metrics, groupBy } = namesOf(expr)
    t.ok(metrics.length > 0, `${where}: names a metric`)
    for (const metric of metrics) {
      used.add(metric)
      t.ok(series.has(metric), `${where}: ${metric} is exposed`)
      // job and instance are the labels Prometheus adds to every scraped series.
      for (const label of groupBy) {
        if (label !== 'job' && label !== 'instance') t.ok(series.get(metric)?.has(label), `${where}: ${metric} has the label ${label}`)
      }
    }
  }
  for (const panel of queries) for (const target of panel.targets ?? []) check(`${panel.title} ${target.refId}`, target.expr)
  for (const variable of dashboard.templating.list) {
    const metric = /^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(variable.query.query)?.[1]
    t.ok(metric !== undefined && series.has(metric), `variable ${variable.name} reads an exposed metric`)
  }

  // Every vix_ family has a panel (the dashboard covers what the server measures).
  const vixFamilies = [...scrape.families.values()].filter((family) => family.name.startsWith('vix_'))
  for (const family of vixFamilies) {
    const names = family.type === 'HISTOGRAM' ? [`${family.name}_bucket`, `${family.name}_count`] : [family.name]
    t.ok(names.some((name) => used.has(name)), `${family.name} is on the dashboard`)
  }
})
