import t from 'tap'
import { errorReasons, errorTable } from '../schemas/protocol.js'
import { ErrorCodes, errorReasonOf, httpStatusOf } from '../lib/errors.js'
import { codeOf, readDoc, tableRows } from './helpers/markdown.js'

const rows = tableRows(readDoc('docs/errors.md'), ['code', 'HTTP status', 'close code', 'counted as', 'meaning'])
const documented = rows.map((row) => ({ code: codeOf(row[0]), status: Number(/^\d{3}/.exec(row[1])?.[0]), reason: codeOf(row[3]), meaning: row[4] }))

t.test('docs/errors.md lists every error code of the table, each once, and nothing else', async (t) => {
  const codes = documented.map((row) => row.code)
  t.same([...codes].sort(), Object.values(errorTable).map((entry) => entry.code).sort())
  t.equal(new Set(codes).size, codes.length, 'no code twice')
  t.same([...codes].sort(), Object.values(ErrorCodes).sort(), 'the codes lib/errors.ts exports')
})

t.test('each code has the HTTP status of the table, and a meaning', async (t) => {
  for (const row of documented) {
    t.equal(row.status, httpStatusOf(row.code as string), `${row.code as string}: status`)
    t.ok(row.meaning.length > 10, `${row.code as string}: meaning`)
  }
})

t.test('each code is counted as the reason of the table, and docs/metrics.md defines every reason', async (t) => {
  const metrics = readDoc('docs/metrics.md')
  const definition = tableRows(metrics, ['name', 'type', 'labels', 'meaning']).find((row) => codeOf(row[0]) === 'vix_ws_errors_total')?.[3] ?? ''
  for (const row of documented) t.equal(row.reason, errorReasonOf(row.code as string), `${row.code as string}: counted as`)
  for (const reason of errorReasons) t.match(definition, `\`${reason}\` (`, `${reason} is defined in the metrics table`)
  // The reasons no code of the table maps to are counted for close codes only.
  const unused = errorReasons.filter((reason) => !Object.values(errorTable).some((entry) => entry.reason === reason))
  t.same(unused, ['slow_consumer'])
})

t.test('no other page of the docs keeps an error table of its own', async (t) => {
  for (const path of ['README.md', 'docs/protocol.md', 'docs/options.md', 'docs/client.md']) {
    t.throws(() => tableRows(readDoc(path), ['code', 'HTTP status', 'close code', 'counted as', 'meaning']), `${path} has no copy`)
    t.throws(() => tableRows(readDoc(path), ['code', 'HTTP status', 'close code', 'meaning']), `${path} has no copy`)
    t.throws(() => tableRows(readDoc(path), ['code', 'HTTP', 'meaning']), `${path} has no old table`)
  }
})
