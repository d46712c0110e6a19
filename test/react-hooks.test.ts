// @vix-realtime/react with React 19 and Testing Library (jsdom) against a real
// server: the server's own metrics count the wire joins (each is one inbound
// frame of the only client) and the rooms it holds.
import t from 'tap'
import { Type } from '@sinclair/typebox'
import { createElement, StrictMode, useState, type ReactNode } from 'react'
import { renderToString } from 'react-dom/server'
import WebSocket from 'ws'
import { JSDOM } from 'jsdom'
import { VixClient, type VixMessage } from '@vix-realtime/client'
import { VixProvider, useConnectionState, usePresence, useRoom } from '@vix-realtime/react'
import { baseUrl, build, type Teardown } from './helpers/app.js'
import { eventually, scrapeMetrics } from './helpers/metrics.js'
import { delay } from './helpers/wait.js'

// Evaluated after every import above: none of them needed a DOM.
const windowAtImport = typeof (globalThis as { window?: unknown }).window

// Testing Library needs a DOM from here on: one jsdom for the file.
const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://127.0.0.1/' })
for (const [name, value] of Object.entries({ window: dom.window, document: dom.window.document, navigator: dom.window.navigator, IS_REACT_ACT_ENVIRONMENT: true })) {
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true })
}
t.teardown(() => { dom.window.close() })
const { act, render, screen } = await import('@testing-library/react')

t.test('imports and server-side rendering need no window or document', async (t) => {
  t.equal(windowAtImport, 'undefined', 'the packages (and React) were imported with no window')
  const client = new VixClient({ url: 'ws://127.0.0.1:9/ws', WebSocket })
  const html = renderToString(createElement(VixProvider, { client }, createElement(Status, { room: 'general' })))
  t.equal(html, '<p>closed general joining 0</p>', 'hooks render on a server; nothing connects')
  t.equal(client.state, 'closed')
})

/** Renders the connection state, the room's state and how many events it kept. */
function Status ({ room, onMessage }: { room: string, onMessage?: (message: VixMessage) => void }): ReactNode {
  const state = useConnectionState()
  const joined = useRoom(room, { onMessage })
  return createElement('p', null, `${state} ${room} ${joined.state} ${joined.messages.length}`)
}

interface Setup {
  app: Awaited<ReturnType<typeof build>>
  client: VixClient
  /** The children inside StrictMode and the provider of this test's client. */
  tree: (children: ReactNode) => ReactNode
  mount: (children: ReactNode) => ReturnType<typeof render>
}

async function setup (t: Teardown, leaveDelay = 400): Promise<Setup> {
  const app = await build(t, {
    relayTypes: ['chat.message'],
    authenticate: (request) => ({ name: String(request.headers['x-user'] ?? 'guest') }),
    identityKey: (identity) => (identity as { name: string }).name,
    presence: { rooms: ['lobby'], meta: (identity) => ({ name: (identity as { name: string }).name }) }
  }, (app) => {
    app.realtime.on('math.add', { schema: Type.Object({ a: Type.Number(), b: Type.Number() }), reply: Type.Object({ sum: Type.Number() }) }, (_session, msg) => ({ sum: msg.payload.a + msg.payload.b }))
  })
  const client = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, webSocketOptions: { headers: { 'x-user': 'ada' } }, longPolling: false })
  t.teardown(() => { client.close() })
  const tree = (children: ReactNode): ReactNode => createElement(StrictMode, null, createElement(VixProvider, { client, leaveDelay }, children))
  const mount = (children: ReactNode): ReturnType<typeof render> => {
    const view = render(tree(children))
    t.teardown(() => { view.unmount() })
    return view
  }
  return { app, client, tree, mount }
}

const inbound = async (app: Setup['app']): Promise<number> => (await scrapeMetrics(app)).value('vix_ws_messages_inbound_total')
// Testing Library's findBy waits outside act(), so the server's updates render as in a browser.
const shows = async (expected: string): Promise<void> => { await screen.findAllByText(expected, {}, { timeout: 5000 }) }
const say = (app: Setup['app'], text: string): void => { app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text } }) }

t.test('StrictMode\'s double mount makes one wire join', async (t) => {
  const { app, mount } = await setup(t, 200)
  mount(createElement(Status, { room: 'general' }))
  await shows('open general joined 0')
  // Past the leave delay: StrictMode's unmount did not leave the room either.
  await delay(400)
  const m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_connections_total'), 1, 'one connection')
  t.equal(m.value('vix_ws_messages_inbound_total'), 1, 'one frame from the client: the join')
  t.equal(m.value('vix_ws_rooms_active'), 1)
})

t.test('a new handler on each render does not rejoin, and the latest one gets the events', async (t) => {
  const { app, tree, mount } = await setup(t)
  const seen: string[] = []
  const handler = (label: string) => (msg: VixMessage) => { seen.push(`${label} ${String(msg.payload.text)}`) }
  const view = mount(createElement(Status, { room: 'general', onMessage: handler('first') }))
  await shows('open general joined 0')
  say(app, 'one')
  await shows('open general joined 1')
  view.rerender(tree(createElement(Status, { room: 'general', onMessage: handler('second') })))
  view.rerender(tree(createElement(Status, { room: 'general', onMessage: handler('third') })))
  say(app, 'two')
  await shows('open general joined 2')
  t.same(seen, ['first one', 'third two'], 'each event to the handler of the moment, once')
  t.equal(await inbound(app), 1, 'still the one join')
})

t.test('two components on one room share one join, and publish through it', async (t) => {
  const { app, mount } = await setup(t)
  function Chat ({ label }: { label: string }): ReactNode {
    const { messages, publish, request, state } = useRoom<{ text: string }>('general')
    const [sent, setSent] = useState('')
    const [sum, setSum] = useState<number>()
    return createElement('div', null,
      createElement('button', { onClick: () => { request<{ sum: number }>('math.add', { a: 1, b: 2 }).then((reply) => { setSum(reply.sum) }, () => {}) } }, `ask ${label}`),
      createElement('span', null, sum === undefined ? '' : `${label} sum ${sum}`),
      createElement('p', null, `${label} ${state} [${messages.map((m) => m.payload.text).join(',')}]`),
      createElement('button', { onClick: () => { publish('chat.message', { text: label }).then((ack) => { setSent(ack.id) }, () => {}) } }, `send ${label}`),
      createElement('span', null, sent === '' ? '' : `acked ${label}`))
  }
  mount([createElement(Chat, { key: 'a', label: 'a' }), createElement(Chat, { key: 'b', label: 'b' })])
  await shows('a joined []')
  await shows('b joined []')
  t.equal(await inbound(app), 1, 'one join for both')
  await act(async () => { screen.getByText('send a').click() })
  await shows('acked a')
  await shows('a joined [a]')
  await shows('b joined [a]')
  t.equal(await inbound(app), 2, 'the join and the publish')
  await act(async () => { screen.getByText('ask b').click() })
  await shows('b sum 3')
})

t.test('the last to unmount leaves after the delay, not before', async (t) => {
  const { app, mount } = await setup(t, 1500)
  const view = mount([createElement(Status, { key: 1, room: 'general' }), createElement(Status, { key: 2, room: 'general' })])
  await shows('open general joined 0')
  view.unmount()
  await delay(100)
  let m = await scrapeMetrics(app)
  t.equal(m.value('vix_ws_rooms_active'), 1, 'still in the room within the delay')
  t.equal(m.value('vix_ws_messages_inbound_total'), 1)
  m = await eventually(app, (m) => m.value('vix_ws_rooms_active') === 0, 6000)
  t.equal(m.value('vix_ws_messages_inbound_total'), 2, 'then one leave')
})

t.test('usePresence follows the members; a room refused shows failed', async (t) => {
  const { app, client, mount } = await setup(t)
  function Members (): ReactNode {
    const members = usePresence('lobby')
    return createElement('p', null, `members ${members.map((m) => String(m.meta.name)).sort().join(',')}`)
  }
  mount([createElement(Members, { key: 'm' }), createElement(Status, { key: 's', room: 'lobby' })])
  await shows('members ada')
  t.equal(await inbound(app), 1, 'usePresence and useRoom on one room: one join')
  const bob = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, webSocketOptions: { headers: { 'x-user': 'bob' } }, longPolling: false })
  t.teardown(() => { bob.close() })
  await bob.connect()
  await bob.join('lobby')
  await shows('members ada,bob')
  await bob.leave('lobby')
  await shows('members ada')
  t.equal(client.state, 'open')
})

t.test('another room: the new one starts empty, the old one is left after the delay; keep: 0 keeps nothing', async (t) => {
  const { app, tree, mount } = await setup(t, 1500)
  const seen: string[] = []
  function Kept ({ room }: { room: string }): ReactNode {
    const { messages, state } = useRoom(room, { keep: 1 })
    const silent = useRoom(room, { keep: 0, onMessage: (msg) => { seen.push(String(msg.payload.text)) } })
    return createElement('p', null, `${room} ${state} kept [${messages.map((m) => String(m.payload.text)).join(',')}] silent ${silent.messages.length}`)
  }
  const view = mount(createElement(Kept, { room: 'general' }))
  await shows('general joined kept [] silent 0')
  say(app, 'one')
  say(app, 'two')
  await shows('general joined kept [two] silent 0')
  t.same(seen, ['one', 'two'], 'keep: 0 still calls onMessage')
  view.rerender(tree(createElement(Kept, { room: 'random' })))
  await shows('random joined kept [] silent 0')
  t.equal((await scrapeMetrics(app)).value('vix_ws_rooms_active'), 2, 'general is kept for the delay')
  say(app, 'three') // to general, still joined: not this component's room any more
  app.realtime.publish({ room: 'random', type: 'chat.message', payload: { text: 'elsewhere' } })
  await shows('random joined kept [elsewhere] silent 0')
  t.same(seen, ['one', 'two', 'elsewhere'], 'the handler got random\'s event, not general\'s')
  await eventually(app, (m) => m.value('vix_ws_rooms_active') === 1, 6000)
  t.equal(await inbound(app), 3, 'join general, join random, leave general')
})

t.test('a provider given another client: the hooks follow it; a hook outside a provider throws a coded error', async (t) => {
  const { app, mount } = await setup(t)
  const other = new VixClient({ url: `${baseUrl(app, 'ws')}/ws`, WebSocket, longPolling: false })
  t.teardown(() => { other.close() })
  const view = mount(createElement(Status, { room: 'general' }))
  await shows('open general joined 0')
  view.rerender(createElement(StrictMode, null, createElement(VixProvider, { client: other, connect: false }, createElement(Status, { room: 'general' }))))
  await shows('closed general joining 0')
  t.equal(other.state, 'closed', 'connect: false leaves the client to the app')
  await act(async () => { await other.connect() })
  await shows('open general joined 0')
  t.throws(() => renderToString(createElement(Status, { room: 'general' })), { code: 'VIX_ERR_INVALID_OPTION' })
})
