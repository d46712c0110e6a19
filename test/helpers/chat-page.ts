import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { bundleForChild, startNode, type NodeProcess } from './child.js'

const serverFile = fileURLToPath(new URL('../../example-app/server.ts', import.meta.url))

/** Type `text` in the example chat page and send it, as a person would. */
export async function say (page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text)
  await page.getByRole('button', { name: 'Send', exact: true }).click()
}

/** The messages on screen, in order, as `sender: text`. */
export async function shown (page: Page): Promise<string[]> {
  return await page.locator('#log .message').evaluateAll((items: any[]) => items.map((item) =>
    `${String(item.querySelector('.who')?.textContent ?? '')}: ${String(item.querySelector('.text')?.textContent ?? '')}`))
}

/** The example app's server as its own process (so it can be killed and started again on `port` with `env`). */
export async function startChatProcess (t: { teardown: (fn: () => unknown) => void, testdir: () => string }): Promise<{ bundle: string, env: Record<string, string>, first: NodeProcess, port: string }> {
  const dir = t.testdir()
  const bundle = await bundleForChild(serverFile, dir)
  const env = { VIX_STORE_PATH: join(dir, 'messages.db') }
  const first = await startNode(t, bundle, 'chat', env)
  return { bundle, env, first, port: new URL(first.base).port }
}
