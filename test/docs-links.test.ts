import t from 'tap'
import { existsSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { documentationFiles, headingAnchors, markdownLinks, readDoc, root } from './helpers/markdown.js'

const external = /^[a-z][a-z0-9+.-]*:/i

t.test('the helpers read GitHub anchors and links as GitHub does', async (t) => {
  const text = '# The `app.realtime` API (`Hub`)\n## Positions, `since` and replay\n## Again\n## Again\n```md\n# not a heading [x](nowhere.md)\n```\nSee [a](b.md#c), `[no](code.md)` and ![img](i.png "title").\n'
  t.same([...headingAnchors(text)], ['the-apprealtime-api-hub', 'positions-since-and-replay', 'again', 'again-1'])
  t.same(markdownLinks(text).map((link) => link.target), ['b.md#c', 'i.png'])
})

for (const file of documentationFiles()) {
  t.test(`${file}: every relative link points at a file, every #anchor at a heading`, async (t) => {
    const links = markdownLinks(readDoc(file)).filter((link) => !external.test(link.target))
    for (const { target, line } of links) {
      const [path, anchor] = target.split('#') as [string, string | undefined]
      const resolved = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path)))
      const where = `${file}:${line} → ${target}`
      if (!existsSync(join(root, resolved))) {
        t.fail(`${where}: no file ${resolved}`)
        continue
      }
      if (anchor === undefined) {
        t.pass(where)
        continue
      }
      t.ok(resolved.endsWith('.md') && !statSync(join(root, resolved)).isDirectory() && headingAnchors(readDoc(resolved)).has(anchor), `${where}: heading #${anchor} in ${resolved}`)
    }
  })
}
