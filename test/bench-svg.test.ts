import t from 'tap'
import { join } from 'node:path'
import { readFileSync, writeFileSync } from 'node:fs'
import { barLength, escapeXml, formatValue, renderBarCharts, type ChartDocument } from '../bench/svg.js'
import { median, suiteChart, writeSuiteChart, type SuiteResults } from '../bench/suite-chart.js'

/** Well-formed enough for any SVG reader: balanced tags, quoted attributes, no raw `<` or stray `&` in text. */
function checkWellFormed (svg: string): string[] {
  const problems: string[] = []
  const open: string[] = []
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y
  let at = 0
  while (at < svg.length) {
    const next = svg.indexOf('<', at)
    const textRun = svg.slice(at, next === -1 ? svg.length : next)
    if (/&(?!(?:amp|lt|gt|quot|#39);)/.test(textRun)) problems.push(`stray & in ${JSON.stringify(textRun)}`)
    if (next === -1) break
    tag.lastIndex = next
    const m = tag.exec(svg)
    if (m === null) {
      problems.push(`not a tag at ${next}: ${svg.slice(next, next + 40)}`)
      break
    }
    const [, closing, name, , selfClosing] = m
    if (closing === '/') {
      if (open.pop() !== name) problems.push(`</${name}> closes nothing open`)
    } else if (selfClosing !== '/') {
      open.push(name)
    }
    at = tag.lastIndex
  }
  if (open.length > 0) problems.push(`left open: ${open.join(', ')}`)
  return problems
}

const doc: ChartDocument = {
  title: 'Bench <1> & "friends"',
  caption: ['2 cores', "Node's 20"],
  highlight: (series) => series === 'vix',
  charts: [
    {
      title: 'Rate',
      unit: 'msg/s',
      better: 'higher',
      groups: [
        { label: 'fan-out', bars: [{ series: 'vix', value: 500 }, { series: 'ws <raw>', value: 1000 }, { series: 'io', value: 250 }] },
        { label: 'echo', bars: [{ series: 'vix', value: 3 }, { series: 'io', value: 0 }] }
      ]
    },
    { title: 'CPU', unit: 'µs', better: 'lower', format: (x) => x.toFixed(1), groups: [{ label: 'fan-out', bars: [{ series: 'io', value: 2 }, { series: 'vix', value: Number.NaN }] }] }
  ]
}

t.test('the SVG is well formed, with one bar per value, each bar scaled to its group\'s largest', async (t) => {
  const svg = renderBarCharts(doc)
  t.same(checkWellFormed(svg), [], 'well formed')
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="960" height="(\d+)" viewBox="0 0 960 \1"/)
  t.ok(svg.trimEnd().endsWith('</svg>'))
  const bars = [...svg.matchAll(/<rect class="bar" x="(\d+)" y="(\d+)" width="([\d.]+)" height="16" fill="(#[0-9a-f]{6})"><title>([^<]*)<\/title>/g)]
    .map((m) => ({ width: Number(m[3]), fill: m[4], title: m[5] }))
  t.equal(bars.length, 7, 'one bar per value')
  const [vix, ws, io, vixEcho, ioEcho, ioCpu, vixCpu] = bars
  t.equal(ws.width, 540, 'the largest of a group spans the plot')
  t.equal(vix.width, 270, 'half the largest, half the width')
  t.equal(io.width, 135)
  t.equal(vixEcho.width, 540, 'each group has its own scale')
  t.equal(ioEcho.width, 0, 'zero draws nothing')
  t.equal(ioCpu.width, 540)
  t.equal(vixCpu.width, 0, 'a missing measurement draws nothing')
  t.match(vixCpu.title, /n\/a|NaN/, 'and says so')
  t.equal(vix.fill, '#d9480f', 'the highlighted series in the accent colour')
  t.equal(vixEcho.fill, vix.fill)
  t.equal(io.fill, ioEcho.fill, 'a series keeps its colour across groups')
  t.equal(io.fill, ioCpu.fill, 'and across charts')
  t.not(io.fill, ws.fill, 'other series differ')
  t.match(svg, />500 msg\/s</, 'values carry their unit')
  t.match(svg, />2\.0 µs</, 'in the chart\'s format')
  t.match(svg, />Rate — higher is better</)
  t.match(svg, />CPU — lower is better</)
})

t.test('text is escaped everywhere it appears', async (t) => {
  const svg = renderBarCharts(doc)
  t.notMatch(svg, /<raw>|<1>|& "/, 'no raw markup from the data')
  t.match(svg, /ws &lt;raw&gt;/)
  t.match(svg, /aria-label="Bench &lt;1&gt; &amp; &quot;friends&quot;"/)
  t.match(svg, />Node&#39;s 20</)
  t.equal(escapeXml('<a href="x">&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;')
})

t.test('values are formatted and lengths rounded sensibly', async (t) => {
  t.equal(formatValue(1056856.4), '1,056,856')
  t.equal(formatValue(88.7234), '88.7')
  t.equal(formatValue(0.6789), '0.679')
  t.equal(formatValue(Number.POSITIVE_INFINITY), 'n/a')
  t.equal(barLength(1, 1_000_000), 1, 'a value above 0 stays visible')
  t.equal(barLength(1, 3, 100), 33.3)
  t.equal(barLength(-1, 3), 0)
  t.equal(barLength(1, 0), 0)
  t.ok(Number.isNaN(median([])))
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 2, 3]), 2.5)
})

const measure = (system: string, round: number, rate: number, cpuUsPerMsg: number): SuiteResults['results'][string][number] => ({ system, round, rate, cpuUsPerMsg, seconds: 1 })
const suite: SuiteResults = {
  machine: { cpus: 2, model: 'AMD EPYC', memGiB: 23.5, node: 'v20.20.2', pinned: true, date: '2026-12-01T13:20:38.141Z', seconds: 458, loadBefore: [0.58, 0.44, 0.25], loadAfter: [5.3, 5.17, 2.7], loadPeak: 8.73 },
  args: { rounds: '3', clients: '1000', burst: '1000', idle: '5000', scenarios: 'fanout,echo,idle,hold' },
  results: {
    'fanout-tick': [measure('vix', 0, 100, 9), measure('ws-loop', 0, 120, 7), measure('vix', 1, 80, 10), measure('ws-loop', 1, 110, 8), measure('vix', 2, 90, 11)],
    'echo-1': [measure('vix', 0, 3000, 88), measure('mystery', 0, 10, 1)],
    custom: [measure('vix', 0, 1, 1)]
  },
  memory: { vix: [{ round: 0, heapPerConn: 7168, rssPerConn: 6144 }, { round: 1, heapPerConn: 7168, rssPerConn: 8192 }], 'socket.io': [{ round: 0, heapPerConn: 10240, rssPerConn: 11264 }] },
  held: { connections: 10000, opened: 10000, seconds: 60, unexpectedCloses: 0, rssPerConn: 7475 }
}

t.test('a suite run becomes charts: medians over rounds, readable names, the machine and its load as caption', async (t) => {
  const chart = suiteChart(suite)
  t.same(chart.charts.map((c) => c.title), [
    'Messages delivered (fan-out) and round trips (echo) per second', 'Server CPU per delivered message or round trip', 'Idle memory per connection'
  ])
  const [rate, cpu, memory] = chart.charts
  t.same(rate.groups.map((g) => g.label), ['fan-out to 1,000 clients, one publish per tick', 'typed echo, 1 client', 'custom'], 'unknown scenarios keep their name')
  t.same(rate.groups[0].bars, [{ series: 'vix-realtime', value: 90 }, { series: 'ws, frame-once loop', value: 115 }], 'medians over rounds')
  t.same(cpu.groups[0].bars.map((b) => b.value), [10, 7.5])
  t.same(rate.groups[1].bars.map((b) => b.series), ['vix-realtime', 'mystery'], 'an unknown system keeps its name')
  t.same(memory.groups.map((g) => g.label), ['V8 heap per idle connection (5,000 open)', 'RSS per idle connection (5,000 open)'])
  t.same(memory.groups[0].bars, [{ series: 'vix-realtime', value: 7 }, { series: 'Socket.IO 4', value: 10 }], 'KB per connection')
  t.same(memory.groups[1].bars.map((b) => b.value), [7, 11])
  t.equal(rate.format?.(1234.5), '1,235')
  t.equal(cpu.format?.(0.678), '0.68')
  t.same(chart.caption, [
    '2 cores (AMD EPYC), 24 GiB, Node v20.20.2; servers pinned to core 0, the load generator to core 1',
    'Run 2026-12-01 13:20 UTC, 458 s; medians of 3 interleaved rounds; bars scale within each scenario.',
    'Load average (1 min) 0.58 at the start, 5.30 at the end, at most 8.73, on 2 cores: above the core count, other work shared the machine.',
    'Held: 10,000 of 10,000 vix-realtime connections for 60 s (ping every 5 s), 0 unexpected closes, 7.3 KB RSS each.'
  ])
  t.ok(chart.highlight?.('vix-realtime + SQLite store'))
  t.notOk(chart.highlight?.('Socket.IO 4'))
})

t.test('a partial run says what did not run and draws only what did', async (t) => {
  const partial: SuiteResults = {
    machine: { cpus: 2, memGiB: 24, node: 'v20.20.2', pinned: false, loadBefore: [0.5], loadAfter: [0.7] },
    args: { rounds: '1', scenarios: 'fanout' },
    results: { 'fanout-burst': [measure('vix', 0, 1e6, 0.7)] },
    memory: {}
  }
  const chart = suiteChart(partial)
  t.same(chart.charts.map((c) => c.groups.map((g) => g.label)), [['fan-out to 1,000 clients, 1,000 publishes in one tick'], ['fan-out to 1,000 clients, 1,000 publishes in one tick']], 'no memory chart without memory')
  t.same(chart.caption, [
    '2 cores (unknown CPU), 24 GiB, Node v20.20.2; not pinned',
    'Run date not recorded; medians of 1 interleaved rounds; bars scale within each scenario.',
    'Load average (1 min) 0.50 at the start, 0.70 at the end, on 2 cores.',
    'Not run: echo, idle, hold.'
  ])
  const bare = suiteChart({
    machine: { cpus: 2, memGiB: 24, node: 'v20', pinned: false },
    args: {},
    results: { 'echo-10': [measure('fastify-ws', 0, 17000, 22)] },
    memory: { 'fastify-ws': [{ round: 0, heapPerConn: 5120, rssPerConn: 5120 }] }
  })
  t.match(bare.caption, ['2 cores', 'Run date not recorded; medians of ? interleaved rounds', 'Load average not recorded.'])
  t.same(bare.charts.map((c) => c.groups.map((g) => g.label)), [['typed echo, 10 clients'], ['typed echo, 10 clients'], ['V8 heap per idle connection (5,000 open)', 'RSS per idle connection (5,000 open)']], 'the default counts when args lack them')
  t.equal(bare.charts[0].groups[0].bars[0].series, 'bare @fastify/websocket')
})

t.test('writeSuiteChart reads a results file and writes its SVG', async (t) => {
  const dir = t.testdir()
  const resultsFile = join(dir, 'suite.json')
  writeFileSync(resultsFile, JSON.stringify(suite))
  const svgFile = join(dir, 'docs', 'benchmarks.svg')
  const svg = writeSuiteChart(resultsFile, svgFile)
  t.equal(readFileSync(svgFile, 'utf8'), svg)
  t.same(checkWellFormed(svg), [])
  t.equal([...svg.matchAll(/<rect class="bar"/g)].length, 2 * (2 + 2 + 1) + 2 * 2, 'rate and CPU bars, then heap and RSS')
})

t.test('the committed docs/benchmarks.svg is well formed and drawn by this renderer', async (t) => {
  const committed = readFileSync(new URL('../docs/benchmarks.svg', import.meta.url), 'utf8')
  t.same(checkWellFormed(committed), [])
  t.match(committed, /class="caption">Load average \(1 min\)/, 'it says how loaded the machine was')
  t.match(committed, /class="chart">Server CPU per delivered message or round trip/)
})
