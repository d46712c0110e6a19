// In Chromium, a page without a bundler (`import { VixClient } from '/ws/client.js'`):
// on WebSocket it downloads that one file and nothing else; where WebSocket is blocked
// (the page's WebSocket fails as a proxy that drops upgrades would make it) it falls
// back to SSE, or to long polling, loading the HTTP transports' chunk from beside the
// entry, and chats over it.
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { launchChromium } from './helpers/browser.js'
import { baseUrl, build } from './helpers/app.js'

const browser = await launchChromium(t)

/** A WebSocket that never connects: an error, then a close without a status, as browsers report a blocked upgrade. */
const blockedWebSocket = `
  window.WebSocket = class BlockedWebSocket {
    constructor () {
      this.readyState = 0
      setTimeout(() => { this.readyState = 3; this.onerror?.(new Event('error')); this.onclose?.({ code: 1006, reason: '' }) }, 5)
    }
    send () {}
    close () {}
  }
`

/** The page: connect, join, publish and receive a message; the outcome in `window.result`. */
function pageWith (transports: string[], blocked: boolean): string {
  return `<!doctype html><script type="module">
    ${blocked ? blockedWebSocket : ''}
    const { VixClient } = await import('/ws/client.js')
    const client = new VixClient({ url: new URL('/ws', location.href).href, transports: ${JSON.stringify(transports)}, reconnect: { minDelay: 50, maxDelay: 50 } })
    const switches = []
    client.on('transport', (to, from) => { switches.push(from + ' > ' + to) })
    await client.connect()
    const ack = await client.join('general')
    const received = new Promise((resolve) => { client.on('chat', (message) => { resolve(message.payload.text) }) })
    await client.publish('general', 'chat', { text: 'over ' + client.transport })
    window.result = { transport: client.transport, switches, joined: ack.room, received: await received }
  </script>`
}

async function open (t: Test, path: string): Promise<{ page: Page, requested: string[], errors: string[] }> {
  const app = await build(t, { docs: false, relayTypes: ['chat'] }, (app) => {
    app.get('/ws-page', async (_request, reply) => await reply.type('text/html').send(pageWith(['websocket', 'sse', 'polling'], false)))
    app.get('/sse-page', async (_request, reply) => await reply.type('text/html').send(pageWith(['websocket', 'sse', 'polling'], true)))
    app.get('/polling-page', async (_request, reply) => await reply.type('text/html').send(pageWith(['websocket', 'polling'], true)))
  })
  const context = await browser!.newContext()
  t.teardown(() => context.close())
  const page = await context.newPage()
  const requested: string[] = []
  const errors: string[] = []
  page.on('request', (request) => { if (request.url().endsWith('.js')) requested.push(new URL(request.url()).pathname) })
  page.on('pageerror', (error) => { errors.push(error.message) })
  await page.goto(`${baseUrl(app)}${path}`)
  await page.waitForFunction('window.result !== undefined', undefined, { timeout: 20_000 })
  return { page, requested, errors }
}

t.test('on WebSocket, the page downloads /ws/client.js and no chunk', { skip: browser === undefined }, async (t) => {
  const { page, requested, errors } = await open(t, '/ws-page')
  t.same(await page.evaluate('window.result'), { transport: 'websocket', switches: [], joined: 'general', received: 'over websocket' })
  t.same(requested, ['/ws/client.js'], 'one file')
  t.same(errors, [])
})

for (const [path, transport] of [['/sse-page', 'sse'], ['/polling-page', 'long-polling']] as const) {
  t.test(`WebSocket blocked: the page falls back to ${transport} through the chunk beside /ws/client.js`, { skip: browser === undefined }, async (t) => {
    const { page, requested, errors } = await open(t, path)
    t.same(await page.evaluate('window.result'), { transport, switches: [`websocket > ${transport}`], joined: 'general', received: `over ${transport}` })
    t.equal(requested[0], '/ws/client.js')
    t.match(requested.slice(1), [/^\/ws\/vix-client-http-transports-[A-Z0-9]+\.js$/], 'then its HTTP transports, once')
    t.same(errors, [])
  })
}
