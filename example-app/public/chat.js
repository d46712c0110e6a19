// The example chat page: plain browser ES module, no framework, no build.
// The client comes from the server itself: GET /ws/client.js (this file is /chat.js).
import { VixClient } from './ws/client.js'

const ROOMS = ['general', 'random', 'help']
const PAGE = 50
const params = new URLSearchParams(window.location.search)
// `?transport=polling` or `?transport=sse`: that transport only. Otherwise WebSocket, then SSE, then long polling.
const forced = { polling: ['polling'], sse: ['sse'] }[params.get('transport')]
const TRANSPORT_NAMES = { websocket: 'WebSocket', sse: 'SSE', 'long-polling': 'long polling' }

const $ = (id) => document.getElementById(id)
const ui = {
  enter: $('enter'),
  name: $('name'),
  room: $('room'),
  rooms: $('rooms'),
  roomList: $('room-list'),
  notice: $('notice'),
  chat: $('chat'),
  roomTitle: $('room-title'),
  older: $('older'),
  log: $('log'),
  empty: $('empty'),
  members: $('members'),
  memberCount: $('member-count'),
  compose: $('compose'),
  message: $('message'),
  status: $('status'),
  stateText: $('state-text'),
  transportText: $('transport-text')
}

/** The connection (one per name: the name is the identity, given on connect) and what the page shows. */
let client = null
let myName = ''
let room = ''
/** Ids of the messages on screen: each one is shown once, whatever replays or reloads deliver. */
let shown = new Set()
let oldestId = null

// ---- status -----------------------------------------------------------------

function renderStatus () {
  const state = client === null ? 'closed' : client.state
  const transport = client === null ? '' : client.transport
  const open = state === 'open'
  const label = open ? ({ 'long-polling': 'polling', sse: 'SSE' }[transport] ?? 'connected') : state === 'closed' ? 'offline' : state
  ui.status.dataset.state = state
  ui.status.dataset.transport = transport
  ui.stateText.textContent = label
  ui.transportText.textContent = transport === '' ? '' : `via ${TRANSPORT_NAMES[transport] ?? transport}`
}

function notify (text) {
  ui.notice.textContent = text
  ui.notice.hidden = text === ''
}

// ---- messages ---------------------------------------------------------------

function messageItem (message) {
  const item = document.createElement('li')
  item.className = 'message'
  item.dataset.id = message.id
  const sender = message.from?.name
  if (sender === myName) item.classList.add('mine')
  const who = document.createElement('span')
  who.className = 'who'
  // Names and texts are set as text, never as HTML: a `<script>` name is shown as typed.
  who.textContent = typeof sender === 'string' ? sender : 'unknown'
  const time = document.createElement('time')
  time.dateTime = message.ts
  time.textContent = new Date(message.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  const text = document.createElement('p')
  text.className = 'text'
  text.textContent = String(message.payload?.text ?? '')
  item.append(who, time, text)
  return item
}

/** Add messages not yet shown, oldest first, at the end (live) or at the start (older pages). */
function show (messages, where = 'end') {
  const fresh = messages.filter((message) => message.type === 'chat.message' && message.room === room && !shown.has(message.id))
  if (fresh.length === 0) return
  for (const message of fresh) shown.add(message.id)
  const items = fresh.map(messageItem)
  const atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40
  if (where === 'start') ui.log.prepend(...items)
  else ui.log.append(...items)
  ui.empty.hidden = true
  if (where === 'end' && atBottom) ui.log.scrollTop = ui.log.scrollHeight
}

async function history (query) {
  const url = new URL('/ws/history', window.location.origin)
  url.search = new URLSearchParams({ room, limit: String(PAGE), name: myName, ...query }).toString()
  const response = await fetch(url)
  const body = await response.json()
  if (!response.ok) throw new Error(body.message ?? `history: HTTP ${response.status}`)
  return body
}

/** The newest page of the room's history, before the live messages already shown. */
async function loadHistory () {
  const page = await history({})
  const first = page.messages[0]
  if (first !== undefined) oldestId = first.id
  show(page.messages, 'start')
  ui.older.hidden = !page.hasMore
  ui.empty.hidden = shown.size > 0
  ui.log.scrollTop = ui.log.scrollHeight
}

async function loadOlder () {
  if (oldestId === null) return
  ui.older.disabled = true
  try {
    const page = await history({ before: oldestId })
    if (page.messages.length > 0) oldestId = page.messages[0].id
    const height = ui.log.scrollHeight
    show(page.messages, 'start')
    ui.log.scrollTop += ui.log.scrollHeight - height
    ui.older.hidden = !page.hasMore
  } catch (error) {
    notify(`Could not load older messages: ${error.message}`)
  } finally {
    ui.older.disabled = false
  }
}

// ---- members ----------------------------------------------------------------

function renderMembers () {
  const members = client === null ? [] : client.presence(room)
  const items = members
    .map((member) => ({ name: String(member.meta?.name ?? 'guest'), connections: member.connections }))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(({ name, connections }) => {
      const item = document.createElement('li')
      item.textContent = name
      if (name === myName) item.classList.add('me')
      if (connections > 1) item.title = `${connections} connections`
      return item
    })
  ui.members.replaceChildren(...items)
  ui.memberCount.textContent = `(${members.length})`
}

// ---- connection -------------------------------------------------------------

function connect (name) {
  const next = new VixClient({
    url: new URL('/ws', window.location.origin).href,
    // The demo's identity: the server takes the name from here (see the README about real authentication).
    query: { name },
    ...(forced === undefined ? {} : { transports: forced }),
    longPolling: { afterFailures: 3 }
  })
  next.on('state', renderStatus)
  next.on('transport', renderStatus)
  next.on('open', () => { notify(''); renderStatus() })
  next.on('chat.message', (message) => { show([message]) })
  // The member list: replaced by each `presence.state` (after every join), updated by each diff.
  next.on('presence.state', () => { queueMicrotask(renderMembers) })
  next.on('presence', renderMembers)
  // The server could not replay from the last message seen (pruned): fill the gap from the history.
  next.on('recovery_failed', ({ room: where, since }) => {
    if (where === room) history({ after: since, limit: '500' }).then((page) => { show(page.messages) }, (error) => { notify(error.message) })
  })
  next.on('error', (error) => {
    if (error.code === 'VIX_ERR_CLIENT_CONNECT') return // The status line says it.
    notify(error.message)
  })
  return next
}

async function enter (name, wanted) {
  notify('')
  window.localStorage.setItem('vix-chat', JSON.stringify({ name, room: wanted }))
  if (client !== null && (name !== myName || wanted !== room)) {
    if (name !== myName) {
      client.close()
      client = null
    } else {
      await client.leave(room).catch(() => {})
    }
  }
  myName = name
  room = wanted
  shown = new Set()
  oldestId = null
  ui.log.replaceChildren()
  ui.members.replaceChildren()
  ui.roomTitle.textContent = `# ${room}`
  ui.chat.hidden = false
  document.title = `#${room} · vix-realtime chat`
  if (client === null) client = connect(name)
  renderStatus()
  try {
    await client.connect()
    // Join first, then the history: what arrives live meanwhile is shown once, the history goes before it.
    await client.join(room)
    renderMembers()
    await loadHistory()
  } catch (error) {
    notify(`Could not enter #${room}: ${error.message}`)
  }
  ui.message.focus()
}

// ---- wiring -----------------------------------------------------------------

for (const name of ROOMS) {
  const option = document.createElement('option')
  option.value = name
  ui.roomList.append(option)
  const button = document.createElement('button')
  button.type = 'button'
  button.textContent = `#${name}`
  button.addEventListener('click', () => {
    ui.room.value = name
    ui.enter.requestSubmit()
  })
  ui.rooms.append(button)
}

ui.enter.addEventListener('submit', (event) => {
  event.preventDefault()
  const name = ui.name.value.trim()
  const wanted = ui.room.value.trim()
  if (name === '' || wanted === '') return
  enter(name, wanted)
})

ui.compose.addEventListener('submit', (event) => {
  event.preventDefault()
  const text = ui.message.value.trim()
  if (text === '' || client === null) return
  ui.message.value = ''
  // Acked, and resent with the same id after a reconnect until acked: never lost, never doubled.
  client.publish(room, 'chat.message', { text }).catch((error) => { notify(`Not sent: ${error.message}`) })
})

ui.older.addEventListener('click', () => { loadOlder() })

// Leaving the page ends the session at once (a long-poll one would stay in the member
// list until it expires); coming back to it from the back/forward cache enters again.
window.addEventListener('pagehide', () => {
  if (client === null) return
  client.close()
  client = null
})
window.addEventListener('pageshow', (event) => {
  if (event.persisted && myName !== '' && client === null) enter(myName, room)
})

const saved = (() => {
  try { return JSON.parse(window.localStorage.getItem('vix-chat') ?? 'null') } catch { return null }
})()
ui.room.value = saved?.room ?? ROOMS[0]
if (typeof saved?.name === 'string' && saved.name !== '') {
  ui.name.value = saved.name
  enter(saved.name, ui.room.value)
} else {
  ui.name.focus()
}
renderStatus()
