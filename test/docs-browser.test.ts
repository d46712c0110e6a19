import t from 'tap'
import { baseUrl, build } from './helpers/app.js'
import { launchChromium, saveScreenshot } from './helpers/browser.js'
import { documentedOperations } from './helpers/openapi.js'
import { requireService } from './helpers/services.js'

t.test('Swagger UI in headless Chromium lists every documented operation', async (t) => {
  const browser = await launchChromium(t)
  if (browser === undefined) return
  const app = await build(t, { relayTypes: ['chat.message'] })
  const document = (await app.inject('/docs/json')).json()
  const expected = [...documentedOperations(document).keys()].sort()
  t.ok(expected.length > 0, 'the document has operations')

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const pageErrors: string[] = []
  page.on('pageerror', (error) => { pageErrors.push(error.message) })

  await page.goto(`${baseUrl(app)}/docs`)
  await page.waitForSelector('.opblock', { timeout: 15_000 })
  const listed = await page.$$eval('.opblock', (blocks) => blocks.map((block) => {
    const method = block.querySelector('.opblock-summary-method')?.textContent ?? ''
    const path = block.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? ''
    return `${method.trim().toUpperCase()} ${path}`
  }))
  t.same(listed.sort(), expected, 'Swagger UI shows the operations of /docs/json')
  t.match(await page.textContent('.info .title'), /Realtime API/)

  // Open GET /ws: its 101 and 426 answers are on the page.
  await page.click('.opblock-get .opblock-summary')
  await page.waitForSelector('.responses-table')
  const statuses = await page.$$eval('.responses-table .response-col_status', (cells) => cells.map((cell) => cell.textContent?.trim()))
  for (const status of ['101', '401', '403', '426', '503']) t.ok(statuses.includes(status), `response ${status} is shown`)
  t.same(pageErrors, [], 'no script error on the page')
  await saveScreenshot(page, 'docs.png')
})

t.test('Swagger UI in headless Chromium: real error examples and the message table on GET /ws', async (t) => {
  const browser = await launchChromium(t)
  if (browser === undefined) return
  const app = await build(t, { relayTypes: ['chat.message'] })
  const page = await browser.newPage()
  await page.goto(`${baseUrl(app)}/docs`)
  await page.waitForSelector('.opblock', { timeout: 15_000 })
  await page.click('.opblock-get:has([data-path="/ws"]) .opblock-summary')
  await page.waitForSelector('.responses-table')

  const examples = await page.$$eval('.responses-table tr.response', (rows) => Object.fromEntries(rows.map((row) => [
    row.getAttribute('data-code'), row.querySelector('.example, .microlight, pre')?.textContent ?? ''
  ])))
  const wanted: Record<string, string> = { 401: 'VIX_ERR_UNAUTHORIZED', 403: 'VIX_ERR_FORBIDDEN', 426: 'VIX_ERR_UPGRADE_REQUIRED', 429: 'VIX_ERR_LIMIT_EXCEEDED', 503: 'VIX_ERR_SHUTTING_DOWN' }
  for (const [status, code] of Object.entries(wanted)) {
    t.match(examples[status], code, `${status} shows ${code}`)
    t.match(examples[status], `"statusCode": ${status}`, `${status} shows its status`)
    t.notMatch(examples[status], 'VIX_ERR_SESSION_NOT_FOUND', `${status} no longer shows the schema's made-up example`)
  }

  const rows = await page.$$eval('.opblock-description-wrapper table tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td, th')].map((cell) => cell.textContent?.trim())))
  t.ok(rows.some((row) => row[0] === 'type' && row[1] === 'direction'), 'the message table has its header')
  t.ok(rows.some((row) => row[0] === 'room.join' && row[3] === 'VixRoomJoinAckPayload'), 'room.join with its ack payload')
  t.ok(rows.some((row) => row[0] === 'chat.message' && row[1] === 'client → server'), 'the relay type')
})

t.test('Swagger UI in headless Chromium: no wall of raw JSON, presence frames in the table, a link to the AsyncAPI document', async (t) => {
  const browser = await launchChromium(t)
  if (browser === undefined) return
  const app = await build(t, { relayTypes: ['chat.message'], presence: { rooms: 'all' } })
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  await page.goto(`${baseUrl(app)}/docs`)
  await page.waitForSelector('.opblock', { timeout: 15_000 })
  const link = await page.$eval('.info a[href$="/asyncapi.json"]', (a) => a.getAttribute('href'))
  t.equal(link, '/docs/asyncapi.json', 'the description links to the AsyncAPI document')
  await page.click('.opblock-get:has([data-path="/ws"]) .opblock-summary')
  await page.waitForSelector('.responses-table')
  const text = await page.textContent('.opblock-get:has([data-path="/ws"])') ?? ''
  t.notMatch(text, 'Extensions', 'no extensions section')
  t.notMatch(text, '"direction":"client"', 'x-vix-messages is not shown as raw JSON')
  t.notMatch(text, '"closeCodes"', 'nor x-vix-websocket')
  const rows = await page.$$eval('.opblock-description-wrapper table tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td, th')].map((cell) => cell.textContent?.trim())))
  t.ok(rows.some((row) => row[0] === 'presence.state' && row[1] === 'server → client' && row[2] === 'VixPresenceState'), 'presence.state')
  t.ok(rows.some((row) => row[0] === 'presence.diff' && row[1] === 'server → client' && row[2] === 'VixPresenceDiff'), 'presence.diff')
  t.ok(rows.some((row) => row[0] === '1001'), 'the close codes table is still there')
  await saveScreenshot(page, 'docs-ws.png', true)
})

t.test('requireService: runs when available, skips with the reason, fails when services are required', async (t) => {
  const calls: string[] = []
  const reporter = {
    fail: (message: string) => calls.push(`fail: ${message}`),
    comment: (message: string) => calls.push(`comment: ${message}`),
    skip: (name: string) => calls.push(`skip: ${name}`)
  }
  const saved = process.env.VIX_REQUIRE_SERVICES
  t.teardown(() => {
    if (saved === undefined) delete process.env.VIX_REQUIRE_SERVICES
    else process.env.VIX_REQUIRE_SERVICES = saved
  })

  delete process.env.VIX_REQUIRE_SERVICES
  t.equal(requireService(reporter, 'chromium', true, 'not installed'), true)
  t.same(calls, [], 'nothing reported when the service is there')
  t.equal(requireService(reporter, 'chromium', false, 'not installed'), false)
  t.same(calls, ['comment: skipping: chromium unavailable: not installed', 'skip: chromium unavailable: not installed'])

  calls.length = 0
  process.env.VIX_REQUIRE_SERVICES = '1'
  t.equal(requireService(reporter, 'chromium', false, 'not installed'), false)
  t.same(calls, ['fail: chromium is required (VIX_REQUIRE_SERVICES=1) but not installed'])
})
