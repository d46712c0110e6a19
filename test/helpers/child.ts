import { join } from 'node:path'
import { build as esbuild } from 'esbuild'

/**
 * Bundle a TypeScript entry point to one ES module in `dir` for a child
 * process to run with plain `node`: it starts in well under a second even on a
 * loaded machine (a TypeScript loader in the child takes many), and its
 * coverage names only the bundle, so it never overwrites the run's own.
 * `dir` must sit inside the project so external packages resolve from node_modules.
 */
export async function bundleForChild (entry: string, dir: string): Promise<string> {
  const name = entry.split('/').at(-1)?.replace(/\.ts$/, '') ?? 'child'
  const outfile = join(dir, `${name}.bundle.mjs`)
  await esbuild({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'silent' })
  return outfile
}
