import type { TransportName } from './connection.js'
import { Emitter } from './emitter.js'
import { ClientErrorCodes, VixClientError, codeOf } from './errors.js'
import { lifecycleEvents, type ClientEventName, type ClientState, type VixClientEvents } from './events.js'
import { resolveOptions, type VixClientOptions } from './options.js'
import { clientParts, lazyModule } from './parts.js'
import { parseFrame, type JoinAck, type PublishAck, type VixMessage } from './protocol.js'
import { PresenceView, type PresenceMember } from './presence.js'
import { Publishes } from './publishes.js'
import { Reconnector } from './reconnect.js'
import { Requests, type RequestOptions } from './requests.js'
import { JoinedRooms } from './rooms.js'
import { TimerSet } from './timers.js'
import type { TokenHost, Tokens } from './tokens.js'

export type { ClientEventName, ClientState, VixClientEvents } from './events.js'

/** The tokens' module: a chunk of the browser bundle, loaded by clients with a `getToken` option only. */
const tokensModule = lazyModule(async () => await import('./tokens.js'))

function errorOfFrame (frame: VixMessage, room?: string): VixClientError {
  const payload = frame.payload as { code?: unknown, message?: unknown, path?: unknown }
  return new VixClientError(
    codeOf(payload.code, ClientErrorCodes.INTERNAL),
    typeof payload.message === 'string' ? payload.message : 'Error frame without a message',
    { id: frame.id, room, path: typeof payload.path === 'string' ? payload.path : undefined }
  )
}

/** What a throwing listener of `name` is reported as: its own message, the thrown value as `cause`. */
function listenerError (thrown: unknown, name: string): VixClientError {
  const message = thrown instanceof Error ? thrown.message : `A "${name}" listener threw ${String(thrown)}`
  return new VixClientError(ClientErrorCodes.LISTENER, message, { cause: thrown })
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
  private readonly events_: Emitter
  private readonly typed_: Emitter
  private readonly reconnector_: Reconnector
  private readonly membership_: JoinedRooms
  private readonly publishes_: Publishes
  private readonly requests_: Requests
  private readonly presenceView_ = new PresenceView()
  private tokens_: Tokens | undefined
  /** With `getToken`: the tokens, made once their module is loaded (asked at once; again after a failure, which fails that attempt). */
  private readonly loadTokens_: (() => Promise<Tokens>) | undefined

  /**
   * @example
   * const client = new VixClient({ url: 'ws://127.0.0.1:8080/ws', WebSocket, reconnect: { minDelay: 250 } })
   */
  constructor (options: VixClientOptions) {
    const resolved = resolveOptions(options)
    const timers = new TimerSet(resolved.timers, resolved.autoUnref)
    const reportListenerError = (error: unknown, name: string): void => {
      // An 'error' listener that throws has nowhere left to report to.
      if (name !== 'error') this.events_.emit('error', listenerError(error, name))
    }
    this.events_ = new Emitter(reportListenerError)
    this.typed_ = new Emitter(reportListenerError)
    // Rooms and publishes send on the reconnector's connection, and it calls back into them:
    // its hooks reach `membership` and `publishes` only when called, after both exist.
    this.reconnector_ = new Reconnector(resolved, timers, this.events_, {
      restore: (connection) => {
        this.membership_.rejoinAll()
        this.publishes_.resend(connection)
        this.requests_.resend(connection)
      },
      frame: (data) => { this.receive_(data) },
      ended: () => {
        this.membership_.connectionEnded()
        this.publishes_.paused()
        this.requests_.paused()
      },
      abandon: (closed) => {
        this.publishes_.close(closed)
        this.requests_.close(closed)
        this.membership_.close(closed)
      },
      // A request's 202 (long polling) is not its reply: that comes in its ack frame.
      accepted: (id, ack) => { if (!this.requests_.has(id)) this.publishes_.acked(id, undefined, ack) },
      rejected: (id, error) => { this.requestFailed_(id, error) },
      dropped: (count) => {
        // Long-polling overflow: frames were lost, so every room is rejoined with the last id seen before them.
        this.events_.emit('gap', { dropped: count })
        this.membership_.rejoinAll()
      },
      beforeConnect: () => this.tokens_?.beforeConnect() ?? this.loadTokens_?.().then((tokens) => tokens.beforeConnect()) ?? true
    })
    this.membership_ = new JoinedRooms(timers, resolved, this.reconnector_, this.events_, (frame) => { this.deliver_(frame) })
    this.publishes_ = new Publishes(timers, resolved, this.reconnector_)
    this.requests_ = new Requests(timers, resolved, this.reconnector_)
    if (options.getToken !== undefined) {
      const { getToken, tokenParam: param = 'token' } = options
      const host: TokenHost = { refresh: async (token) => await this.requests_.request('auth.refresh', { token }, {}), unauthorized: (error) => { this.reconnector_.unauthorized(error) } }
      this.loadTokens_ = async () => (this.tokens_ ??= new (await tokensModule.get()).Tokens(getToken, param, options.query?.[param], resolved, this.events_, host, clientParts))
      this.loadTokens_().catch(() => {})
    }
  }

  /**
   * `connecting`, `open`, `reconnecting` or `closed`.
   *
   * @example
   * if (client.state !== 'open') showOfflineBanner()
   */
  get state (): ClientState {
    return this.reconnector_.state
  }

  /**
   * The transport in use (or to be tried next): `websocket` or `long-polling`.
   *
   * @example
   * client.on('open', () => console.log('connected over', client.transport))
   */
  get transport (): TransportName {
    return this.reconnector_.transport
  }

  /**
   * Rooms the client is in or joining; they are rejoined after every reconnect.
   *
   * @example
   * client.rooms // ['general']
   */
  get rooms (): string[] {
    return this.membership_.names
  }

  /**
   * Id of the last event delivered in `room`: persist it to resume after a page
   * reload with `join(room, { since })`.
   *
   * @example
   * localStorage.setItem('general:last', client.lastEventId('general') ?? '')
   */
  lastEventId (room: string): string | undefined {
    return this.membership_.lastEventId(room)
  }

  /**
   * The room's last contiguous position (`"<offset>.<tag>"`), for stored
   * rooms on a server that sends positions: the best thing to persist and
   * pass back as `join(room, { since })`. Undefined otherwise (use `lastEventId`).
   *
   * @example
   * localStorage.setItem('general:last', client.lastPosition('general') ?? client.lastEventId('general') ?? '')
   */
  lastPosition (room: string): string | undefined {
    return this.membership_.lastPosition(room)
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
    return lifecycleEvents.has(name) ? this.events_.add(name, listener) : this.typed_.add(name, listener)
  }

  /**
   * Listen to messages of `type` even when the type is also a lifecycle event's name.
   *
   * @example
   * client.onType('open', (msg) => doorOpened(msg.payload))
   */
  onType<P = Record<string, any>>(type: string, listener: (message: VixMessage<P>) => void): () => void {
    return this.typed_.add(type, listener)
  }

  /**
   * Remove a listener added with `on` (or call the function `on` returned).
   *
   * @example
   * client.off('chat.message', render)
   */
  off (name: string, listener: (...args: any[]) => void): void {
    if (lifecycleEvents.has(name)) this.events_.remove(name, listener)
    else this.typed_.remove(name, listener)
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
    if (this.reconnector_.state === 'open') return
    await this.reconnector_.connect()
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
    this.reconnector_.close()
  }

  // ---- rooms ----------------------------------------------------------------

  /**
   * Join `room`; resolves with the server's ack. The room is rejoined after
   * every reconnect with `since` = its last contiguous position (the last
   * event id for rooms without positions), so the server replays what was
   * missed. Pass `since` to resume from a position or an id you stored;
   * `''`, `null` or `undefined` (nothing stored yet) mean no position: the
   * join is sent without `since`.
   *
   * @example
   * const { recovered, replayed } = await client.join('general', { since: localStorage.getItem('general:last') })
   */
  async join (room: string, options: { since?: string | null } = {}): Promise<JoinAck> {
    return await this.membership_.join(room, options.since)
  }

  /**
   * Leave `room` and forget its last event id. Resolves with the server's ack,
   * or at once when not connected (a new connection does not rejoin it).
   *
   * @example
   * await client.leave('general')
   */
  async leave (room: string): Promise<void> {
    this.presenceView_.forget(room)
    await this.membership_.leave(room)
  }

  /**
   * The members of a presence room the client is in, as the last
   * `presence.state` and the diffs after it have them (`[]` for other rooms).
   * Listen to `presence` for each change.
   *
   * @example
   * client.on('presence', ({ room, joins, leaves }) => render(client.presence(room)))
   * client.presence('general') // [{ key: '"ada"', meta: { name: 'Ada' }, connections: 2 }]
   */
  presence (room: string): PresenceMember[] {
    return this.presenceView_.members(room)
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
   * ack.pos // its position in the room (stored rooms); ack.duplicate: the server already had this id from you
   */
  async publish (room: string | null, type: string, payload: Record<string, unknown> = {}, options: { id?: string, timeout?: number } = {}): Promise<PublishAck> {
    return await this.publishes_.publish(room, type, payload, options)
  }

  /**
   * Ask the server and wait for its reply: a message of a request type (one
   * the server registered with a `reply` schema) whose handler's return value
   * comes back in the ack. Sent with a client id, and sent again with that id
   * on each new connection until the reply arrives (the server runs an id
   * once, answering a repeat from its reply cache). Rejects with the server's
   * `code` on an error frame, `VIX_ERR_CLIENT_TIMEOUT` after `timeout` ms,
   * `VIX_ERR_CLIENT_ABORTED` when `signal` aborts, `VIX_ERR_CLIENT_CLOSED` on
   * `close()`. While disconnected it is queued.
   *
   * @example
   * const { names } = await client.request<{ names: string[] }>('room.members', { room: 'general' }, { timeout: 5000 })
   */
  async request<R = unknown>(type: string, payload: Record<string, unknown> = {}, options: RequestOptions = {}): Promise<R> {
    return await (this.requests_.request(type, payload, options) as Promise<R>)
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
    const connection = this.reconnector_.connection
    if (!this.reconnector_.open || connection === null) return false
    if (typeof frame === 'string' || frame instanceof ArrayBuffer || ArrayBuffer.isView(frame)) {
      connection.send(frame)
    } else {
      connection.send(JSON.stringify(frame), typeof frame.id === 'string' ? frame.id : undefined)
    }
    return true
  }

  // ---- internals: frames ----------------------------------------------------

  private receive_ (data: string | ArrayBuffer): void {
    if (typeof data !== 'string') {
      this.events_.emit('raw', data)
      return
    }
    const frame = parseFrame(data)
    if (frame === null) {
      this.events_.emit('raw', data)
      return
    }
    if (frame.kind === 'ack') this.receiveAck_(frame)
    else if (frame.kind === 'error') this.receiveError_(frame)
    else if (frame.kind === 'system') this.receiveSystem_(frame)
    else this.receiveEvent_(frame)
  }

  private receiveEvent_ (frame: VixMessage): void {
    // Rooms deliver it (now, after its join's ack, or never: a duplicate, or past a hole being filled).
    this.membership_.receive(frame)
  }

  private deliver_ (frame: VixMessage): void {
    this.events_.emit('message', frame)
    this.typed_.emit(frame.type, frame)
  }

  private receiveAck_ (frame: VixMessage): void {
    const id = frame.id
    if (id === undefined) return
    if (!this.membership_.acked(id, frame) && !this.requests_.replied(id, frame)) this.publishes_.acked(id, frame)
  }

  private receiveError_ (frame: VixMessage): void {
    this.requestFailed_(frame.id, errorOfFrame(frame, frame.id === undefined ? undefined : this.membership_.roomOf(frame.id)))
  }

  /** An error for request `id` (error frame or HTTP refusal): reject whoever waits for it, else emit it. */
  private requestFailed_ (id: string | undefined, error: VixClientError): void {
    if (id !== undefined && (this.publishes_.failed(id, error) || this.requests_.failed(id, error) || this.membership_.failed(id, error))) return
    this.events_.emit('error', error)
  }

  private receiveSystem_ (frame: VixMessage): void {
    this.events_.emit('system', frame)
    this.typed_.emit(frame.type, frame)
    if (frame.type.startsWith('presence.')) {
      const diff = this.presenceView_.receive(frame)
      if (diff !== undefined) this.events_.emit('presence', diff)
    }
    if (frame.type === 'room.interrupted') {
      const room = (frame.payload as { room?: unknown }).room ?? frame.room
      if (typeof room === 'string') this.membership_.interrupted(room)
    }
    if (frame.type === 'server.going_away') this.reconnector_.goingAway((frame.payload as { retryAfterMs?: unknown }).retryAfterMs)
    if (frame.type === 'session.expiring') this.tokens_?.expiring()
    // Taken out by the server (a refreshed identity may no longer be there, or `leave({ identity })`): not rejoined.
    if (frame.type === 'room.left' && typeof frame.room === 'string') this.leave(frame.room).catch(() => {})
    if (frame.type === 'session.closed') {
      const { reconnect, error } = frame.payload as { reconnect?: unknown, error?: unknown }
      if (reconnect === false) this.reconnector_.stayClosedAfter()
      this.tokens_?.closedBy(error)
    }
  }
}
