// The example chat page: plain browser ES module, no framework, no build.
// The client comes from the server itself: GET /ws/client.js (this file is /chat.js).
import { VixClient } from './ws/client.js'

const ROOMS = ['general', 'random', 'help']
const PAGE = 50
const params = new URLSearchParams(window.location.search)
// `?transport=polling` or `?transport=sse`: that transport only. Otherwise WebSocket, then SSE, then long polling.
const forced = { polling: ['polling'], sse: ['sse'] }[params.get('transport')]
const TRANSPORT_NAMES = { websocket: 'WebSocket', sse: 'SSE', 'long-polling': 'long polling' }
/** The longest text the server takes (its chat.message schema): the input shows a counter near it and refuses more. */
const MAX_TEXT = Number(document.getElementById('message').dataset.max)

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
  counter: $('counter'),
  send: $('send'),
  change: $('change'),
  membersNote: $('members-note'),
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
/** Messages typed on this page and not yet confirmed by the server: id → { item, text }. */
let outgoing = new Map()
/** Items of messages typed here whose event has not come back yet: id → item. They stay below every message the server ordered. */
let unplaced = new Map()
/** Ids of this page's messages: a prefix of its own and a counter (the same id on a retry, so never stored twice). */
const idPrefix = Math.random().toString(36).slice(2, 10)
let sequence = 0

// ---- status -----------------------------------------------------------------

function renderStatus () {
  // Before the first join there is no connection to speak of: a neutral state, not an error.
  const state = client === null ? 'idle' : client.state
  const transport = client === null ? '' : client.transport
  const open = state === 'open'
  const label = state === 'idle' ? 'not joined' : open ? ({ 'long-polling': 'polling', sse: 'SSE' }[transport] ?? 'connected') : state === 'closed' ? 'offline' : state
  ui.status.dataset.state = state
  ui.status.dataset.transport = transport
  ui.stateText.textContent = label
  ui.transportText.textContent = transport === '' ? '' : `via ${TRANSPORT_NAMES[transport] ?? transport}`
  renderPresenceLiveness(state)
}

/** While disconnected the member list is what was last known, not who is here: dimmed and said so. */
function renderPresenceLiveness (state) {
  const live = state === 'open' || state === 'idle'
  ui.chat.dataset.presence = live ? 'live' : 'unknown'
  ui.membersNote.hidden = live
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

/**
 * Add messages not yet shown, oldest first, at the end (live) or at the start (older pages).
 * A message typed here is shown at once below the others; when its event comes back it moves
 * to its place in the room's order, so every page shows the server's one order.
 */
function show (messages, where = 'end') {
  const items = []
  for (const message of messages) {
    if (outgoing.has(message.id)) delivered(message.id)
    if (message.type !== 'chat.message' || message.room !== room) continue
    const mine = unplaced.get(message.id)
    if (mine !== undefined) {
      unplaced.delete(message.id)
      if (where === 'end') items.push(mine)
      continue
    }
    if (shown.has(message.id)) continue
    shown.add(message.id)
    items.push(messageItem(message))
  }
  if (items.length === 0) return
  const atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40
  const firstUnplaced = unplaced.values().next().value
  if (where === 'start') ui.log.prepend(...items)
  else if (firstUnplaced !== undefined) firstUnplaced.before(...items)
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

// ---- messages typed here: pending, sent, failed ------------------------------

function setDelivery (item, state, why = '') {
  item.dataset.delivery = state
  let mark = item.querySelector('.delivery')
  if (mark === null) {
    mark = document.createElement('span')
    mark.className = 'delivery'
    item.append(mark)
  }
  mark.replaceChildren(state === 'pending' ? 'sending…' : state === 'sent' ? 'sent' : `not sent${why === '' ? '' : `: ${why}`}`)
  if (state === 'failed') {
    const retry = document.createElement('button')
    retry.type = 'button'
    retry.className = 'retry'
    retry.textContent = 'Retry'
    retry.addEventListener('click', () => { send(outgoing.get(item.dataset.id)?.text ?? '', item.dataset.id) })
    mark.append(' ', retry)
  }
}

/** Shown at once as pending; sent once the server acked it (or its event came back), failed with a retry if refused. */
function send (text, id = `${idPrefix}-${++sequence}`) {
  let entry = outgoing.get(id)
  if (entry === undefined) {
    const item = messageItem({ id, type: 'chat.message', room, ts: new Date().toISOString(), from: { name: myName }, payload: { text } })
    entry = { item, text }
    outgoing.set(id, entry)
    unplaced.set(id, item)
    shown.add(id)
    ui.log.append(item)
    ui.empty.hidden = true
    ui.log.scrollTop = ui.log.scrollHeight
  }
  setDelivery(entry.item, 'pending')
  // Acked, and resent with the same id after a reconnect until acked: never lost, never doubled.
  client.publish(room, 'chat.message', { text }, { id }).then(() => { delivered(id) }, (error) => {
    if (outgoing.get(id) === entry) setDelivery(entry.item, 'failed', error.message)
  })
}

function delivered (id) {
  const entry = outgoing.get(id)
  if (entry === undefined) return
  outgoing.delete(id)
  setDelivery(entry.item, 'sent')
}

/** The counter shows near the limit; past it the input is flagged and Send refuses (nothing is cut). */
function renderCounter () {
  const length = [...ui.message.value].length
  const over = length > MAX_TEXT
  ui.counter.hidden = length < MAX_TEXT * 0.9
  ui.counter.textContent = over ? `${length - MAX_TEXT} too many (${length}/${MAX_TEXT})` : `${length}/${MAX_TEXT}`
  ui.counter.classList.toggle('over', over)
  ui.message.setAttribute('aria-invalid', String(over))
  ui.message.setCustomValidity(over ? `At most ${MAX_TEXT} characters: ${length - MAX_TEXT} too many` : '')
  ui.send.disabled = over
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
  outgoing = new Map()
  unplaced = new Map()
  oldestId = null
  ui.log.replaceChildren()
  ui.members.replaceChildren()
  ui.roomTitle.textContent = `# ${room}`
  ui.chat.hidden = false
  // On a phone the form folds into one line once joined (see chat.css): its button says where you are.
  document.body.dataset.joined = 'true'
  ui.change.textContent = `${name} in #${wanted} · change`
  ui.enter.dataset.open = 'false'
  ui.change.setAttribute('aria-expanded', 'false')
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
  if (text === '' || client === null || [...ui.message.value].length > MAX_TEXT) return
  ui.message.value = ''
  renderCounter()
  if (text === '/who') who()
  else send(text)
})

/** `/who`: a request with a reply (`room.who`), answered by the server from presence across every node. */
function who () {
  const asked = room
  client.request('room.who', { room: asked }, { timeout: 5000 }).then((reply) => {
    if (asked === room) notify(`In #${reply.room}: ${reply.members.join(', ')}`)
  }, (error) => {
    if (asked === room) notify(`/who failed: ${error.message}`)
  })
}

ui.message.addEventListener('input', renderCounter)

ui.change.addEventListener('click', () => {
  const open = ui.enter.dataset.open !== 'true'
  ui.enter.dataset.open = String(open)
  ui.change.setAttribute('aria-expanded', String(open))
  if (open) ui.name.focus()
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
