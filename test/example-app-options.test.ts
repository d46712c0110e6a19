import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildExampleApp } from '../example-app/app.js'

const exampleDir = fileURLToPath(new URL('../example-app/', import.meta.url))
const rootDir = fileURLToPath(new URL('../', import.meta.url))

/**
 * The example app as a user who mistyped an option would have it: its source
 * with `from` replaced by `to`, written to the test's directory (imports
 * pointing back at the project) and imported.
 */
async function editedExampleApp (dir: string, from: string, to: string): Promise<typeof buildExampleApp> {
  const source = readFileSync(join(exampleDir, 'app.ts'), 'utf8')
  if (!source.includes(from)) throw new Error(`example-app/app.ts no longer holds ${from}`)
  const edited = source.replace(from, to).replaceAll("from './", `from '${exampleDir}`).replaceAll("from '../", `from '${rootDir}`)
  const file = join(dir, `app-${to.replace(/\W/g, '')}.ts`)
  writeFileSync(file, edited)
  return ((await import(pathToFileURL(file).href)) as { buildExampleApp: typeof buildExampleApp }).buildExampleApp
}

t.test('the example app with relayType (for relayTypes) fails boot naming the key and suggesting relayTypes', async (t) => {
  const build = await editedExampleApp(t.testdir(), 'relayTypes:', 'relayType:')
  await t.rejects(build({ env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db') } }),
    { code: 'VIX_ERR_INVALID_OPTION', message: /^Invalid option "relayType": unknown option; did you mean "relayTypes"\?$/ })
})

t.test('the example app with store.pth (for store.path) fails boot naming store.pth and suggesting store.path', async (t) => {
  const build = await editedExampleApp(t.testdir(), '{ path: env.VIX_STORE_PATH', '{ pth: env.VIX_STORE_PATH')
  await t.rejects(build({ env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db') } }),
    { code: 'VIX_ERR_INVALID_OPTION', message: /^Invalid option "store\.pth": unknown option; did you mean "store\.path"\?$/ })
})

t.test('VIX_PUBLISH_KEY=short fails boot naming the variable, not the option it becomes', async (t) => {
  await t.rejects(buildExampleApp({ env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db'), VIX_PUBLISH_KEY: 'short' } }),
    { code: 'VIX_ERR_INVALID_ENV', message: /^Invalid environment variable VIX_PUBLISH_KEY=<5 characters>: expected a secret of at least 16 characters$/ })
})

t.test('LONGPOLL_WAIT=25000 (milliseconds where seconds are expected) fails boot naming the variable and its unit', async (t) => {
  await t.rejects(buildExampleApp({ env: { VIX_STORE_PATH: join(t.testdir(), 'messages.db'), LONGPOLL_WAIT: '25000' } }),
    { code: 'VIX_ERR_INVALID_ENV', message: /LONGPOLL_WAIT=25000: expected a whole number of seconds from 1 to 300 \(LONGPOLL_WAIT is in seconds, not milliseconds\)/ })
})
