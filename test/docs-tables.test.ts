import t from 'tap'
import { codeOf, documentationFiles, proseLines, readDoc, tableRows } from './helpers/markdown.js'

/** The cells of a table row, `\|` inside a cell kept: `| a | b \| c |` → 2 cells. */
function cellCount (line: string): number {
  return line.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '').split(/(?<!\\)\|/).length
}

const separator = /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/

/** Every problem of the tables of `text`: a row whose cell count is not the header's, a blank line cutting a table after its header. */
function tableProblems (text: string): string[] {
  const lines = proseLines(text)
  const problems: string[] = []
  lines.forEach((line, i) => {
    if (!separator.test(line) || !lines[i - 1]?.trim().startsWith('|')) return
    const columns = cellCount(lines[i - 1] as string)
    if (cellCount(line) !== columns) problems.push(`line ${i + 1}: the separator has ${cellCount(line)} cells, the header ${columns}`)
    if (lines[i + 1]?.trim() === '' && lines[i + 2]?.trim().startsWith('|') === true) problems.push(`line ${i + 2}: a blank line after the header ends the table; its rows show as text`)
    for (let j = i + 1; j < lines.length && lines[j]?.trim().startsWith('|') === true; j++) {
      const count = cellCount(lines[j] as string)
      if (count !== columns) problems.push(`line ${j + 1}: ${count} cells in a table of ${columns} columns`)
    }
  })
  return problems
}

t.test('the checker finds a blank line after the header and a short row, and accepts escaped pipes', async (t) => {
  t.same(tableProblems('| a | b |\n|---|---|\n| `x \\| y` | z |\n'), [])
  t.same(tableProblems('| a | b |\n|---|---|\n\n| x | y |\n'), ['line 3: a blank line after the header ends the table; its rows show as text'])
  t.same(tableProblems('| a | b | c |\n|---|---|---|\n| x | y |\n'), ['line 3: 2 cells in a table of 3 columns'])
  t.same(tableProblems('```md\n| a | b |\n|---|---|\n| x |\n```\n'), [], 'code blocks are not tables')
})

for (const file of documentationFiles()) {
  t.test(`${file}: every table renders (no blank line after the header, every row as wide as the header)`, async (t) => {
    t.same(tableProblems(readDoc(file)), [])
  })
}

t.test('docs/protocol.md says what the server does with a client\'s from: refuses it at /from', async (t) => {
  const protocol = readDoc('docs/protocol.md')
  const row = tableRows(protocol, ['field', 'client → server', 'server → client']).find((cells) => codeOf(cells[0] as string) === 'from')
  t.match(row?.[1], /refused.*VIX_ERR_INVALID_MESSAGE.*`\/from`/)
  t.notMatch(protocol, /`from`[^|\n]*\| ignored/, 'not "ignored"')
  t.notMatch(protocol, 'never taken', 'nor "never taken", which reads as silently dropped')
})

t.test('no "Migrating from 0.1" note in 0.1.0', async (t) => {
  for (const file of documentationFiles()) t.notMatch(readDoc(file), /migrat\w* (from|note)[^\n]*0\.1|0\.1 migration/i, file)
})
