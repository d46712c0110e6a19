// The example's React page (GET /react: @vix-realtime/react's hooks, bundled by
// scripts/build-example.mjs) in Chromium: two people chat and see each other.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Browser, Page } from 'playwright-core'
import { baseUrl, startExampleApp } from './helpers/app.js'
import { launchChromium, saveScreenshot } from './helpers/browser.js'
import { scrapeMetrics } from './helpers/metrics.js'
import { waitFor } from './helpers/wait.js'

const WAIT = 20_000
const browser = await launchChromium(t)

async function newPage (b: Browser): Promise<Page & { errors: string[] }> {
  const context = await b.newContext({ viewport: { width: 1000, height: 700 } })
  t.teardown(() => context.close())
  const page = Object.assign(await context.newPage(), { errors: [] as string[] })
  page.on('pageerror', (error) => { page.errors.push(error.message) })
  return page
}

async function enter (page: Page, url: string, name: string): Promise<void> {
  await page.goto(url)
  await page.getByLabel('Your name', { exact: true }).fill(name)
  await page.getByRole('button', { name: 'Join', exact: true }).click()
  await page.locator('#status[data-state="open"]').waitFor({ timeout: WAIT })
  await page.locator('#room-state', { hasText: 'joined' }).waitFor({ timeout: WAIT })
}

async function waitForList (page: Page, selector: string, expected: string[], what: string): Promise<void> {
  let last: string[] = []
  await waitFor(async () => {
    last = (await page.locator(selector).allTextContents()).map((line) => line.trim())
    return JSON.stringify(last) === JSON.stringify(expected)
  }, { timeout: WAIT, interval: 50, message: () => `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(last)}` })
}

if (browser !== undefined) {
  t.test('two React pages chat, list each other from presence, and each joined its room once', async (t) => {
    // The bundle as `npm start` and `npm test` build it.
    await promisify(execFile)(process.execPath, ['scripts/build-example.mjs'])
    const app = await startExampleApp(t)
    const base = baseUrl(app)
    const [ada, bob] = [await newPage(browser), await newPage(browser)]
    await enter(ada, `${base}/react`, 'Ada')
    await enter(bob, `${base}/react`, 'Bob')
    for (const page of [ada, bob]) await waitForList(page, '#members li', ['Ada', 'Bob'], 'members')
    const afterJoins = (await scrapeMetrics(app)).value('vix_ws_messages_inbound_total')
    t.equal(afterJoins, 2, 'two pages, two frames in: one join each')

    await ada.getByLabel('Message', { exact: true }).fill('Hello from React')
    await ada.getByRole('button', { name: 'Send', exact: true }).click()
    for (const page of [ada, bob]) await waitForList(page, '#log .message', ['Ada: Hello from React'], 'the message on both pages')
    await saveScreenshot(ada, 'react-chat.png')

    await bob.context().close()
    await waitForList(ada, '#members li', ['Ada'], 'Bob left')
    t.same(ada.errors.concat(bob.errors), [], 'no script error')
  })
}
