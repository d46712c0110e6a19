import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/** The repository root (tests run from it). */
export const root = process.cwd()

/** README.md and every markdown file under docs/ (recursively), as paths relative to the root. */
export function documentationFiles (): string[] {
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.md')) files.push(path)
    }
  }
  walk('docs')
  return ['README.md', ...files.sort()]
}

export function readDoc (path: string): string {
  return readFileSync(join(root, path), 'utf8')
}

/** The text outside fenced code blocks, line by line (fenced lines become empty, so line numbers hold). */
export function proseLines (text: string): string[] {
  let fenced = false
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced
      return ''
    }
    return fenced ? '' : line
  })
}

/** The cells of a table row: `| a | b |` → ['a', 'b']. */
function cells (line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim())
}

/**
 * The rows of the first table whose header is exactly `header` (cell texts), as
 * arrays of cell texts; throws when there is no such table, so a renamed column fails.
 */
export function tableRows (text: string, header: string[]): string[][] {
  const lines = proseLines(text)
  const start = lines.findIndex((line, i) => line.trim().startsWith('|') && cells(line).join('|') === header.join('|') && /^\|?[\s:|-]+$/.test(lines[i + 1] ?? ''))
  if (start === -1) throw new Error(`no table with the header | ${header.join(' | ')} |`)
  const rows: string[][] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break
    rows.push(cells(line))
  }
  return rows
}

/** The text inside the first pair of backticks of a cell (`` `VIX_ERR_X` `` → VIX_ERR_X). */
export function codeOf (cell: string): string | undefined {
  return /`([^`]+)`/.exec(cell)?.[1]
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingAnchors (text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading === null) continue
    const plain = heading[1].replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    const slug = plain.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

export interface MarkdownLink { target: string, line: number }

/** Every link and image target of the prose (not in code blocks or inline code). */
export function markdownLinks (text: string): MarkdownLink[] {
  const links: MarkdownLink[] = []
  proseLines(text).forEach((line, i) => {
    const prose = line.replace(/`[^`]*`/g, '')
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ target: match[1], line: i + 1 })
    }
  })
  return links
}

/** One fenced TypeScript block of a markdown file: where it is and its code. */
export interface CodeBlock { file: string, line: number, code: string }

/** Every ```ts / ```typescript block (or of `languages`) of `file` (relative to the root), with the line its fence opens on. */
export function typescriptBlocks (file: string, languages = ['ts', 'typescript']): CodeBlock[] {
  const lines = readDoc(file).split('\n')
  const blocks: CodeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i])
    if (open === null) continue
    let end = i + 1
    while (end < lines.length && lines[end].trim() !== open[1]) end++
    if (languages.includes(open[2])) blocks.push({ file, line: i + 1, code: lines.slice(i + 1, end).join('\n') + '\n' })
    i = end
  }
  return blocks
}
