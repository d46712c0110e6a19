import t from 'tap'
import { once } from 'node:events'
import type { Browser, Page } from 'playwright-core'
import { baseUrl, startExampleApp } from './helpers/app.js'
import { launchChromium, saveScreenshot } from './helpers/browser.js'
import { startNode } from './helpers/child.js'
import { connectUrl } from './helpers/ws-client.js'
import { say, shown, startChatProcess } from './helpers/chat-page.js'
import { waitFor } from './helpers/wait.js'

const WAIT = 20_000

const browser = await launchChromium(t)

/** A page of its own (own storage, as another person's browser), with script errors collected. */
async function newPage (b: Browser, viewport = { width: 1280, height: 720 }): Promise<Page & { errors: string[] }> {
  const context = await b.newContext({ viewport })
  t.teardown(() => context.close())
  const page = Object.assign(await context.newPage(), { errors: [] as string[] })
  page.on('pageerror', (error) => { page.errors.push(error.message) })
  return page
}

/** Open the chat at `url` and enter `room` as `name`, driving the form by label and role as a person would. */
async function enter (page: Page, url: string, name: string, room: string): Promise<void> {
  await page.goto(url)
  await page.getByLabel('Your name', { exact: true }).fill(name)
  await page.getByLabel('Room', { exact: true }).fill(room)
  await page.getByRole('button', { name: 'Join', exact: true }).click()
  await page.locator('#status[data-state="open"]').waitFor({ timeout: WAIT })
  await page.getByRole('list').filter({ hasText: name }).first().waitFor({ timeout: WAIT })
}

async function members (page: Page): Promise<string[]> {
  return (await page.locator('#members li').allTextContents()).sort()
}

/** Wait until `read(page)` equals `expected` (order kept), and say what was there on timeout. */
async function waitForList (page: Page, read: (page: Page) => Promise<string[]>, expected: string[], what: string): Promise<void> {
  let last: string[] = []
  await waitFor(async () => {
    last = await read(page)
    return JSON.stringify(last) === JSON.stringify(expected)
  }, { timeout: WAIT, interval: 50, message: () => `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(last)}` })
}

const status = async (page: Page): Promise<{ state: string | null, transport: string | null, text: string }> => ({
  state: await page.locator('#status').getAttribute('data-state'),
  transport: await page.locator('#status').getAttribute('data-transport'),
  text: ((await page.locator('#status').textContent()) ?? '').replace(/\s+/g, ' ').trim()
})

if (browser !== undefined) {
  t.test('two pages chat both ways and see each other; another room sees nothing; a polling page chats with WebSocket pages', async (t) => {
    const app = await startExampleApp(t)
    const base = baseUrl(app)
    const [ada, bob, carol, dave] = [await newPage(browser), await newPage(browser), await newPage(browser), await newPage(browser)]
    await enter(ada, `${base}/`, 'Ada', 'general')
    await enter(bob, `${base}/`, 'Bob', 'general')
    await enter(carol, `${base}/`, 'Carol', 'random')
    await enter(dave, `${base}/?transport=polling`, 'Dave', 'general')

    t.same(await status(ada), { state: 'open', transport: 'websocket', text: 'connected via WebSocket' }, 'the WebSocket page says so')
    t.same(await status(dave), { state: 'open', transport: 'long-polling', text: 'polling via long polling' }, '?transport=polling forces long polling')
    for (const page of [ada, bob, dave]) await waitForList(page, members, ['Ada', 'Bob', 'Dave'], 'members of general')
    await waitForList(carol, members, ['Carol'], 'members of random')

    await say(ada, 'Hello from Ada')
    await waitForList(bob, shown, ['Ada: Hello from Ada'], 'Bob sees Ada')
    await say(bob, 'Hi Ada, Bob here')
    await say(dave, 'Dave, over long polling')
    const general = ['Ada: Hello from Ada', 'Bob: Hi Ada, Bob here', 'Dave: Dave, over long polling']
    for (const page of [ada, bob, dave]) await waitForList(page, shown, general, 'every general page')
    await say(carol, 'Only in random')
    await waitForList(carol, shown, ['Carol: Only in random'], 'Carol sees her own line')
    // Carol's line went to random only, and nothing of general reached her.
    await say(ada, 'Still general')
    for (const page of [ada, bob, dave]) await waitForList(page, shown, [...general, 'Ada: Still general'], 'general after random spoke')
    t.same(await shown(carol), ['Carol: Only in random'], 'the page in another room saw none of general')

    await saveScreenshot(ada, 'chat-wide.png')

    // A reload shows the history (fetched from GET /ws/history), each message once, then live again.
    await bob.reload()
    await bob.locator('#status[data-state="open"]').waitFor({ timeout: WAIT })
    await waitForList(bob, shown, [...general, 'Ada: Still general'], 'Bob after a reload')
    await say(ada, 'After the reload')
    await waitForList(bob, shown, [...general, 'Ada: Still general', 'Ada: After the reload'], 'live after the reload')
    // A page closing: the others' member lists follow at once, a WebSocket page's and a long-poll page's
    // (it ends its session as the page goes, instead of lingering until the session expires, 60 s).
    await bob.context().close()
    await waitForList(ada, members, ['Ada', 'Dave'], 'Bob left general')
    await dave.goto('about:blank')
    await waitForList(ada, members, ['Ada'], 'Dave (long polling) left general')
    t.same(ada.errors.concat(bob.errors, carol.errors, dave.errors), [], 'no script error')
  })

  t.test('history pages back with "Load older"; a name with <script> is shown as text; 375 px has no horizontal scroll', async (t) => {
    const app = await startExampleApp(t, { VIX_RATE_LIMIT: 'off' })
    const base = baseUrl(app)
    const node = await connectUrl(`${baseUrl(app, 'ws')}/ws?name=Loader`)
    t.teardown(() => { node.close() })
    await node.join('long')
    for (let i = 1; i <= 60; i++) node.send({ type: 'chat.message', id: `line-${i}`, room: 'long', payload: { text: `line ${i}` } })
    await node.waitFor((f) => f.kind === 'ack' && f.id === 'line-60', WAIT)

    const evil = '<script>window.pwned=1</script>'
    const page = await newPage(browser, { width: 375, height: 740 })
    await enter(page, `${base}/`, evil, 'long')
    const lines = Array.from({ length: 60 }, (_, i) => `Loader: line ${i + 1}`)
    await waitForList(page, shown, lines.slice(10), 'the newest page of history')
    await page.getByRole('button', { name: 'Load older' }).click()
    await waitForList(page, shown, lines, 'after Load older')
    t.equal(await page.getByRole('button', { name: 'Load older' }).isHidden(), true, 'nothing older: the button goes')

    await say(page, 'a-very-long-word-that-must-wrap-instead-of-widening-the-page-on-a-phone-screen')
    await waitFor(async () => (await shown(page)).length === 61, { timeout: WAIT, message: 'own line shown' })
    t.same(await members(page), [evil, 'Loader'].sort(), 'the name is listed as typed')
    t.equal(await page.locator('#log .message.mine .who').textContent(), evil, 'and shown beside its message as text')
    t.equal(await page.evaluate('typeof window.pwned'), 'undefined', 'the name never ran as script')
    t.equal(await page.locator('#log script, #members script').count(), 0, 'no script element was made of it')

    const widths = await page.evaluate('({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })') as { scroll: number, client: number }
    t.ok(widths.scroll <= widths.client, `no horizontal scroll at 375 px (${widths.scroll} <= ${widths.client})`)
    // On a phone the form is folded once joined (test/chat-states.test.ts): open it to measure its fields.
    await page.locator('#change').click()
    for (const label of ['Your name', 'Room', 'Message']) {
      const box = await page.getByLabel(label, { exact: true }).boundingBox()
      t.ok(box !== null && box.x >= 0 && box.x + box.width <= 375, `${label} fits the screen`)
    }
    await saveScreenshot(page, 'chat-narrow.png', true)
    t.same(page.errors, [], 'no script error')
  })

  t.test('the server process stops and starts again: the pages reconnect by themselves and show what was sent meanwhile exactly once', async (t) => {
    const { bundle, env, first, port } = await startChatProcess(t)
    const ws = await newPage(browser)
    const polling = await newPage(browser)
    await enter(ws, `${first.base}/`, 'Wendy', 'general')
    await enter(polling, `${first.base}/?transport=polling`, 'Paul', 'general')
    await say(ws, 'before the restart')
    const before = ['Wendy: before the restart']
    for (const page of [ws, polling]) await waitForList(page, shown, before, 'before the restart')

    first.process.kill('SIGTERM')
    await once(first.process, 'exit')
    for (const page of [ws, polling]) {
      await waitFor(async () => (await status(page)).state !== 'open', { timeout: WAIT, message: 'the page noticed the server went away' })
    }
    const down = await status(ws)
    t.match(down.text, /reconnecting|connecting/, `the state is shown while the server is down: ${down.text}`)
    // Sent while the server is down: queued by the client and sent (once) after the reconnect.
    await say(ws, 'typed while the server was down')

    await startNode(t, bundle, 'chat-again', { ...env, PORT: port })
    // Another client speaks as soon as the server is back, while the pages may still be reconnecting.
    const node = await connectUrl(`ws://127.0.0.1:${port}/ws?name=Node`)
    t.teardown(() => { node.close() })
    await node.join('general')
    node.send({ type: 'chat.message', id: 'after-restart', room: 'general', payload: { text: 'sent after the restart' } })
    await node.waitFor((f) => f.kind === 'ack' && f.id === 'after-restart', WAIT)

    for (const page of [ws, polling]) {
      await page.locator('#status[data-state="open"]').waitFor({ timeout: 30_000 })
      let seen: string[] = []
      await waitFor(async () => {
        seen = await shown(page)
        return seen.length >= 3
      }, { timeout: 30_000, interval: 50, message: () => `the page did not catch up: ${JSON.stringify(seen)}` })
      // Give replays and late deliveries the time to show a duplicate, if there were one.
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const lines = await shown(page)
      t.equal(lines.length, 3, `every message once: ${JSON.stringify(lines)}`)
      for (const line of ['Wendy: before the restart', 'Wendy: typed while the server was down', 'Node: sent after the restart']) {
        t.equal(lines.filter((found) => found === line).length, 1, `${line} once`)
      }
    }
    await waitForList(ws, members, ['Node', 'Paul', 'Wendy'], 'members after the restart')
    t.same(ws.errors.concat(polling.errors), [], 'no script error')
  })
}
