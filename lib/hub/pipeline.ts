import type { Broker, Envelope } from '../broker/types.js'
import type { Validator } from '../codec.js'
import { ErrorCodes, ForbiddenError, NotInRoomError, UnknownTypeError, codedError } from '../errors.js'
import { stampEvent, type PublishInput, type RealtimeMessage } from '../frames.js'
import { encodePosition } from '../position.js'
import { PreparedFrame } from '../prepared-frame.js'
import type { Rooms } from '../rooms.js'
import type { Session } from '../session.js'
import { callSafely } from './maybe.js'
import { countOutbound } from './observers.js'
import { isReservedType, type ResolvedHubOptions } from './options.js'
import { publishedSender, sessionSender } from './sender.js'
import type { Router } from './router.js'
import type { HubObserver, InboundMessage, Logger, RecipientResolver, RecoveryResult } from './types.js'

/** Result of persisting one message: the stored message and its room position; `duplicate`: already stored under that id. */
export interface PersistResult {
  duplicate: boolean
  message: RealtimeMessage
  position: { offset: number, epoch: string }
}

/** What became of a published message: the message as delivered (with `pos` when stored); `duplicate`: its sender had already stored that id (the original, not delivered again). */
export interface Published {
  message: RealtimeMessage
  duplicate: boolean
}

/**
 * Stage 2 of the pipeline and the replay side of `room.join`, set by the
 * message-store plugin.
 */
export interface Persistence {
  shouldPersist: (message: RealtimeMessage) => boolean
  /** Commit the message; resolves with its room position once it is durable. A duplicate is one its `sender` (a scope, see `senderScope`) already stored under that id. */
  persist: (message: RealtimeMessage, sender: string) => Promise<PersistResult>
  /** Join `session` to `room` (by calling `join`) and bring it up to date from `since` with no gap and no duplicate. */
  joinWithRecovery: (session: Session, room: string, since: string | undefined, join: () => void) => Promise<RecoveryResult>
  /**
   * Hand a positioned envelope to `deliver` in offset order, exactly once per
   * offset, whatever order envelopes arrive in (reading a gap from the store).
   */
  sequence: (envelope: Envelope) => void
  /** Other nodes' envelopes may have been lost (the broker reconnected): read every open room's missing messages from the store and deliver them before anything newer. */
  resync?: () => void
  /** Stop timers (shutdown). */
  close?: () => void
}

/**
 * Where a message comes from. `session`: a client's frame (WebSocket, or
 * `POST /ws/send` of a poll session); `http`: a server-side HTTP publish;
 * `server`: application code calling `publish()`.
 */
export type PublishSource = { session: Session } | 'http' | 'server'

export interface PipelineParts {
  options: ResolvedHubOptions
  router: Router
  rooms: Rooms
  sessions: ReadonlyMap<string, Session>
  /** The envelope check (the hub's `messageSchema`), compiled once. */
  messageValidator: Validator
  broker: Broker
  observers: readonly HubObserver[]
  recipientResolvers: readonly RecipientResolver[]
  logger: Logger
}

/**
 * The one path of every message, in four named stages:
 * 1. `accept`: the envelope, for messages from outside the process the
 *    type (known, not reserved) and its payload schema, room membership and
 *    `authorizePublish`; the sender (`from`); then the id and time stamp;
 * 2. `persist`: the store commits it (when its room is stored) and returns its room position;
 * 3. `deliverLocal`: serialized once, handed to every local recipient;
 * 4. `distribute`: the envelope goes to the broker for the other nodes.
 * A broker failure is logged, never allowed to block local delivery.
 */
export class PublishPipeline {
  persistence: Persistence | null = null
  private readonly node: string
  private brokerFailures = 0

  constructor (private readonly parts: PipelineParts) {
    this.node = parts.options.nodeId
  }

  // ---- 1. accept ----------------------------------------------------------

  /**
   * Check a message against what its source may publish; throws the coded
   * error a client gets. Then its `from`: for a client's message what
   * `senderInfo` says of the session (whatever the message carried), none
   * for a server-side HTTP publish, and the checked `from` of server code's
   * own. Synchronous unless `authorizePublish` is async.
   */
  accept (message: InboundMessage, source: PublishSource): PublishInput | Promise<PublishInput> {
    if (source === 'server') return this.acceptOwn(message)
    const { router } = this.parts
    // The server's own types (server.*, room.join, ...) are never published from outside, even when a handler makes them known.
    if (isReservedType(message.type)) throw new UnknownTypeError(message.type)
    if (typeof source === 'object') {
      if (message.room === undefined) throw codedError(ErrorCodes.INVALID_MESSAGE, '/room: a relayed message needs a room', { path: '/room' })
      if (!source.session.rooms.has(message.room)) throw new NotInRoomError(message.room)
    } else if (!router.isKnown(message.type)) {
      throw new UnknownTypeError(message.type)
    }
    router.checkPayload(message.type, message.payload)
    const session = typeof source === 'object' ? source.session : null
    const authorize = this.parts.options.authorizePublish
    if (authorize === undefined) return this.stampSender(message, session)
    const allowed = authorize(session, message)
    if (allowed instanceof Promise) return allowed.then((ok) => this.stampSender(this.authorized(ok, message), session))
    return this.stampSender(this.authorized(allowed, message), session)
  }

  private authorized (allowed: boolean, message: InboundMessage): InboundMessage {
    if (!allowed) throw new ForbiddenError(`may not publish "${message.type}"${message.room === undefined ? '' : ` to room "${message.room}"`}`)
    return message
  }

  /** An accepted message from outside the process gets the server's view of its sender as `from`, and no other. */
  private stampSender (message: InboundMessage, session: Session | null): PublishInput {
    const senderInfo = this.parts.options.senderInfo
    const from = session === null || senderInfo === undefined ? undefined : sessionSender(senderInfo, session)
    if (from === undefined && !('from' in message)) return message
    // Field by field rather than a spread: a spread's copy slowed the later stages down (measured), and drops whatever else code added.
    const stamped: PublishInput = { type: message.type, payload: message.payload }
    if (message.id !== undefined) stamped.id = message.id
    if (message.room !== undefined) stamped.room = message.room
    if (from !== undefined) stamped.from = from
    return stamped
  }

  /** Code's own publishes are trusted with their type and `from`, but not with a malformed envelope (a 1000-char room would reach the store). */
  private acceptOwn (message: PublishInput): PublishInput {
    if (message.from === undefined) {
      this.checkEnvelope(message)
      return message
    }
    const { from, ...envelope } = message
    this.checkEnvelope(envelope)
    return { ...envelope, from: publishedSender(from) }
  }

  private checkEnvelope (message: PublishInput): void {
    const { messageValidator } = this.parts
    if (messageValidator.check(message)) return
    const { path, message: why } = messageValidator.firstError(message)
    throw codedError(ErrorCodes.INVALID_MESSAGE, `${path}: ${why}`, { path })
  }

  // ---- the whole path -----------------------------------------------------

  /**
   * Run stages 2-4 for an accepted message. Resolves (or returns, when
   * nothing is stored) once it is committed and delivered locally.
   */
  publishAccepted (input: PublishInput, sender: string, except?: string): Published | Promise<Published> {
    const started = performance.now()
    const message = stampEvent(input)
    const persistence = this.persistence
    if (persistence === null || !persistence.shouldPersist(message)) {
      return { message: this.fanOut({ node: this.node, room: message.room, except, message }, started), duplicate: false }
    }
    return persistence.persist(message, sender).then((stored): Published => {
      if (stored.duplicate) return { message: stored.message, duplicate: true }
      const envelope: Envelope = { node: this.node, room: message.room, offset: stored.position.offset, epoch: stored.position.epoch, except, message: stored.message }
      return { message: this.fanOut(envelope, started), duplicate: false }
    })
  }

  /** Stages 3 (in offset order when stored) and 4 for a new message, then its publish time is observed. */
  private fanOut (envelope: Envelope, started: number): RealtimeMessage {
    this.deliverInOrder(envelope)
    this.distribute(envelope)
    const seconds = (performance.now() - started) / 1000
    for (const observer of this.parts.observers) observer.published?.(envelope.message, seconds)
    return envelope.message
  }

  /** Stored messages reach local sessions in offset order (the persistence's sequencer), others straight away. */
  private deliverInOrder (envelope: Envelope): void {
    if (envelope.offset !== undefined && this.persistence !== null) {
      this.persistence.sequence(envelope)
    } else {
      this.deliverLocal(envelope)
    }
  }

  // ---- 3. deliver locally -------------------------------------------------

  /**
   * Hand an envelope's message to the local sessions: the room's members
   * (through their gates), or everyone for a room-less message, plus what
   * the recipient resolvers add. Serialized and framed once for all of them
   * (`PreparedFrame`). Returns how many got it.
   */
  deliverLocal (envelope: Envelope): number {
    const { message } = envelope
    const data = new PreparedFrame(JSON.stringify(message))
    const except = envelope.node === this.node ? envelope.except : undefined
    const targets = message.room === undefined ? this.parts.sessions.values() : this.parts.rooms.sessionsIn(message.room)
    let delivered = 0
    if (targets !== undefined) {
      for (const session of targets) {
        if (session.id !== except && session.deliver(envelope, data)) delivered++
      }
    }
    if (this.parts.recipientResolvers.length > 0 && message.room !== undefined) delivered += this.deliverResolved(message, message.room, data, except)
    countOutbound(this.parts.observers, delivered)
    return delivered
  }

  private deliverResolved (message: RealtimeMessage, room: string, data: PreparedFrame, except: string | undefined): number {
    const reached = new Set<Session>()
    let delivered = 0
    for (const resolve of this.parts.recipientResolvers) {
      let extra: Iterable<Session> | undefined
      try {
        extra = resolve(message)
      } catch (error) {
        this.parts.logger.error({ err: error }, 'vix-realtime: recipient resolver failed')
        continue
      }
      if (extra === undefined) continue
      for (const session of extra) {
        if (session.id === except || session.rooms.has(room) || reached.has(session)) continue
        reached.add(session)
        if (session.sendPrepared(data)) delivered++
      }
    }
    return delivered
  }

  // ---- 4. distribute ------------------------------------------------------

  /** Hand the envelope to the broker; a failure is logged (once per outage) and never reaches the publisher. */
  distribute (envelope: Envelope): void {
    callSafely(() => this.parts.broker.publish(envelope), this.brokerFailed, this.brokerSucceeded)
  }

  // Bound once: no closures per publish for the two outcomes.
  private readonly brokerSucceeded = (): void => { this.brokerFailures = 0 }

  private readonly brokerFailed = (error: unknown): void => {
    for (const observer of this.parts.observers) observer.brokerError?.()
    if (this.brokerFailures++ === 0) this.parts.logger.error({ err: error }, 'vix-realtime: broker publish failed; local delivery goes on')
  }

  /** The broker's feed from other nodes came back after a break: repair what it missed, room by room, from the store. */
  resync (): void {
    this.persistence?.resync?.()
  }

  /** An envelope from another node: ignored when it is this node's own, else ordered and delivered locally. */
  receiveRemote (envelope: Envelope): void {
    if (envelope.node === this.node) return
    // The position is the envelope's: the wire form is made here, whatever the message carried.
    if (envelope.offset !== undefined && envelope.epoch !== undefined) envelope.message.pos = encodePosition(envelope.offset, envelope.epoch)
    this.deliverInOrder(envelope)
  }
}
