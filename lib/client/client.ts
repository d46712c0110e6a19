import { backoffDelay, goingAwayDelay } from './backoff.js'
import type { Connection, ConnectionClosed, ConnectionHandlers, TransportName } from './connection.js'
import { Emitter } from './emitter.js'
import { ClientErrorCodes, VixClientError } from './errors.js'
import { newClientId } from './id.js'
import { openLongPolling } from './long-polling-connection.js'
import { resolveOptions, type ResolvedOptions, type VixClientOptions } from './options.js'
import { parseFrame, type JoinAck, type OutgoingMessage, type PublishAck, type VixMessage } from './protocol.js'
import { RecentIds } from './recent-ids.js'
import { TimerSet } from './timers.js'
import { openWebSocket } from './websocket-connection.js'

/** `closed` until `connect()`; `reconnecting` from the first lost connection until the next open. */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** Lifecycle events of {@link VixClient}. Any other name given to `on` is a message type. */
export interface VixClientEvents {
  /** A connection opened: rooms were rejoined and unacked publishes resent. */
  open: (info: { transport: TransportName }) => void
  /** An open connection ended. */
  close: (info: { code: number, reason: string, transport: TransportName, willReconnect: boolean }) => void
  state: (state: ClientState, previous: ClientState) => void
  /** A reconnection attempt is scheduled after `delay` ms. */
  reconnecting: (info: { attempt: number, delay: number, transport: TransportName }) => void
  /** The server is shutting down; the client reconnects after `retryAfterMs` (plus jitter). */
  going_away: (info: { retryAfterMs: number }) => void
  /** The client switched transport (WebSocket → long polling). */
  transport: (transport: TransportName, previous: TransportName) => void
  /** Every event frame, after duplicates were dropped. */
  message: (message: VixMessage) => void
  /** Every system frame (`server.going_away`...). */
  system: (message: VixMessage) => void
  /** A frame that is not a typed message: non-JSON text, or binary (an ArrayBuffer). */
  raw: (data: string | ArrayBuffer) => void
  /** Error frames without a waiting request, failed rejoins, failed connection attempts, throwing listeners. */
  error: (error: Error) => void
  /** A room was rejoined after a reconnect (or a long-polling gap). */
  rejoined: (info: JoinAck & { since?: string }) => void
  /** A join with `since` could not be replayed: fetch `/ws/history?room=...&after=since` to fill the gap. */
  recovery_failed: (info: { room: string, since: string, latestId: string | null }) => void
  /** The long-polling server dropped frames of this session (buffer overflow); rooms are rejoined with `since`. */
  gap: (info: { dropped: number }) => void
}

export type ClientEventName = keyof VixClientEvents

const lifecycleEvents = new Set<string>([
  'open', 'close', 'state', 'reconnecting', 'going_away', 'transport', 'message', 'system', 'raw', 'error',
  'rejoined', 'recovery_failed', 'gap'
])

interface Waiter<T> { resolve: (value: T) => void, reject: (error: Error) => void, timer: unknown }

interface RoomState {
  /** Id of the last event delivered in this room: the `since` of the next join. */
  lastSeen?: string
  recent: RecentIds
  waiters: Array<Waiter<JoinAck>>
  /** Id of the join in flight on the current connection. */
  joinId?: string
  /** Did an event of this room arrive since the join in flight was sent? */
  eventsSinceJoin: boolean
  /** Acked at least once (a later join is a rejoin). */
  joined: boolean
}

type RoomRequest =
  | { kind: 'join', room: string, since?: string, rejoin: boolean }
  | { kind: 'leave', room: string, waiter: Waiter<void> }

interface PendingPublish extends Waiter<PublishAck> { id: string, type: string, room?: string, text: string }

const encoder = new TextEncoder()

/** Is `text` longer than `max` bytes in UTF-8? (At most 3 bytes per UTF-16 unit: encode only when that can matter.) */
function tooLarge (text: string, max: number): boolean {
  if (text.length > max) return true
  if (text.length * 3 <= max) return false
  return encoder.encode(text).length > max
}

function joinAckOf (frame: VixMessage, room: string): JoinAck {
  const payload = frame.payload as Partial<JoinAck>
  return {
    room,
    recovered: payload.recovered === true,
    replayed: typeof payload.replayed === 'number' ? payload.replayed : 0,
    latestId: typeof payload.latestId === 'string' ? payload.latestId : null
  }
}

function errorOfFrame (frame: VixMessage, room?: string): VixClientError {
  const payload = frame.payload as { code?: unknown, message?: unknown, path?: unknown }
  return new VixClientError(
    typeof payload.code === 'string' ? payload.code : ClientErrorCodes.INTERNAL,
    typeof payload.message === 'string' ? payload.message : 'Error frame without a message',
    { id: frame.id, room, path: typeof payload.path === 'string' ? payload.path : undefined }
  )
}

/**
 * A vix-realtime client for browsers and Node: one connection (WebSocket,
 * long polling as fallback), rooms that survive reconnects with replay from
 * the last event seen, acked publishes that are resent until acknowledged.
 *
 * @example
 * // Browser
 * const client = new VixClient({ url: 'wss://chat.example.com/ws' })
 * client.on('chat.message', (msg) => render(msg.payload))
 * await client.connect()
 * await client.join('general')
 * await client.publish('general', 'chat.message', { text: 'Hello' })
 *
 * @example
 * // Node 20 (no global WebSocket)
 * import WebSocket from 'ws'
 * const client = new VixClient({ url: 'ws://127.0.0.1:8080/ws', WebSocket })
 */
export class VixClient {
  private readonly options: ResolvedOptions
  private readonly timers: TimerSet
  private readonly events: Emitter
  private readonly typed: Emitter
  private readonly roomStates = new Map<string, RoomState>()
  private readonly requests = new Map<string, RoomRequest>()
  private readonly pending = new Map<string, PendingPublish>()
  private readonly untracked: RecentIds
  private connection: Connection | null = null
  private currentState: ClientState = 'closed'
  private currentTransport: TransportName
  private attempt = 0
  private webSocketFailures = 0
  private openWaiters: Array<Waiter<void>> = []

  /**
   * @example
   * const client = new VixClient({ url: 'ws://127.0.0.1:8080/ws', WebSocket, reconnect: { minDelay: 250 } })
   */
  constructor (options: VixClientOptions) {
    this.options = resolveOptions(options)
    this.timers = new TimerSet(this.options.timers, this.options.autoUnref)
    const reportListenerError = (error: unknown, name: string): void => {
      // An 'error' listener that throws has nowhere left to report to.
      if (name !== 'error') this.events.emit('error', error instanceof Error ? error : new Error(String(error)))
    }
    this.events = new Emitter(reportListenerError)
    this.typed = new Emitter(reportListenerError)
    this.untracked = new RecentIds(this.options.dedupeWindow)
    this.currentTransport = this.initialTransport()
  }

  /**
   * `connecting`, `open`, `reconnecting` or `closed`.
   *
   * @example
   * if (client.state !== 'open') showOfflineBanner()
   */
  get state (): ClientState {
    return this.currentState
  }

  /**
   * The transport in use (or to be tried next): `websocket` or `long-polling`.
   *
   * @example
   * client.on('open', () => console.log('connected over', client.transport))
   */
  get transport (): TransportName {
    return this.currentTransport
  }

  /**
   * Rooms the client is in or joining; they are rejoined after every reconnect.
   *
   * @example
   * client.rooms // ['general']
   */
  get rooms (): string[] {
    return [...this.roomStates.keys()]
  }

  /**
   * Id of the last event delivered in `room`: persist it to resume after a page
   * reload with `join(room, { since })`.
   *
   * @example
   * localStorage.setItem('general:last', client.lastEventId('general') ?? '')
   */
  lastEventId (room: string): string | undefined {
    return this.roomStates.get(room)?.lastSeen
  }

  // ---- events ---------------------------------------------------------------

  /**
   * Listen to a lifecycle event (`open`, `close`, `state`, `error`, ...) or, for
   * any other name, to messages of that type. Returns a function that removes the listener.
   *
   * @example
   * const off = client.on('chat.message', (msg) => console.log(msg.room, msg.payload.text))
   * client.on('recovery_failed', ({ room, since }) => fetchHistory(room, since))
   * off()
   */
  on<E extends ClientEventName>(event: E, listener: VixClientEvents[E]): () => void
  on<P = Record<string, any>>(type: string, listener: (message: VixMessage<P>) => void): () => void
  on (name: string, listener: (...args: any[]) => void): () => void {
    return lifecycleEvents.has(name) ? this.events.add(name, listener) : this.typed.add(name, listener)
  }

  /**
   * Listen to messages of `type` even when the type is also a lifecycle event's name.
   *
   * @example
   * client.onType('open', (msg) => doorOpened(msg.payload))
   */
  onType<P = Record<string, any>>(type: string, listener: (message: VixMessage<P>) => void): () => void {
    return this.typed.add(type, listener)
  }

  /**
   * Remove a listener added with `on` (or call the function `on` returned).
   *
   * @example
   * client.off('chat.message', render)
   */
  off (name: string, listener: (...args: any[]) => void): void {
    if (lifecycleEvents.has(name)) this.events.remove(name, listener)
    else this.typed.remove(name, listener)
  }

  // ---- connection -----------------------------------------------------------

  /**
   * Connect (WebSocket first, long polling when it cannot connect). Resolves
   * at the first open, however many attempts that takes; rejects only when
   * `close()` is called first or reconnection gives up.
   *
   * @example
   * await client.connect()
   */
  async connect (): Promise<void> {
    if (this.currentState === 'open') return
    const opened = new Promise<void>((resolve, reject) => {
      this.openWaiters.push({ resolve, reject, timer: undefined })
    })
    // A caller that does not await must not get an unhandled rejection from close().
    opened.catch(() => {})
    if (this.currentState === 'closed') {
      this.setState('connecting')
      this.openConnection()
    }
    return await opened
  }

  /**
   * Close for good: the connection, every timer, every waiting request
   * (rejected with `VIX_ERR_CLIENT_CLOSED`). Rooms and their last event ids
   * are kept, so a later `connect()` rejoins them with `since`.
   *
   * @example
   * client.close()
   */
  close (): void {
    const previous = this.currentState
    const connection = this.connection
    this.connection = null
    connection?.close(1000, 'client closed')
    this.timers.clearAll()
    const closed = (): VixClientError => new VixClientError(ClientErrorCodes.CLOSED, 'The client was closed')
    for (const publish of this.pending.values()) publish.reject(closed())
    this.pending.clear()
    this.settleRoomRequests()
    for (const state of this.roomStates.values()) {
      for (const waiter of state.waiters.splice(0)) waiter.reject(closed())
    }
    for (const waiter of this.openWaiters.splice(0)) waiter.reject(closed())
    this.attempt = 0
    this.webSocketFailures = 0
    this.currentTransport = this.initialTransport()
    this.setState('closed')
    if (previous === 'open' && connection !== null) {
      this.events.emit('close', { code: 1000, reason: 'client closed', transport: connection.transport, willReconnect: false })
    }
  }

  // ---- rooms ----------------------------------------------------------------

  /**
   * Join `room`; resolves with the server's ack. The room is rejoined after
   * every reconnect with `since` = the last event id seen, so the server
   * replays what was missed. Pass `since` to resume from an id you stored.
   *
   * @example
   * const { recovered, replayed } = await client.join('general', { since: localStorage.lastId })
   */
  async join (room: string, options: { since?: string } = {}): Promise<JoinAck> {
    let state = this.roomStates.get(room)
    if (state === undefined) {
      state = { recent: new RecentIds(this.options.dedupeWindow), waiters: [], eventsSinceJoin: false, joined: false }
      this.roomStates.set(room, state)
    }
    if (options.since !== undefined) state.lastSeen = options.since
    const roomState = state
    return await new Promise<JoinAck>((resolve, reject) => {
      const waiter: Waiter<JoinAck> = { resolve, reject, timer: undefined }
      waiter.timer = this.timers.set(() => {
        const index = roomState.waiters.indexOf(waiter)
        if (index !== -1) roomState.waiters.splice(index, 1)
        reject(new VixClientError(ClientErrorCodes.TIMEOUT, `No ack for joining "${room}" within ${this.options.timeout} ms`, { room }))
      }, this.options.timeout)
      roomState.waiters.push(waiter)
      if (this.currentState === 'open' && roomState.joinId === undefined) this.sendJoin(room, roomState)
    })
  }

  /**
   * Leave `room` and forget its last event id. Resolves with the server's ack,
   * or at once when not connected (a new connection does not rejoin it).
   *
   * @example
   * await client.leave('general')
   */
  async leave (room: string): Promise<void> {
    const state = this.roomStates.get(room)
    if (state !== undefined) {
      this.roomStates.delete(room)
      if (state.joinId !== undefined) this.requests.delete(state.joinId)
      for (const waiter of state.waiters.splice(0)) {
        this.timers.clear(waiter.timer)
        waiter.reject(new VixClientError(ClientErrorCodes.ABORTED, `Left "${room}" before the join was acknowledged`, { room }))
      }
    }
    const connection = this.connection
    if (this.currentState !== 'open' || connection === null) return
    const id = newClientId()
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter<void> = { resolve, reject, timer: undefined }
      waiter.timer = this.timers.set(() => {
        this.requests.delete(id)
        reject(new VixClientError(ClientErrorCodes.TIMEOUT, `No ack for leaving "${room}" within ${this.options.timeout} ms`, { room, id }))
      }, this.options.timeout)
      this.requests.set(id, { kind: 'leave', room, waiter })
      connection.send(JSON.stringify({ id, type: 'room.leave', payload: { room } }), id)
    })
  }

  // ---- sending --------------------------------------------------------------

  /**
   * Publish a typed message (to `room`, or room-less with `null`). It carries
   * a client id, is resent with that id after a reconnect until the server
   * acks it, and rejects with the server's `code` on an error frame, or
   * `VIX_ERR_CLIENT_TIMEOUT` after `timeout` ms. While disconnected it is queued.
   *
   * @example
   * const ack = await client.publish('general', 'chat.message', { text: 'Hello' })
   * ack.id // the message id, also the id of the event every member receives
   */
  async publish (room: string | null, type: string, payload: Record<string, unknown> = {}, options: { id?: string, timeout?: number } = {}): Promise<PublishAck> {
    const id = options.id ?? newClientId()
    if (this.pending.has(id)) throw new VixClientError(ClientErrorCodes.INVALID_MESSAGE, `A publish with id "${id}" is already waiting for its ack`, { id })
    const message: OutgoingMessage = { id, type, payload }
    if (room !== null) message.room = room
    const text = JSON.stringify(message)
    // Resending a frame the server refuses as too big would close every new connection (1009) forever.
    if (tooLarge(text, this.options.maxMessageSize)) {
      throw new VixClientError(ClientErrorCodes.PAYLOAD_TOO_LARGE, `Message larger than ${this.options.maxMessageSize} bytes`, { id, room: room ?? undefined })
    }
    const timeout = options.timeout ?? this.options.timeout
    return await new Promise<PublishAck>((resolve, reject) => {
      const publish: PendingPublish = { id, type, text, resolve, reject, timer: undefined }
      if (room !== null) publish.room = room
      publish.timer = this.timers.set(() => {
        this.pending.delete(id)
        reject(new VixClientError(ClientErrorCodes.TIMEOUT, `No ack for "${type}" within ${timeout} ms (it may still have been delivered)`, { id, room: room ?? undefined }))
      }, timeout)
      this.pending.set(id, publish)
      if (this.currentState === 'open') this.connection?.send(text, id)
    })
  }

  /**
   * Send one frame as is: a string, an object (sent as JSON) or binary
   * (WebSocket only). At most once: returns false, and sends nothing, when not
   * connected. Use `publish` for acknowledged delivery.
   *
   * @example
   * client.send({ type: 'cursor.move', payload: { x: 1, y: 2 } })
   * client.send('ping')
   */
  send (frame: string | Record<string, unknown> | ArrayBuffer | ArrayBufferView): boolean {
    const connection = this.connection
    if (this.currentState !== 'open' || connection === null) return false
    if (typeof frame === 'string' || frame instanceof ArrayBuffer || ArrayBuffer.isView(frame)) {
      connection.send(frame)
    } else {
      connection.send(JSON.stringify(frame), typeof frame.id === 'string' ? frame.id : undefined)
    }
    return true
  }

  // ---- internals: connecting ------------------------------------------------

  private initialTransport (): TransportName {
    return this.options.WebSocket === undefined ? 'long-polling' : 'websocket'
  }

  private setState (state: ClientState): void {
    const previous = this.currentState
    if (previous === state) return
    this.currentState = state
    this.events.emit('state', state, previous)
  }

  private openConnection (): void {
    let connection: Connection | null = null
    const handlers: ConnectionHandlers = {
      open: () => { if (this.connection === connection) this.connectionOpened() },
      frame: (data) => { if (this.connection === connection) this.receive(data) },
      close: (info) => {
        if (this.connection !== connection) return
        this.connection = null
        this.connectionLost(info)
      },
      accepted: (id) => { this.settlePublish(id) },
      rejected: (id, error) => { this.requestFailed(id, error) },
      dropped: (count) => { if (this.connection === connection) this.framesDropped(count) }
    }
    const context = { timers: this.timers, handlers }
    const { options } = this
    try {
      connection = this.currentTransport === 'websocket'
        ? openWebSocket({ url: options.url, WebSocket: options.WebSocket!, webSocketOptions: options.webSocketOptions, connectTimeout: options.connectTimeout }, context)
        : openLongPolling({
          ...(options.longPolling as Exclude<ResolvedOptions['longPolling'], false>),
          fetch: options.fetch!,
          headers: options.headers,
          pollGrace: options.connectTimeout,
          pollRetries: 2,
          retryDelay: options.reconnect === false ? 500 : Math.max(1, options.reconnect.minDelay)
        }, context)
    } catch (error) {
      // A WebSocket constructor throws synchronously on a URL it rejects.
      this.connectionLost({ code: 1006, reason: (error as Error).message, opened: false, error: error as Error })
      return
    }
    this.connection = connection
  }

  private connectionOpened (): void {
    const connection = this.connection as Connection
    this.attempt = 0
    if (connection.transport === 'websocket') this.webSocketFailures = 0
    // Restore before announcing `open`: rooms first (a publish to a room needs
    // membership and frames are processed in order), then unacked publishes
    // with their original ids, then whatever listeners of `open` send.
    for (const [room, state] of this.roomStates) this.sendJoin(room, state)
    for (const publish of this.pending.values()) connection.send(publish.text, publish.id)
    this.setState('open')
    for (const waiter of this.openWaiters.splice(0)) waiter.resolve()
    this.events.emit('open', { transport: connection.transport })
  }

  private connectionLost (info: ConnectionClosed, retryAfterMs?: number): void {
    const transport = this.currentTransport
    this.settleRoomRequests()
    const reconnect = this.options.reconnect
    if (transport === 'websocket' && !info.opened) {
      this.webSocketFailures++
      if (this.shouldFallBack(info)) {
        this.reportFailedAttempt(transport, info)
        this.currentTransport = 'long-polling'
        this.events.emit('transport', 'long-polling', 'websocket')
        // Part of connecting, not a reconnection: no backoff, and it happens even with reconnect off.
        this.timers.set(() => { this.openConnection() }, 0)
        return
      }
    }
    // The server closing an open connection normally means "go away and stay away" (a kick).
    const kicked = info.opened && info.code === 1000
    const willReconnect = reconnect !== false && !kicked
    if (info.opened) {
      this.events.emit('close', { code: info.code, reason: info.reason, transport, willReconnect })
    } else {
      this.reportFailedAttempt(transport, info)
    }
    if (!willReconnect) {
      // A kick is not an error: the `close` event above says it all.
      this.giveUp(kicked ? undefined : new VixClientError(ClientErrorCodes.RECONNECT_FAILED, 'The connection was lost and reconnect is off'))
      return
    }
    let delay: number | undefined
    if (retryAfterMs !== undefined) delay = goingAwayDelay(retryAfterMs, reconnect.jitter, this.options.random)
    else if (info.sessionLost === true) delay = 0
    else if (info.retryAfterMs !== undefined) delay = goingAwayDelay(info.retryAfterMs, reconnect.jitter, this.options.random)
    this.scheduleReconnect(delay)
  }

  private reportFailedAttempt (transport: TransportName, info: ConnectionClosed): void {
    const status = info.status === undefined ? '' : ` (HTTP ${info.status})`
    const why = info.reason !== '' ? info.reason : (info.error?.message ?? 'connection failed')
    this.events.emit('error', new VixClientError(ClientErrorCodes.CONNECT, `Cannot connect over ${transport}${status}: ${why}`, { status: info.status }))
  }

  /** A refused upgrade (an HTTP answer that is not about auth or load) or N failed attempts: WebSocket is blocked. */
  private shouldFallBack (info: ConnectionClosed): boolean {
    if (this.options.longPolling === false) return false
    const status = info.status
    if (status !== undefined && ![401, 403, 429, 503].includes(status)) return true
    return this.webSocketFailures >= this.options.longPolling.afterFailures
  }

  private scheduleReconnect (override?: number): void {
    const reconnect = this.options.reconnect as Exclude<ResolvedOptions['reconnect'], false>
    this.attempt++
    if (this.attempt > reconnect.maxAttempts) {
      this.giveUp(new VixClientError(ClientErrorCodes.RECONNECT_FAILED, `Could not reconnect after ${reconnect.maxAttempts} attempts`))
      return
    }
    const delay = override ?? backoffDelay(this.attempt, reconnect, this.options.random)
    this.setState('reconnecting')
    this.events.emit('reconnecting', { attempt: this.attempt, delay, transport: this.currentTransport })
    this.timers.set(() => { this.openConnection() }, delay)
  }

  private giveUp (error?: VixClientError): void {
    this.close()
    if (error !== undefined) this.events.emit('error', error)
  }

  /** The connection ended: joins in flight are void (rejoined on the next one); a leave is done (the session is gone). */
  private settleRoomRequests (): void {
    for (const request of this.requests.values()) {
      if (request.kind === 'leave') {
        this.timers.clear(request.waiter.timer)
        request.waiter.resolve()
      }
    }
    this.requests.clear()
    for (const state of this.roomStates.values()) state.joinId = undefined
  }

  private sendJoin (room: string, state: RoomState): void {
    const id = newClientId()
    if (state.joinId !== undefined) this.requests.delete(state.joinId)
    state.joinId = id
    state.eventsSinceJoin = false
    const since = state.lastSeen
    this.requests.set(id, since === undefined ? { kind: 'join', room, rejoin: state.joined } : { kind: 'join', room, since, rejoin: state.joined })
    const payload = since === undefined ? { room } : { room, since }
    this.connection?.send(JSON.stringify({ id, type: 'room.join', payload }), id)
  }

  /** Long-polling overflow: frames were lost, so every room is rejoined with the last id seen before them. */
  private framesDropped (count: number): void {
    this.events.emit('gap', { dropped: count })
    for (const [room, state] of this.roomStates) this.sendJoin(room, state)
  }

  // ---- internals: frames ----------------------------------------------------

  private receive (data: string | ArrayBuffer): void {
    if (typeof data !== 'string') {
      this.events.emit('raw', data)
      return
    }
    const frame = parseFrame(data)
    if (frame === null) {
      this.events.emit('raw', data)
      return
    }
    if (frame.kind === 'ack') this.receiveAck(frame)
    else if (frame.kind === 'error') this.receiveError(frame)
    else if (frame.kind === 'system') this.receiveSystem(frame)
    else this.receiveEvent(frame)
  }

  private receiveEvent (frame: VixMessage): void {
    const room = frame.room
    const state = room === undefined ? undefined : this.roomStates.get(room)
    if (frame.id !== undefined) {
      const fresh = state === undefined ? this.untracked.add(`${room ?? ''}\u0000${frame.id}`) : state.recent.add(frame.id)
      if (!fresh) return
      if (state !== undefined) {
        state.lastSeen = frame.id
        state.eventsSinceJoin = true
      }
    }
    this.events.emit('message', frame)
    this.typed.emit(frame.type, frame)
  }

  private receiveAck (frame: VixMessage): void {
    const id = frame.id
    if (id === undefined) return
    const request = this.requests.get(id)
    if (request === undefined) {
      this.settlePublish(id, frame)
      return
    }
    this.requests.delete(id)
    if (request.kind === 'leave') {
      this.timers.clear(request.waiter.timer)
      request.waiter.resolve()
      return
    }
    const state = this.roomStates.get(request.room)
    // Left meanwhile, or superseded by a newer join.
    if (state === undefined || state.joinId !== id) return
    state.joinId = undefined
    const ack = joinAckOf(frame, request.room)
    // The latest stored id is the resume point when nothing newer has arrived yet.
    if (!state.eventsSinceJoin && ack.latestId !== null) state.lastSeen = ack.latestId
    state.joined = true
    for (const waiter of state.waiters.splice(0)) {
      this.timers.clear(waiter.timer)
      waiter.resolve(ack)
    }
    if (request.rejoin) this.events.emit('rejoined', request.since === undefined ? ack : { ...ack, since: request.since })
    if (request.since !== undefined && !ack.recovered) {
      this.events.emit('recovery_failed', { room: request.room, since: request.since, latestId: ack.latestId })
    }
  }

  private settlePublish (id: string, frame?: VixMessage): void {
    const publish = this.pending.get(id)
    if (publish === undefined) return
    this.pending.delete(id)
    this.timers.clear(publish.timer)
    const ack: PublishAck = { id, type: frame?.type ?? publish.type }
    const room = frame?.room ?? publish.room
    if (room !== undefined) ack.room = room
    publish.resolve(ack)
  }

  private receiveError (frame: VixMessage): void {
    const request = frame.id === undefined ? undefined : this.requests.get(frame.id)
    this.requestFailed(frame.id, errorOfFrame(frame, request?.room))
  }

  /** An error for request `id` (error frame or HTTP refusal): reject whoever waits for it, else emit it. */
  private requestFailed (id: string | undefined, error: VixClientError): void {
    if (id !== undefined) {
      const publish = this.pending.get(id)
      if (publish !== undefined) {
        this.pending.delete(id)
        this.timers.clear(publish.timer)
        publish.reject(error)
        return
      }
      const request = this.requests.get(id)
      if (request !== undefined) {
        this.requests.delete(id)
        if (request.kind === 'leave') {
          this.timers.clear(request.waiter.timer)
          request.waiter.reject(error)
          return
        }
        const state = this.roomStates.get(request.room)
        if (state !== undefined && state.joinId === id) {
          // Refused (forbidden...): the client is not in this room and will not rejoin it.
          this.roomStates.delete(request.room)
          const waiters = state.waiters.splice(0)
          for (const waiter of waiters) {
            this.timers.clear(waiter.timer)
            waiter.reject(error)
          }
          if (waiters.length > 0) return
        }
      }
    }
    this.events.emit('error', error)
  }

  private receiveSystem (frame: VixMessage): void {
    this.events.emit('system', frame)
    this.typed.emit(frame.type, frame)
    if (frame.type !== 'server.going_away') return
    const advised = (frame.payload as { retryAfterMs?: unknown }).retryAfterMs
    const retryAfterMs = typeof advised === 'number' && advised >= 0 ? advised : (this.options.reconnect === false ? 0 : this.options.reconnect.minDelay)
    this.events.emit('going_away', { retryAfterMs })
    // Do not wait for the server's close: this node is going, reconnect on our schedule.
    const connection = this.connection
    if (connection === null) return
    this.connection = null
    connection.close(1000, 'server going away')
    this.connectionLost({ code: 1001, reason: 'server going away', opened: true }, retryAfterMs)
  }
}
