import t from 'tap'
import { once } from 'node:events'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from './helpers/browser.js'
import { startNode } from './helpers/child.js'
import { say, shown, startChatProcess } from './helpers/chat-page.js'
import { waitFor } from './helpers/wait.js'

// In Chromium, with its native EventSource: a chat page on `?transport=sse` and
// one on WebSocket, across a restart of the server process while messages are
// sent; every message once, in order, on both; the WebSocket page never leaves
// WebSocket and is back on it within 2 s of the server.

const WAIT = 20_000

const browser = await launchChromium(t)

/** What the page's status pill said, each time it changed, and how many EventSources it made. */
const watchStatus = `
  window.__transports = []
  window.__eventSources = 0
  const Native = window.EventSource
  window.EventSource = class extends Native { constructor (...args) { super(...args); window.__eventSources++ } }
  new MutationObserver(() => {
    const status = document.getElementById('status')
    if (status !== null) window.__transports.push(status.dataset.state + ':' + status.dataset.transport)
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-state', 'data-transport'] })
`

async function newPage (b: Browser): Promise<Page & { errors: string[] }> {
  const context = await b.newContext()
  t.teardown(() => context.close())
  const page = Object.assign(await context.newPage(), { errors: [] as string[] })
  page.on('pageerror', (error) => { page.errors.push(error.message) })
  await page.addInitScript(watchStatus)
  return page
}

async function enter (page: Page, url: string, name: string): Promise<void> {
  await page.goto(url)
  await page.getByLabel('Your name', { exact: true }).fill(name)
  await page.getByLabel('Room', { exact: true }).fill('general')
  await page.getByRole('button', { name: 'Join', exact: true }).click()
  await page.locator('#status[data-state="open"]').waitFor({ timeout: WAIT })
}

/** The page's messages once it shows `count` (and a moment more, for a duplicate to show if there were one). */
async function caughtUp (page: Page, count: number): Promise<string[]> {
  let last: string[] = []
  await waitFor(async () => {
    last = await shown(page)
    return last.length >= count
  }, { timeout: 30_000, interval: 50, message: () => `the page did not catch up: ${JSON.stringify(last)}` })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  return await shown(page)
}

async function showsExactly (t: { same: (found: unknown, wanted: unknown, message: string) => unknown }, page: Page, expected: string[], what: string): Promise<void> {
  t.same(await caughtUp(page, expected.length), expected, `${what}: every message once, in order`)
}

if (browser !== undefined) {
  t.test('an SSE page and a WebSocket page chat across a server restart', async (t) => {
    const { bundle, env, first, port } = await startChatProcess(t)
    const sse = await newPage(browser)
    const ws = await newPage(browser)
    await enter(sse, `${first.base}/?transport=sse`, 'Sam')
    await enter(ws, `${first.base}/`, 'Wendy')
    t.match(((await sse.locator('#status').textContent()) ?? '').replace(/\s+/g, ' '), /SSE via SSE/, 'the pill says SSE')
    t.equal(await sse.locator('#status').getAttribute('data-transport'), 'sse')
    t.ok(await sse.evaluate('window.__eventSources') as number >= 1, 'the page streams with the native EventSource')
    t.equal(await ws.locator('#status').getAttribute('data-transport'), 'websocket')

    await say(sse, 'one from sse')
    await say(ws, 'two from ws')
    await showsExactly(t, ws, ['Sam: one from sse', 'Wendy: two from ws'], 'before the restart')

    first.process.kill('SIGTERM')
    await once(first.process, 'exit')
    for (const page of [sse, ws]) {
      await waitFor(async () => (await page.locator('#status').getAttribute('data-state')) !== 'open', { timeout: WAIT, message: 'the page noticed' })
    }
    await say(sse, 'three from sse, server down')
    await say(ws, 'four from ws, server down')

    await startNode(t, bundle, 'chat-again', { ...env, PORT: port })
    const back = Date.now()
    await ws.locator('#status[data-state="open"]').waitFor({ timeout: WAIT })
    const wsBackIn = Date.now() - back
    t.ok(wsBackIn <= 2000, `the WebSocket page is open again ${wsBackIn} ms after the server (at most 2 s)`)
    await sse.locator('#status[data-state="open"]').waitFor({ timeout: WAIT })
    await say(sse, 'five from sse')
    await say(ws, 'six from ws')

    const all = ['Sam: one from sse', 'Wendy: two from ws', 'Sam: three from sse, server down', 'Wendy: four from ws, server down', 'Sam: five from sse', 'Wendy: six from ws']
    // The two messages typed during the outage may be stored in either order (whichever page reconnected first):
    // both pages show the server's one order, each message once, each sender's in the order it typed them.
    const onSse = await caughtUp(sse, all.length)
    t.same(await caughtUp(ws, all.length), onSse, 'both pages show the same order')
    t.same([...onSse].sort(), [...all].sort(), 'every message once')
    for (const who of ['Sam', 'Wendy']) t.same(onSse.filter((line) => line.startsWith(who)), all.filter((line) => line.startsWith(who)), `${who}'s messages in the order typed`)
    const wsTransports = await ws.evaluate('window.__transports') as string[]
    t.same([...new Set(wsTransports.map((entry) => entry.split(':')[1]).filter((transport) => transport !== ''))], ['websocket'], `the WebSocket page showed no other transport: ${JSON.stringify(wsTransports)}`)
    t.notOk(wsTransports.some((entry) => entry.startsWith('reconnecting:long-polling')), 'never "reconnecting via long polling"')
    t.equal(await sse.locator('#status').getAttribute('data-transport'), 'sse', 'the SSE page is on SSE again')
    t.same(sse.errors.concat(ws.errors), [], 'no script error')
  })
}
