import type { Static, TSchema } from '@sinclair/typebox'
import { Admission, type AdmissionPolicy, type Admitted } from '../admission.js'
import { InProcessBroker } from '../broker/in-process.js'
import { Health } from '../health.js'
import type { Broker, Envelope } from '../broker/types.js'
import { compileValidator, type Validator } from '../codec.js'
import { ForbiddenError } from '../errors.js'
import type { PublishInput, RealtimeMessage } from '../frames.js'
import { Control } from './control.js'
import { Dispatcher } from './dispatch.js'
import { Intake } from './intake.js'
import { chain, type Maybe } from './maybe.js'
import { countOutbound } from './observers.js'
import { isReservedType, resolveHubOptions, type HubOptions, type ResolvedHubOptions } from './options.js'
import { PublishPipeline, type Persistence, type PublishSource, type Published } from './pipeline.js'
import { senderScope } from './sender.js'
import { Hooks } from './hooks.js'
import { sessionTokens } from './tokens.js'
import { ReplyCache } from './replies.js'
import { Router } from './router.js'
import { RoomSubscriptions } from './subscriptions.js'
import type { CatalogueEntry, CloseHandler, DispatchError, DispatchResult, ErrorHandler, ErrorReason, HubObserver, InboundMessage, Logger, OpenHandler, RawHandler, ReceiveOptions, RecipientResolver, RequestOptions, TypedHandler, TypeOptions } from './types.js'
import type { LongPollBridgeParts } from '../long-polling/bridge.js'
import type { LongPollParts } from '../long-polling/manager.js'
import type { MetricsParts } from '../metrics.js'
import type { PersistenceParts } from '../store/persistence.js'
import type { TransactionalSetupParts } from '../store/transactional-setup.js'
import type { WebSocketParts } from '../websocket/connections.js'
import { Lifecycle } from '../lifecycle.js'
import { Limits, type ConnectionSlot } from '../limits/limits.js'
import { resolveLimits } from '../limits/options.js'
import { Presence, type PresenceMember } from '../presence/presence.js'
import { Rooms } from '../rooms.js'
import { Session, type Transport } from '../session.js'

const silentLogger: Logger = { debug () {}, warn () {}, error () {} }

/**
 * The transport-agnostic core, and the builder of its parts: sessions,
 * rooms, the router, the intake (each session's inbox), the dispatcher and
 * the one publish pipeline. Each part gets a small interface of what it
 * needs, declared beside it (`DispatchParts`, `PipelineParts`, `IntakeParts`,
 * `AdmissionParts`; the transports' and the store's from `…Parts()` here);
 * none gets the hub. Applications see it through `Realtime` (`app.realtime`).
 * A WebSocket and a long-poll client are both a `Session`.
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
  /** `messageSchema` compiled once: the dispatcher, the pipeline and the long-polling bridge all check envelopes with it. */
  readonly messageValidator: Validator
  readonly logger: Logger
  /** The options as given, defaults filled in. */
  readonly options: ResolvedHubOptions
  /** Two-phase shutdown: `requestStop()` then `finalizeShutdown()`. */
  readonly lifecycle: Lifecycle
  readonly admission: Admission
  /** Connection caps and rates (the `limits` option); its counts are the admitted sessions. */
  readonly limits: Limits
  readonly broker: Broker
  /** Registered observers; parts outside the hub (long-polling, store) notify them too. */
  readonly observers: readonly HubObserver[] = []
  /** Resolves once the broker has started (a Redis broker connects). */
  readonly started: Promise<void>
  /** Presence tracking, when the `presence` option turns it on. */
  readonly presenceTracker: Presence | undefined
  /** The node's dependencies (Redis, PostgreSQL), up or down: `GET /ws/ready` and the `vix_dependency_*` metrics read it. */
  readonly health: Health
  /** Server calls across nodes: `disconnect`, `leave`, `connections` (see `Control`). */
  readonly control: Control
  private readonly router: Router
  private readonly pipeline: PublishPipeline
  private readonly recipientResolvers: RecipientResolver[] = []
  private readonly intake: Intake
  private readonly subscriptions: RoomSubscriptions
  private readonly hooks: Hooks
  private brokerUp = true

  constructor (options: HubOptions = {}) {
    this.options = resolveHubOptions(options)
    this.logger = this.options.logger ?? silentLogger
    this.relayTypes = new Set(this.options.relayTypes)
    this.messageSchema = this.options.messageSchema
    this.lifecycle = new Lifecycle({ shutdownTimeout: this.options.shutdownTimeout, logger: this.logger })
    this.router = new Router(this.relayTypes, isReservedType)
    this.hooks = new Hooks(this.logger, this.router.error)
    this.broker = this.options.broker ?? new InProcessBroker()
    this.messageValidator = compileValidator(this.messageSchema)
    this.limits = new Limits(resolveLimits(this.options.limits), (limit) => {
      for (const observer of this.observers) observer.limitRejected?.(limit)
    })
    const parts = { ...this.options, leave: (session: Session, room: string) => this.leave(session, room), send: this.send, report: this.report, authorizeJoin: this.authorizeJoin }
    this.admission = new Admission({ ...parts, limits: this.limits, stopping: () => this.lifecycle.stopping, now: this.options.clock.now })
    this.pipeline = new PublishPipeline({
      options: this.options,
      router: this.router,
      rooms: this.rooms,
      sessions: this.sessions,
      messageValidator: this.messageValidator,
      broker: this.broker,
      observers: this.observers,
      recipientResolvers: this.recipientResolvers,
      logger: this.logger
    })
    this.presenceTracker = this.options.presence === undefined
      ? undefined
      : new Presence({ nodeId: this.options.nodeId, rooms: this.rooms, broker: this.broker, observers: this.observers, logger: this.logger, lifecycle: this.lifecycle }, this.options.presence)
    this.subscriptions = new RoomSubscriptions(this.rooms, this.broker, this.logger)
    const tokens = sessionTokens(parts)
    this.addObserver(tokens.expiry)
    this.control = new Control({ ...parts, broker: this.broker, sessions: this.sessions, logger: this.logger })
    this.health = new Health({ logger: this.logger, failFast: this.options.failFast, stopping: () => this.lifecycle.stopping })
    this.intake = new Intake({
      limits: this.limits,
      maxQueuedFrames: this.options.maxQueuedFrames,
      report: this.report,
      processor: new Dispatcher({
        messageValidator: this.messageValidator,
        relayTypes: this.relayTypes,
        rejectUnknownTypes: this.options.rejectUnknownTypes,
        router: this.router,
        replies: new ReplyCache(this.options.replyCache),
        checkReplies: process.env.NODE_ENV !== 'production',
        logger: this.logger,
        rooms: this.rooms,
        limits: this.limits,
        pipeline: this.pipeline,
        presence: this.presenceTracker,
        observers: this.observers,
        send: this.send,
        authorizeJoin: this.authorizeJoin,
        roomReady: (room) => this.subscriptions.ready(room),
        handlerFailed: (session, error) => this.hooks.failed(session, error),
        report: this.report,
        refresh: tokens.refresh
      })
    })
    this.broker.watch?.(this.health)
    this.started = Promise.resolve(this.broker.start((envelope) => { this.pipeline.receiveRemote(envelope) }, {
      resync: () => {
        this.pipeline.resync()
        this.presenceTracker?.resync()
      },
      connection: (connected) => {
        this.brokerUp = connected
        for (const observer of this.observers) observer.brokerConnection?.(connected)
      },
      error: () => { for (const observer of this.observers) observer.brokerError?.() },
      control: (message) => { this.presenceTracker?.receive(message); this.control.receive(message) }
    })).then(() => { this.presenceTracker?.start() })
    // After the transports (0), before the store (100): the last messages still reach other nodes.
    this.lifecycle.add({ name: 'broker', order: 50, finalize: async () => { await this.broker.close() } })
  }

  /** This node's id in envelopes. */
  get nodeId (): string {
    return this.options.nodeId
  }

  /** False while the broker reports its connection down (always true for the in-process broker). */
  get brokerConnected (): boolean {
    return this.brokerUp
  }

  /** Stage 2 (the store) and replay, once the message-store plugin attached one. */
  get persistence (): Persistence | null {
    return this.pipeline.persistence
  }

  /** Plug the store into the publish pipeline (the message-store plugin does); one per hub. */
  attachPersistence (persistence: Persistence): void {
    if (this.pipeline.persistence !== null) throw new Error('a message store is already plugged into this hub')
    this.pipeline.persistence = persistence
  }

  // ---- what each part gets ------------------------------------------------

  /** The WebSocket connections' view of the hub. */
  webSocketParts (): WebSocketParts {
    return { openSession: this.openSession, closeSession: this.closeSession, receive: this.receive, report: this.report, emitError: this.emitError, logger: this.logger }
  }

  /** The long-poll sessions' view of the hub. */
  longPollParts (): LongPollParts {
    return { openSession: this.openSession, closeSession: this.closeSession, identityKey: this.options.identityKey, observers: this.observers }
  }

  /** The long-polling bridge's view of the hub. */
  longPollBridgeParts (): LongPollBridgeParts {
    return {
      messageValidator: this.messageValidator,
      addRecipientResolver: (resolve) => this.addRecipientResolver(resolve),
      getSession: (id) => this.sessions.get(id),
      receiveRequest: (session, text) => this.intake.receiveRequest(session, text),
      takeIp: (ip) => { this.limits.takeIp(ip) },
      publishFrom: (input, source) => this.publishFrom(input, source),
      report: this.report,
      logger: this.logger
    }
  }

  /** The store persistence's view of the hub. */
  persistenceParts (): PersistenceParts {
    return { rooms: this.rooms, deliverLocal: (envelope) => this.pipeline.deliverLocal(envelope), send: this.send, observers: this.observers, logger: this.logger }
  }

  /** What a store's transactional side takes: server code's accept stage, as `publish()` runs it. */
  transactionalParts (): TransactionalSetupParts {
    return { accept: (input) => this.pipeline.accept(input as InboundMessage, 'server') as PublishInput, observers: this.observers, logger: this.logger }
  }

  /** What the metrics read at scrape time. */
  metricsParts (): MetricsParts {
    return { sessions: this.sessions, roomCount: () => this.rooms.count, presenceSize: () => this.presenceTracker?.size ?? 0, brokerConnected: () => this.brokerUp, dependencies: () => this.health.list(), addObserver: (observer) => this.addObserver(observer) }
  }

  // ---- router -------------------------------------------------------------

  /** Handle a typed message (see `Realtime.on` and docs/server-api.md). */
  on<S extends TSchema>(type: string, options: TypeOptions<S> | RequestOptions<S>, handler?: TypedHandler<Static<S>>): this
  on (type: string, handler: TypedHandler): this
  on (type: string, optionsOrHandler: TypedHandler | TypeOptions | RequestOptions, maybeHandler?: TypedHandler<any>): this {
    if (typeof optionsOrHandler === 'function') this.router.on(type, undefined, optionsOrHandler)
    else this.router.on(type, optionsOrHandler, maybeHandler)
    return this
  }

  /** Raw frames: text that is not a typed message, binary frames, and (flagged `typed`) typed ones too. */
  onMessage (handler: RawHandler): this { this.router.add(this.router.raw, handler); return this }
  onOpen (handler: OpenHandler): this { this.router.add(this.router.open, handler); return this }
  onClose (handler: CloseHandler): this { this.router.add(this.router.close, handler); return this }
  onError (handler: ErrorHandler): this { this.router.add(this.router.error, handler); return this }

  /** The documented message catalogue: types with a registered schema, and relay types. */
  catalogue (): CatalogueEntry[] {
    return this.router.catalogue()
  }

  addObserver (observer: HubObserver): () => void {
    return this.router.add(this.observers as HubObserver[], observer)
  }

  /** Extra recipients of room messages, nobody twice (see `Realtime.addRecipientResolver`). */
  addRecipientResolver (resolve: RecipientResolver): () => void {
    return this.router.add(this.recipientResolvers, resolve)
  }

  // ---- sessions -----------------------------------------------------------

  /** Admit a client of any transport (see `Admission`): shutting down, origin, `authenticate`. */
  async admit (request: unknown, policy: AdmissionPolicy): Promise<Admitted> {
    return await this.admission.admit(request, policy)
  }

  /** Resolve a client's identity; a rejection throws the coded 401 `VIX_ERR_UNAUTHORIZED`. */
  async authenticate (request: unknown): Promise<unknown> {
    return await this.admission.authenticate(request)
  }

  /** Comparable form of an identity (the `identityKey` option). */
  identityKey (identity: unknown): string | undefined {
    return this.options.identityKey(identity)
  }

  // Shared by every session: no closure per connection.
  private readonly slowConsumer = (): void => { this.report('slow_consumer') }

  /** Register a new session over `transport`; `slot`, `senderKey` and `expiresAt` come from admission (the slot is its place in the connection counts, released when it closes). */
  readonly openSession = (transport: Transport, identity?: unknown, id?: string, slot?: ConnectionSlot, senderKey?: string, expiresAt?: number): Session => {
    const session = new Session(transport, {
      id,
      identity,
      identityKey: this.options.identityKey(identity),
      senderKey,
      expiresAt,
      maxBufferedAmount: this.options.maxBufferedAmount,
      onSlowConsumer: this.slowConsumer
    })
    this.sessions.set(session.id, session)
    if (slot !== undefined) this.limits.bind(session, slot)
    this.intake.open(session)
    for (const observer of this.observers) observer.sessionOpened?.(session)
    for (const handler of this.router.open) this.hooks.run(session, () => handler(session))
    return session
  }

  /** Forget a session whose transport has closed: it leaves every room. Safe to call twice. */
  readonly closeSession = (session: Session, code: number, reason = ''): void => {
    if (!this.sessions.delete(session.id)) return
    session.closed = true
    session.closeCode ??= code
    this.limits.release(session)
    this.rooms.leaveAll(session)
    for (const observer of this.observers) observer.sessionClosed?.(session, code)
    for (const handler of this.router.close) this.hooks.run(session, () => handler(session, code, reason))
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

  /** The members of a presence room across the cluster: `[]` when presence is off or the room has none. */
  presence (room: string): PresenceMember[] {
    return this.presenceTracker?.members(room) ?? []
  }

  /** Resolves once this node receives the room's messages from other nodes (its broker subscription is active). */
  roomReady (room: string): Maybe<void> {
    return this.subscriptions.ready(room)
  }

  // ---- publish pipeline ---------------------------------------------------

  /** Server code's publish: the envelope is validated, the type and payload trusted (see `Realtime.publish`). */
  async publish (input: PublishInput, options: { except?: Session | string } = {}): Promise<RealtimeMessage> {
    return (await this.publishFrom(input, 'server', options)).message
  }

  /**
   * The accept stage for `source`, then the rest of the pipeline. `http`
   * (a server-side HTTP publish) must name a known type and pass its payload
   * schema and `authorizePublish(null, message)`.
   */
  async publishFrom (input: PublishInput, source: PublishSource, options: { except?: Session | string } = {}): Promise<Published> {
    const message: InboundMessage = { ...input, payload: input.payload ?? {} }
    const accepted = await this.pipeline.accept(message, source)
    const except = typeof options.except === 'string' ? options.except : options.except?.id
    return await this.pipeline.publishAccepted(accepted, senderScope(source), except)
  }

  /** Publish a client's message to a room it has joined, as `relayTypes` do (see `Realtime.relay`). */
  async relay (session: Session, message: InboundMessage): Promise<RealtimeMessage> {
    return (await this.publishFrom(message, { session })).message
  }

  /** Deliver an already accepted (and stored) envelope to this node's sessions. */
  deliverLocal (envelope: Envelope): number {
    return this.pipeline.deliverLocal(envelope)
  }

  /** Send one frame to one session (counted as outbound). */
  readonly send = (session: Session, frame: RealtimeMessage): boolean => {
    const sent = session.send(frame)
    if (sent) countOutbound(this.observers, 1)
    return sent
  }

  /** Throws `VIX_ERR_FORBIDDEN` when `authorizeJoin` denies. */
  readonly authorizeJoin = (session: Session, room: string): Maybe<void> => {
    const authorize = this.options.authorizeJoin
    if (authorize === undefined) return
    return chain(authorize(session, room), (allowed) => {
      if (!allowed) throw new ForbiddenError(`may not join room "${room}"`)
    })
  }

  // ---- incoming frames ----------------------------------------------------

  /** A frame from a streaming transport (WebSocket): see `Intake.receive`. Never throws. */
  readonly receive = (session: Session, data: string | Buffer, options?: ReceiveOptions): void => {
    this.intake.receive(session, data, options)
  }

  /** A frame sent over HTTP (`POST /ws/send` of a poll session): see `Intake.receiveRequest`. */
  async receiveRequest (session: Session, text: string): Promise<DispatchResult> {
    return await this.intake.receiveRequest(session, text)
  }

  /** Log a failed handler, hand it to `onError`, and answer with the internal error (its cause stays in the log). */
  handlerFailed (session: Session, error: unknown): DispatchError {
    return this.hooks.failed(session, error)
  }

  /** Count an error by reason (for metrics). */
  readonly report = (reason: ErrorReason): void => {
    for (const observer of this.observers) observer.error?.(reason)
  }

  /** Hand an error (a failed handler, a socket error) to the `onError` handlers. */
  readonly emitError = (session: Session | null, error: Error): void => {
    this.hooks.emitError(session, error)
  }
}
