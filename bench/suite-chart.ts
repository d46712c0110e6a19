/**
 * The benchmark suite's results (bench/results/suite.json, written by
 * bench/suite.ts) as a chart: throughput, server CPU per message and idle
 * memory per connection, vix-realtime beside the other systems, with the
 * machine and its load at the time as the caption.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { renderBarCharts, type BarChart, type BarGroup, type ChartDocument } from './svg.js'

export interface SuiteMeasure { system: string, round: number, rate: number, cpuUsPerMsg: number, seconds: number, p50?: number, p99?: number }

/** What bench/suite.ts writes (the fields the chart reads). */
export interface SuiteResults {
  machine: {
    cpus: number
    model?: string
    memGiB: number
    node: string
    pinned: boolean
    /** ISO time the run started. */
    date?: string
    seconds?: number
    /** `os.loadavg()` when the run started and ended, and the highest 1-minute load seen during it. */
    loadBefore?: number[]
    loadAfter?: number[]
    loadPeak?: number
  }
  args: Record<string, unknown>
  results: Record<string, SuiteMeasure[]>
  memory: Record<string, Array<{ round: number, heapPerConn: number, rssPerConn: number }>>
  held?: { connections: number, opened: number, seconds: number, unexpectedCloses: number, rssPerConn: number }
}

/** The scenarios bench/suite.ts can run (its --scenarios names). */
export const suiteScenarios = ['fanout', 'echo', 'idle', 'hold'] as const

const systemNames: Record<string, string> = {
  vix: 'vix-realtime',
  'vix-sqlite': 'vix-realtime + SQLite store',
  'ws-loop': 'ws, frame-once loop',
  'ws-batch10': 'ws, 10 frames per write',
  'fastify-ws': 'bare @fastify/websocket',
  'socket.io': 'Socket.IO 4'
}
const nameOf = (system: string): string => systemNames[system] ?? system

export function median (values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function scenarioLabel (scenario: string, args: Record<string, unknown>): string {
  const clients = Number(args.clients ?? 1000).toLocaleString('en-US')
  switch (scenario) {
    case 'fanout-tick': return `fan-out to ${clients} clients, one publish per tick`
    case 'fanout-burst': return `fan-out to ${clients} clients, ${Number(args.burst ?? 1000).toLocaleString('en-US')} publishes in one tick`
    case 'echo-1': return 'typed echo, 1 client'
    case 'echo-10': return 'typed echo, 10 clients'
    default: return scenario
  }
}

/** One group per scenario, one bar per system (in the order they ran), each the median over rounds. */
function measureGroups (suite: SuiteResults, field: 'rate' | 'cpuUsPerMsg'): BarGroup[] {
  return Object.entries(suite.results).map(([scenario, measures]) => ({
    label: scenarioLabel(scenario, suite.args),
    bars: [...new Set(measures.map((m) => m.system))].map((system) => ({
      series: nameOf(system),
      value: median(measures.filter((m) => m.system === system).map((m) => m[field]))
    }))
  }))
}

function memoryGroups (suite: SuiteResults): BarGroup[] {
  const idle = Number(suite.args.idle ?? 5000).toLocaleString('en-US')
  const group = (label: string, field: 'heapPerConn' | 'rssPerConn'): BarGroup => ({
    label,
    bars: Object.entries(suite.memory).map(([system, list]) => ({ series: nameOf(system), value: median(list.map((m) => m[field])) / 1024 }))
  })
  return [group(`V8 heap per idle connection (${idle} open)`, 'heapPerConn'), group(`RSS per idle connection (${idle} open)`, 'rssPerConn')]
}

const round2 = (x: number): string => x.toFixed(2)

function caption (suite: SuiteResults): string[] {
  const { machine, args } = suite
  const lines = [
    `${machine.cpus} cores (${machine.model ?? 'unknown CPU'}), ${Math.round(machine.memGiB)} GiB, Node ${machine.node}; ` +
      (machine.pinned ? 'servers pinned to core 0, the load generator to core 1' : 'not pinned')
  ]
  const when = machine.date === undefined ? 'date not recorded' : `${machine.date.slice(0, 16).replace('T', ' ')} UTC`
  const took = machine.seconds === undefined ? '' : `, ${machine.seconds} s`
  lines.push(`Run ${when}${took}; medians of ${String(args.rounds ?? '?')} interleaved rounds; bars scale within each scenario.`)
  const before = machine.loadBefore?.[0]
  const after = machine.loadAfter?.[0]
  if (before !== undefined && after !== undefined) {
    const peak = machine.loadPeak === undefined ? '' : `, at most ${round2(machine.loadPeak)}`
    const busy = Math.max(before, after, machine.loadPeak ?? 0) > machine.cpus ? ': above the core count, other work shared the machine' : ''
    lines.push(`Load average (1 min) ${round2(before)} at the start, ${round2(after)} at the end${peak}, on ${machine.cpus} cores${busy}.`)
  } else {
    lines.push('Load average not recorded.')
  }
  const ran = new Set(String(args.scenarios ?? suiteScenarios.join(',')).split(','))
  const missing = suiteScenarios.filter((scenario) => !ran.has(scenario))
  if (missing.length > 0) lines.push(`Not run: ${missing.join(', ')}.`)
  const held = suite.held
  if (held !== undefined) {
    lines.push(`Held: ${held.opened.toLocaleString('en-US')} of ${held.connections.toLocaleString('en-US')} vix-realtime connections for ${held.seconds} s (ping every 5 s), ${held.unexpectedCloses} unexpected closes, ${(held.rssPerConn / 1024).toFixed(1)} KB RSS each.`)
  }
  return lines
}

/** The chart document of one suite run; charts without data are left out. */
export function suiteChart (suite: SuiteResults): ChartDocument {
  const charts: BarChart[] = [
    { title: 'Messages delivered (fan-out) and round trips (echo) per second', unit: '/s', better: 'higher', groups: measureGroups(suite, 'rate'), format: (x) => Math.round(x).toLocaleString('en-US') },
    { title: 'Server CPU per delivered message or round trip', unit: 'µs', better: 'lower', groups: measureGroups(suite, 'cpuUsPerMsg'), format: round2 },
    { title: 'Idle memory per connection', unit: 'KB', better: 'lower', groups: Object.keys(suite.memory).length === 0 ? [] : memoryGroups(suite), format: round2 }
  ]
  return {
    title: 'vix-realtime benchmark suite (npm run bench)',
    caption: caption(suite),
    charts: charts.filter((chart) => chart.groups.length > 0),
    highlight: (series) => series.startsWith('vix-realtime')
  }
}

/** Read a suite's results and write its chart; returns the SVG text. */
export function writeSuiteChart (resultsFile: string, svgFile: string): string {
  const suite = JSON.parse(readFileSync(resultsFile, 'utf8')) as SuiteResults
  const svg = renderBarCharts(suiteChart(suite))
  mkdirSync(dirname(svgFile), { recursive: true })
  writeFileSync(svgFile, svg)
  return svg
}
