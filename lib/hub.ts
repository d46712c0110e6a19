import type { Static, TSchema } from '@sinclair/typebox'
import { JsonMessage, RoomJoinPayload, RoomLeavePayload, type JsonMessageInput } from '../schemas/message.js'
import { compileValidator, decodeFrame, type Validator } from './codec.js'
import { ErrorCodes, UnauthorizedError, type ErrorCode } from './errors.js'
import { ackFrame, errorFrame, stampEvent, type PublishInput, type RealtimeMessage } from './frames.js'
import { Lifecycle } from './lifecycle.js'
import { Rooms } from './rooms.js'
import { Session, type Transport } from './session.js'
import { kSeq } from './symbols.js'

/** A validated message as handlers receive it: `payload` is always an object. */
export interface InboundMessage<P = Record<string, unknown>> {
  id?: string
  room?: string
  type: string
  payload: P
}

export type TypedHandler<P = Record<string, unknown>> = (session: Session, message: InboundMessage<P>) => unknown
export type RawHandler = (session: Session, data: string | Buffer, info: { binary: boolean, typed: boolean }) => unknown
export type OpenHandler = (session: Session) => unknown
export type CloseHandler = (session: Session, code: number, reason: string) => unknown
export type ErrorHandler = (session: Session | null, error: Error) => unknown
/** Sessions that should get a room message besides the room's members (see `Hub.addRecipientResolver`). */
export type RecipientResolver = (message: RealtimeMessage) => Iterable<Session> | undefined

/** Reasons counted by observers; a small fixed set so metric labels stay bounded. */
export type ErrorReason = 'invalid_message' | 'too_large' | 'rate_limited' | 'slow_consumer' | 'unauthorized' | 'forbidden' | 'internal'

/** Hooks for metrics and other passive watchers. Every method is optional and must not throw. */
export interface HubObserver {
  sessionOpened?: (session: Session) => void
  sessionClosed?: (session: Session, code: number) => void
  messageInbound?: (session: Session) => void
  messagesOutbound?: (count: number) => void
  error?: (reason: ErrorReason) => void
  published?: (message: RealtimeMessage, seconds: number) => void
  longPollSessionCreated?: () => void
  longPollPolled?: () => void
  longPollEnqueued?: (count: number) => void
  longPollDrained?: (count: number) => void
  longPollDropped?: (count: number) => void
  storeAppended?: (count: number, seconds: number) => void
}

/** Result of persisting one message. `duplicate` means a message with that id is already stored. */
export interface PersistResult { duplicate: boolean, message: RealtimeMessage }

/** Result of joining a room with recovery. */
export interface RecoveryResult { recovered: boolean, replayed: number, latestId: string | null }

/**
 * Where the publish pipeline stores messages and where `room.join` with
 * `since` replays them from. Set by the message-store plugin.
 */
export interface Persistence {
  shouldPersist: (message: RealtimeMessage) => boolean
  persist: (message: RealtimeMessage) => Promise<PersistResult>
  /** Join `session` to `room` and bring it up to date from `since` with no gap and no duplicate. */
  joinWithRecovery: (session: Session, room: string, since: string | undefined, join: () => void) => Promise<RecoveryResult> | RecoveryResult
}

export interface Logger {
  debug: (obj: unknown, msg?: string) => void
  warn: (obj: unknown, msg?: string) => void
  error: (obj: unknown, msg?: string) => void
}

export interface HubOptions {
  /** Types a client may publish to a room it has joined (relayed to every member, sender included). */
  relayTypes?: string[]
  /** Answer typed messages nobody handles with `VIX_ERR_UNKNOWN_TYPE` (default true). */
  rejectUnknownTypes?: boolean
  /** Close a session 1013 when more than this many bytes wait in its send buffer (default 1 MiB). */
  maxBufferedAmount?: number
  /** Resolve the identity of a connecting client; `null`, `undefined`, `false` or a throw rejects it (401). */
  authenticate?: (request: unknown) => unknown
  /** May this session join this room? (default: yes) */
  authorizeJoin?: (session: Session, room: string) => boolean | Promise<boolean>
  /** May this session (null: server-side HTTP publish) publish this message? (default: yes) */
  authorizePublish?: (session: Session | null, message: InboundMessage) => boolean | Promise<boolean>
  /** The envelope schema every typed frame is validated against (default `JsonMessage`). */
  messageSchema?: TSchema
  /** How long shutdown waits for peers before forcing them, in ms (default 10000). */
  shutdownTimeout?: number
  logger?: Logger
}

/** A typed-message catalogue entry: what OpenAPI documents. */
export interface CatalogueEntry { type: string, relay: boolean, schema?: TSchema, description?: string }

export interface DispatchOk { ok: true, id?: string }
export interface DispatchError { ok: false, code: ErrorCode, message: string, path?: string, id?: string }
export type DispatchResult = DispatchOk | DispatchError

interface TypedRegistration { handlers: TypedHandler<any>[], validator?: Validator, schema?: TSchema, description?: string }

/** A validated envelope as handlers receive it: `payload` defaulted, `kind` and `ts` dropped. */
export function inboundMessageOf (input: JsonMessageInput): InboundMessage {
  const message: InboundMessage = { type: input.type, payload: input.payload ?? {} }
  if (input.id !== undefined) message.id = input.id
  if (input.room !== undefined) message.room = input.room
  return message
}

const silentLogger: Logger = { debug () {}, warn () {}, error () {} }

const reasonByCode: Partial<Record<ErrorCode, ErrorReason>> = {
  [ErrorCodes.INVALID_MESSAGE]: 'invalid_message',
  [ErrorCodes.FORBIDDEN]: 'forbidden',
  [ErrorCodes.NOT_IN_ROOM]: 'forbidden',
  [ErrorCodes.UNKNOWN_TYPE]: 'invalid_message',
  [ErrorCodes.RATE_LIMITED]: 'rate_limited',
  [ErrorCodes.INTERNAL]: 'internal'
}

class DispatchFailure extends Error {
  constructor (readonly code: ErrorCode, message: string, readonly path?: string) {
    super(message)
  }
}

/**
 * The transport-agnostic core: sessions, rooms, the router and the one
 * publish pipeline. A WebSocket and a long-poll client are both a `Session`.
 *
 * @example
 * const hub = new Hub({ relayTypes: ['chat.message'] })
 * hub.on('ping', (session) => session.send(ackFrame('ping', {})))
 * await hub.publish({ room: 'general', type: 'news', payload: { text: 'hi' } })
 */
export class Hub {
  readonly sessions = new Map<string, Session>()
  readonly rooms = new Rooms()
  readonly relayTypes: ReadonlySet<string>
  readonly messageSchema: TSchema
  readonly logger: Logger
  /** Two-phase shutdown: `requestStop()` then `finalizeShutdown()`. */
  readonly lifecycle: Lifecycle
  persistence: Persistence | null = null
  private readonly options: HubOptions
  private readonly envelope: Validator
  private readonly joinValidator = compileValidator(RoomJoinPayload)
  private readonly leaveValidator = compileValidator(RoomLeavePayload)
  private readonly typed = new Map<string, TypedRegistration>()
  private readonly rawHandlers: RawHandler[] = []
  private readonly openHandlers: OpenHandler[] = []
  private readonly closeHandlers: CloseHandler[] = []
  private readonly errorHandlers: ErrorHandler[] = []
  /** Registered observers; parts outside the hub (long-polling, store) notify them too. */
  readonly observers: readonly HubObserver[] = []
  private readonly inboxes = new WeakMap<Session, Promise<unknown>>()
  private readonly recipientResolvers: RecipientResolver[] = []

  constructor (options: HubOptions = {}) {
    this.options = options
    this.relayTypes = new Set(options.relayTypes ?? [])
    this.messageSchema = options.messageSchema ?? JsonMessage
    this.envelope = compileValidator(this.messageSchema)
    this.logger = options.logger ?? silentLogger
    this.lifecycle = new Lifecycle({ shutdownTimeout: options.shutdownTimeout ?? 10_000, logger: this.logger })
  }

  // ---- router -------------------------------------------------------------

  /**
   * Handle a typed message. With `{ schema }`, the payload is validated before any
   * handler runs (an invalid one gets a `VIX_ERR_INVALID_MESSAGE` frame) and the
   * type is added to the documented message catalogue.
   *
   * @example
   * hub.on('chat.message', { schema: Type.Object({ text: Type.String() }) }, (session, msg) => {
   *   msg.payload.text // string
   * })
   */
  on<S extends TSchema>(type: string, options: { schema?: S, description?: string }, handler?: TypedHandler<Static<S>>): this
  on (type: string, handler: TypedHandler): this
  on (type: string, optionsOrHandler: TypedHandler | { schema?: TSchema, description?: string }, maybeHandler?: TypedHandler<any>): this {
    let registration = this.typed.get(type)
    if (registration === undefined) {
      registration = { handlers: [] }
      this.typed.set(type, registration)
    }
    const handler = typeof optionsOrHandler === 'function' ? optionsOrHandler : maybeHandler
    if (typeof optionsOrHandler === 'object') {
      if (optionsOrHandler.schema !== undefined) {
        registration.schema = optionsOrHandler.schema
        registration.validator = compileValidator(optionsOrHandler.schema)
      }
      if (optionsOrHandler.description !== undefined) registration.description = optionsOrHandler.description
    }
    if (handler !== undefined) registration.handlers.push(handler)
    return this
  }

  /** Raw frames: text that is not a typed message, binary frames, and (flagged `typed`) typed ones too. */
  onMessage (handler: RawHandler): this { this.rawHandlers.push(handler); return this }
  onOpen (handler: OpenHandler): this { this.openHandlers.push(handler); return this }
  onClose (handler: CloseHandler): this { this.closeHandlers.push(handler); return this }
  onError (handler: ErrorHandler): this { this.errorHandlers.push(handler); return this }

  /** The documented message catalogue: types with a registered schema, and relay types. */
  catalogue (): CatalogueEntry[] {
    const entries = new Map<string, CatalogueEntry>()
    for (const type of this.relayTypes) entries.set(type, { type, relay: true })
    for (const [type, registration] of this.typed) {
      entries.set(type, { type, relay: this.relayTypes.has(type), schema: registration.schema, description: registration.description })
    }
    return [...entries.values()].sort((a, b) => a.type.localeCompare(b.type))
  }

  addObserver (observer: HubObserver): () => void {
    const observers = this.observers as HubObserver[]
    observers.push(observer)
    return () => {
      const index = observers.indexOf(observer)
      if (index !== -1) observers.splice(index, 1)
    }
  }

  /**
   * Deliver room messages to more sessions than the room's members: `resolve`
   * names extra recipients per message (the long-polling `resolveRecipients`
   * option hangs here). Members, the excepted session and sessions already
   * named are skipped, so nobody gets a message twice. Room-less messages
   * reach every session already and are not resolved.
   *
   * @example
   * hub.addRecipientResolver((msg) => sessionsOfUser(msg.payload.to))
   */
  addRecipientResolver (resolve: RecipientResolver): () => void {
    this.recipientResolvers.push(resolve)
    return () => {
      const index = this.recipientResolvers.indexOf(resolve)
      if (index !== -1) this.recipientResolvers.splice(index, 1)
    }
  }

  // ---- sessions -----------------------------------------------------------

  /**
   * Resolve a client's identity for any transport or route. A rejection (a
   * throw, or `null` / `undefined` / `false`) is counted as `unauthorized` and
   * thrown as the coded 401 `VIX_ERR_UNAUTHORIZED`.
   */
  async authenticate (request: unknown): Promise<unknown> {
    if (this.options.authenticate === undefined) return undefined
    let identity: unknown
    try {
      identity = await this.options.authenticate(request)
    } catch (error) {
      this.report('unauthorized')
      throw new UnauthorizedError((error as Error).message)
    }
    if (identity === null || identity === undefined || identity === false) {
      this.report('unauthorized')
      throw new UnauthorizedError('rejected by authenticate')
    }
    return identity
  }

  /** Register a new session over `transport`. */
  openSession (transport: Transport, identity?: unknown, id?: string): Session {
    const session = new Session(transport, {
      id,
      identity,
      maxBufferedAmount: this.options.maxBufferedAmount ?? 1024 * 1024,
      onSlowConsumer: () => this.report('slow_consumer')
    })
    this.sessions.set(session.id, session)
    for (const observer of this.observers) observer.sessionOpened?.(session)
    for (const handler of this.openHandlers) this.runHook(session, () => handler(session))
    return session
  }

  /** Forget a session whose transport has closed: it leaves every room. Safe to call twice. */
  closeSession (session: Session, code: number, reason = ''): void {
    if (!this.sessions.delete(session.id)) return
    session.closed = true
    session.closeCode ??= code
    this.rooms.leaveAll(session)
    for (const observer of this.observers) observer.sessionClosed?.(session, code)
    for (const handler of this.closeHandlers) this.runHook(session, () => handler(session, code, reason))
  }

  getSession (id: string): Session | undefined {
    return this.sessions.get(id)
  }

  /** Server-side join: no authorization, no ack. */
  join (session: Session, room: string): boolean {
    return this.rooms.join(session, room)
  }

  /** Server-side leave. */
  leave (session: Session, room: string): boolean {
    return this.rooms.leave(session, room)
  }

  // ---- publish pipeline ---------------------------------------------------

  /**
   * The one pipeline for every message: stamp id and ts, store when the room
   * is persisted, then fan out (serialized once). Resolves once the message
   * is accepted (and committed, when stored).
   *
   * @example
   * await app.realtime.publish({ room: 'general', type: 'chat.message', payload: { text: 'hi' } })
   */
  async publish (input: PublishInput, options: { except?: Session | string } = {}): Promise<RealtimeMessage> {
    const started = process.hrtime.bigint()
    let message = stampEvent(input)
    const persistence = this.persistence
    if (persistence !== null && persistence.shouldPersist(message)) {
      const result = await persistence.persist(message)
      message = result.message
      if (result.duplicate) return message
    }
    const except = typeof options.except === 'string' ? options.except : options.except?.id
    this.fanout(message, except)
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    for (const observer of this.observers) observer.published?.(message, seconds)
    return message
  }

  /**
   * Deliver an already stamped (and stored) message to local sessions: the
   * room's members, or everyone for a room-less message. Serialized once.
   */
  fanout (message: RealtimeMessage, exceptSessionId?: string): number {
    const data = JSON.stringify(message)
    // A stored message carries its sequence number so a room being replayed can drop what it already sent.
    const seq = (message as { [kSeq]?: number })[kSeq]
    const targets = message.room === undefined ? this.sessions.values() : this.rooms.sessionsIn(message.room)
    let delivered = 0
    if (targets !== undefined) {
      for (const session of targets) {
        if (session.id !== exceptSessionId && session.deliver(message.room, seq, data)) delivered++
      }
    }
    if (this.recipientResolvers.length > 0 && message.room !== undefined) delivered += this.deliverResolved(message, message.room, data, exceptSessionId)
    for (const observer of this.observers) observer.messagesOutbound?.(delivered)
    return delivered
  }

  private deliverResolved (message: RealtimeMessage, room: string, data: string, exceptSessionId: string | undefined): number {
    const reached = new Set<Session>()
    let delivered = 0
    for (const resolve of this.recipientResolvers) {
      let extra: Iterable<Session> | undefined
      try {
        extra = resolve(message)
      } catch (error) {
        this.logger.error({ err: error }, 'vix-realtime: recipient resolver failed')
        continue
      }
      if (extra === undefined) continue
      for (const session of extra) {
        if (session.id === exceptSessionId || session.rooms.has(room) || reached.has(session)) continue
        reached.add(session)
        if (session.sendSerialized(data)) delivered++
      }
    }
    return delivered
  }

  /** Send one frame to one session (counted as outbound). */
  send (session: Session, frame: RealtimeMessage): boolean {
    const sent = session.send(frame)
    if (sent) for (const observer of this.observers) observer.messagesOutbound?.(1)
    return sent
  }

  // ---- incoming frames ----------------------------------------------------

  /**
   * Process one incoming frame from `session`. Frames of one session are
   * processed in arrival order, one at a time. With `replyErrors` (the
   * WebSocket case) failures are sent back as error frames; either way the
   * result says what happened (the long-polling transport maps it to HTTP).
   * With `typedOnly` (HTTP, where raw frames have no place) text that is not a
   * typed message is an invalid message instead of going to raw handlers.
   */
  receive (session: Session, data: string | Buffer, binary: boolean, replyErrors = true, typedOnly = false): Promise<DispatchResult> {
    const previous = this.inboxes.get(session) ?? Promise.resolve()
    let handedOff!: () => void
    const inPipeline = new Promise<void>((resolve) => { handedOff = resolve })
    const result = previous
      .then(() => this.dispatch(session, data, binary, replyErrors, typedOnly, handedOff))
      .catch((error: unknown) => this.handlerFailed(session, error))
    // The next frame waits until this one is done, or (for a relayed message) only
    // until it is in the publish pipeline: the store appends and commits in call
    // order, so order holds while a client's messages share one group commit.
    this.inboxes.set(session, Promise.race([result, inPipeline]))
    return result
  }

  private async dispatch (session: Session, data: string | Buffer, binary: boolean, replyErrors: boolean, typedOnly: boolean, handedOff: () => void): Promise<DispatchResult> {
    for (const observer of this.observers) observer.messageInbound?.(session)
    const decoded = decodeFrame(data, binary, this.envelope)
    let result: DispatchResult
    if (decoded.kind === 'raw') {
      result = typedOnly && decoded.notTyped !== undefined
        ? { ok: false, code: ErrorCodes.INVALID_MESSAGE, ...decoded.notTyped }
        : await this.runRaw(session, decoded.data, binary, false)
    } else if (decoded.kind === 'invalid') {
      result = { ok: false, code: ErrorCodes.INVALID_MESSAGE, message: decoded.message, path: decoded.path, id: decoded.id }
    } else {
      const raw = await this.runRaw(session, decoded.data, false, true)
      const message = inboundMessageOf(decoded.message)
      result = raw.ok ? await this.dispatchTyped(session, message, handedOff) : { ...raw, id: message.id }
    }
    if (!result.ok) {
      this.report(reasonByCode[result.code] ?? 'internal')
      if (replyErrors) this.send(session, errorFrame(result.code, result.message, { id: result.id, path: result.path }))
    }
    return result
  }

  private async runRaw (session: Session, data: string | Buffer, binary: boolean, typed: boolean): Promise<DispatchResult> {
    for (const handler of this.rawHandlers) {
      try {
        await handler(session, data, { binary, typed })
      } catch (error) {
        return this.handlerFailed(session, error)
      }
    }
    return { ok: true }
  }

  private async dispatchTyped (session: Session, message: InboundMessage, handedOff: () => void): Promise<DispatchResult> {
    try {
      if (message.type === 'room.join') return await this.clientJoin(session, message)
      if (message.type === 'room.leave') return await this.clientLeave(session, message)
      const registration = this.typed.get(message.type)
      const relay = this.relayTypes.has(message.type)
      if (registration === undefined && !relay) {
        if (this.options.rejectUnknownTypes === false) return { ok: true }
        throw new DispatchFailure(ErrorCodes.UNKNOWN_TYPE, `Unknown message type "${message.type}"`)
      }
      if (registration?.validator !== undefined && !registration.validator.check(message.payload)) {
        const { path, message: why } = registration.validator.firstError(message.payload)
        const fullPath = path === '/' ? '/payload' : `/payload${path}`
        throw new DispatchFailure(ErrorCodes.INVALID_MESSAGE, `${fullPath}: ${why}`, fullPath)
      }
      let id = message.id
      if (relay) id = (await this.relay(session, message, handedOff)).id
      if (registration !== undefined) {
        for (const handler of registration.handlers) await handler(session, message)
      }
      if (message.id !== undefined) this.send(session, ackFrame(message.type, { id: message.id, room: message.room }))
      return { ok: true, id }
    } catch (error) {
      if (error instanceof DispatchFailure) return { ok: false, code: error.code, message: error.message, path: error.path, id: message.id }
      return { ...this.handlerFailed(session, error), id: message.id }
    }
  }

  /**
   * Publish a client's message to a room it has joined, after `authorizePublish`.
   * Used for `relayTypes`; handlers may call it for their own types.
   */
  async relay (session: Session, message: InboundMessage, handedOff?: () => void): Promise<RealtimeMessage> {
    if (message.room === undefined) throw new DispatchFailure(ErrorCodes.INVALID_MESSAGE, '/room: a relayed message needs a room', '/room')
    if (!session.rooms.has(message.room)) throw new DispatchFailure(ErrorCodes.NOT_IN_ROOM, `Not in room "${message.room}": join it before publishing to it`)
    await this.authorizePublish(session, message)
    const published = this.publish(message)
    handedOff?.()
    return await published
  }

  /** Throws a `VIX_ERR_FORBIDDEN` failure when `authorizePublish` denies. */
  async authorizePublish (session: Session | null, message: InboundMessage): Promise<void> {
    const authorize = this.options.authorizePublish
    if (authorize !== undefined && !(await authorize(session, message))) {
      throw new DispatchFailure(ErrorCodes.FORBIDDEN, `Forbidden: may not publish "${message.type}"${message.room === undefined ? '' : ` to room "${message.room}"`}`)
    }
  }

  /** Throws a `VIX_ERR_FORBIDDEN` failure when `authorizeJoin` denies. */
  async authorizeJoin (session: Session, room: string): Promise<void> {
    const authorize = this.options.authorizeJoin
    if (authorize !== undefined && !(await authorize(session, room))) {
      throw new DispatchFailure(ErrorCodes.FORBIDDEN, `Forbidden: may not join room "${room}"`)
    }
  }

  private async clientJoin (session: Session, message: InboundMessage): Promise<DispatchResult> {
    const payload = this.checkBuiltin(this.joinValidator, message.payload) as Static<typeof RoomJoinPayload>
    await this.authorizeJoin(session, payload.room)
    const join = (): void => { this.rooms.join(session, payload.room) }
    let recovery: RecoveryResult = { recovered: false, replayed: 0, latestId: null }
    if (this.persistence === null) join()
    else recovery = await this.persistence.joinWithRecovery(session, payload.room, payload.since, join)
    await this.runTypedHandlers(session, message)
    this.send(session, ackFrame('room.join', { id: message.id, room: payload.room }, { room: payload.room, ...recovery }))
    return { ok: true, id: message.id }
  }

  private async clientLeave (session: Session, message: InboundMessage): Promise<DispatchResult> {
    const payload = this.checkBuiltin(this.leaveValidator, message.payload) as Static<typeof RoomLeavePayload>
    this.rooms.leave(session, payload.room)
    await this.runTypedHandlers(session, message)
    this.send(session, ackFrame('room.leave', { id: message.id, room: payload.room }, { room: payload.room }))
    return { ok: true, id: message.id }
  }

  private async runTypedHandlers (session: Session, message: InboundMessage): Promise<void> {
    const registration = this.typed.get(message.type)
    if (registration === undefined) return
    for (const handler of registration.handlers) await handler(session, message)
  }

  private checkBuiltin (validator: Validator, payload: Record<string, unknown>): unknown {
    if (validator.check(payload)) return payload
    const { path, message } = validator.firstError(payload)
    const fullPath = path === '/' ? '/payload' : `/payload${path}`
    throw new DispatchFailure(ErrorCodes.INVALID_MESSAGE, `${fullPath}: ${message}`, fullPath)
  }

  private handlerFailed (session: Session, error: unknown): DispatchError {
    const err = error instanceof Error ? error : new Error(String(error))
    this.logger.error({ err, sessionId: session.id }, 'vix-realtime: message handler failed')
    this.emitError(session, err)
    return { ok: false, code: ErrorCodes.INTERNAL, message: 'Internal error while handling the message' }
  }

  /** Run a lifecycle hook; a throw or rejection is logged and reported, never propagated. */
  private runHook (session: Session, fn: () => unknown): void {
    try {
      const result = fn()
      if (result instanceof Promise) result.catch((error: unknown) => { this.handlerFailed(session, error) })
    } catch (error) {
      this.handlerFailed(session, error)
    }
  }

  /** Count an error by reason (for metrics). */
  report (reason: ErrorReason): void {
    for (const observer of this.observers) observer.error?.(reason)
  }

  /** Hand an error (a failed handler, a socket error) to the `onError` handlers. */
  emitError (session: Session | null, error: Error): void {
    for (const handler of this.errorHandlers) {
      try {
        handler(session, error)
      } catch (hookError) {
        this.logger.error({ err: hookError }, 'vix-realtime: onError handler failed')
      }
    }
  }
}
