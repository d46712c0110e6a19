/**
 * A small, dependency-free SVG renderer for the benchmark charts: horizontal
 * grouped bars, one group per scenario, one bar per system. Bars are scaled
 * within their group (the scenarios' values differ by orders of magnitude)
 * and every bar carries its value, so nothing is read off an axis.
 */

/** One bar: a system's value in one scenario. */
export interface Bar {
  series: string
  value: number
}

/** The bars of one scenario. */
export interface BarGroup {
  label: string
  bars: Bar[]
}

/** One chart: a measure (with its unit and which way is better) over several scenarios. */
export interface BarChart {
  title: string
  /** Printed after each value ("msg/s", "µs"). */
  unit: string
  better: 'higher' | 'lower'
  groups: BarGroup[]
  /** How a value is printed (default: 3 significant digits, thousands separated). */
  format?: (value: number) => string
}

export interface ChartDocument {
  title: string
  charts: BarChart[]
  /** Lines under the title: the machine, the date, the load. */
  caption: string[]
  /** Series drawn in the accent colour (the system under test). */
  highlight?: (series: string) => boolean
}

const WIDTH = 960
const MARGIN = 20
const LABEL_WIDTH = 250
const VALUE_WIDTH = 130
const PLOT_WIDTH = WIDTH - 2 * MARGIN - LABEL_WIDTH - VALUE_WIDTH
const BAR_HEIGHT = 16
const BAR_GAP = 4
const LINE = 18
const ACCENT = '#d9480f'
const OTHERS = ['#495057', '#868e96', '#1c7ed6', '#2f9e44', '#ae3ec9', '#adb5bd']

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Text made safe for SVG content and attribute values. */
export function escapeXml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => entities[c])
}

/** 3 significant digits below 1000, whole numbers with separators above. */
export function formatValue (value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US')
  return Number(value.toPrecision(3)).toString()
}

/** Bar length in px: `value` over the group's largest value, at least 1 px for a value above 0. */
export function barLength (value: number, max: number, width = PLOT_WIDTH): number {
  if (!(value > 0) || !(max > 0)) return 0
  return Math.max(1, Math.round((value / max) * width * 10) / 10)
}

function text (x: number, y: number, content: string, attributes: string): string {
  return `<text x="${x}" y="${y}" ${attributes}>${escapeXml(content)}</text>`
}

/**
 * The whole document as an SVG string.
 *
 * @example
 * writeFileSync('docs/benchmarks.svg', renderBarCharts({ title: 'Suite', caption: ['2 cores'], charts: [{
 *   title: 'Fan-out', unit: 'msg/s', better: 'higher',
 *   groups: [{ label: '1 per tick', bars: [{ series: 'vix', value: 83000 }, { series: 'ws', value: 120000 }] }]
 * }] }))
 */
export function renderBarCharts (doc: ChartDocument): string {
  const colours = new Map<string, string>()
  const colourOf = (series: string): string => {
    if (doc.highlight?.(series) === true) return ACCENT
    let colour = colours.get(series)
    if (colour === undefined) {
      colour = OTHERS[colours.size % OTHERS.length]
      colours.set(series, colour)
    }
    return colour
  }
  const body: string[] = []
  let y = MARGIN + LINE
  body.push(text(MARGIN, y, doc.title, 'class="title"'))
  for (const line of doc.caption) {
    y += LINE
    body.push(text(MARGIN, y, line, 'class="caption"'))
  }
  for (const chart of doc.charts) {
    y += LINE * 2
    body.push(text(MARGIN, y, `${chart.title} — ${chart.better} is better`, 'class="chart"'))
    const format = chart.format ?? formatValue
    for (const group of chart.groups) {
      y += LINE + 4
      body.push(text(MARGIN, y, group.label, 'class="group"'))
      const max = Math.max(0, ...group.bars.map((bar) => Number.isFinite(bar.value) ? bar.value : 0))
      y += 6
      for (const bar of group.bars) {
        const length = barLength(bar.value, max)
        const x = MARGIN + LABEL_WIDTH
        body.push(text(x - 8, y + BAR_HEIGHT - 4, bar.series, 'class="series" text-anchor="end"'))
        body.push(`<rect class="bar" x="${x}" y="${y}" width="${length}" height="${BAR_HEIGHT}" fill="${colourOf(bar.series)}"><title>${escapeXml(`${group.label}: ${bar.series} ${format(bar.value)} ${chart.unit}`)}</title></rect>`)
        body.push(text(x + length + 6, y + BAR_HEIGHT - 4, `${format(bar.value)} ${chart.unit}`, 'class="value"'))
        y += BAR_HEIGHT + BAR_GAP
      }
    }
  }
  const height = y + MARGIN
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeXml(doc.title)}">`,
    '<style>text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#212529}.title{font-size:18px;font-weight:600}.caption{font-size:12px;fill:#495057}.chart{font-size:15px;font-weight:600}.group{font-size:13px;font-weight:600;fill:#343a40}.series,.value{font-size:12px}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    ''
  ].join('\n')
}
