import t from 'tap'
import { errorTable } from '../schemas/protocol.js'
import { ErrorCodes, httpStatusOf } from '../lib/errors.js'
import { codeOf, readDoc, tableRows } from './helpers/markdown.js'

const rows = tableRows(readDoc('docs/errors.md'), ['code', 'HTTP status', 'close code', 'meaning'])
const documented = rows.map((row) => ({ code: codeOf(row[0]), status: Number(/^\d{3}/.exec(row[1])?.[0]), meaning: row[3] }))

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

t.test('no other page of the docs keeps an error table of its own', async (t) => {
  for (const path of ['README.md', 'docs/protocol.md', 'docs/options.md', 'docs/client.md']) {
    t.throws(() => tableRows(readDoc(path), ['code', 'HTTP status', 'close code', 'meaning']), `${path} has no copy`)
    t.throws(() => tableRows(readDoc(path), ['code', 'HTTP', 'meaning']), `${path} has no old table`)
  }
})
