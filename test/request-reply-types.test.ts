import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..')

// The fixture's `@ts-expect-error` lines must each be an error: tsc reports an unused one.
t.test('a wrong reply type and a wrong request payload are compile errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vix-request-types-'))
  const project = join(dir, 'tsconfig.json')
  writeFileSync(project, JSON.stringify({
    extends: join(root, 'tsconfig.json'),
    compilerOptions: { noEmit: true, rootDir: root, typeRoots: [join(root, 'node_modules/@types')] },
    include: [],
    files: [join(root, 'test/fixtures/request-reply-types.ts')]
  }))
  const output = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: root }).then(() => '', (error: { stdout: string }) => error.stdout)
  t.equal(output, '', 'no unused @ts-expect-error and no other error')
})
