import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** One fenced TypeScript block of a markdown file: where it is and its code. */
export interface CodeBlock { file: string, line: number, code: string }

const fenceOf = (line: string): { fence: string, lang: string } | undefined => {
  const match = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(line)
  return match === null ? undefined : { fence: match[1], lang: match[2] }
}

/** Every ```ts / ```typescript block of `file` (relative to `root`), with the line its fence opens on. */
export function typescriptBlocks (root: string, file: string): CodeBlock[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n')
  const blocks: CodeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = fenceOf(lines[i])
    if (open === undefined) continue
    let end = i + 1
    while (end < lines.length && lines[end].trim() !== open.fence) end++
    if (open.lang === 'ts' || open.lang === 'typescript') blocks.push({ file, line: i + 1, code: lines.slice(i + 1, end).join('\n') + '\n' })
    i = end
  }
  return blocks
}

/** README.md and every markdown file under docs/ (recursively), relative to `root`. */
export function markdownFiles (root: string): string[] {
  const files = ['README.md']
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.md')) files.push(path)
    }
  }
  if (existsSync(join(root, 'docs'))) walk('docs')
  return files
}
