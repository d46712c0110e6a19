import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { build as esbuild } from 'esbuild'
import { freePort } from './redis.js'
import { waitFor } from './wait.js'

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

/** A server process of the test's own (an example-app bundle), on a free port of 127.0.0.1. */
export interface NodeProcess { name: string, base: string, ws: string, process: ChildProcess, output: () => string }

/**
 * Start `bundle` as a node with `env` (plus HOST, and PORT: a free one unless
 * `env.PORT` names one, e.g. to restart a node on its port) and resolve once it
 * answers `GET /ws` with 426; killed at the end of the test. Its output is
 * kept for failure messages.
 */
export async function startNode (t: { teardown: (fn: () => unknown) => void }, bundle: string, name: string, env: Record<string, string>, timeout = 60_000): Promise<NodeProcess> {
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT)
  const child = spawn(process.execPath, [bundle], { env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const base = `http://127.0.0.1:${port}`
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`node ${name} exited: ${output}`)
    try { return (await fetch(`${base}/ws`)).status === 426 } catch { return false }
  }, { timeout, interval: 100, message: () => `node ${name} did not start: ${output}` })
  return { name, base, ws: `ws://127.0.0.1:${port}/ws`, process: child, output: () => output }
}
