/**
 * Redraw docs/benchmarks.svg from a suite run's results, without running the
 * suite again: `npm run bench:chart [-- bench/results/suite-<date>.json]`
 * (default bench/results/suite.json, the latest run).
 */
import { fileURLToPath } from 'node:url'
import { writeSuiteChart } from './suite-chart.js'

const resultsFile = process.argv[2] ?? fileURLToPath(new URL('./results/suite.json', import.meta.url))
writeSuiteChart(resultsFile, fileURLToPath(new URL('../docs/benchmarks.svg', import.meta.url)))
console.error(`docs/benchmarks.svg drawn from ${resultsFile}`)
