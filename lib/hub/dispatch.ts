import { format } from 'node:util'
import type { Static } from '@sinclair/typebox'
import { errorTable } from '../../schemas/protocol.js'
import { RoomJoinPayload, RoomLeavePayload } from '../../schemas/message.js'
import { compileValidator, decodeFrame, type Decoded, type Validator } from '../codec.js'
import { ErrorCodes, UnknownTypeError, codedError, errorReasonOf, isVixError } from '../errors.js'
import { ackFrame, errorFrame, type RealtimeMessage } from '../frames.js'
import type { Limits } from '../limits/limits.js'
import type { Presence } from '../presence/presence.js'
import type { Rooms } from '../rooms.js'
import type { Session } from '../session.js'
import type { PublishPipeline, Published } from './pipeline.js'
import { InFlight, type FrameProcessor, type InboundFrame, type Step } from './inbox.js'
import { chain, each, type Maybe } from './maybe.js'
import { ReplyCache, type ReplyOutcome } from './replies.js'
import { payloadError, type Router, type TypeLimits } from './router.js'
import { inboundMessageOf, type DispatchError, type DispatchOk, type DispatchResult, type ErrorReason, type HubObserver, type InboundMessage, type Logger, type RecoveryResult } from './types.js'

const OK: DispatchOk = { ok: true }
const NO_RECOVERY: RecoveryResult = { recovered: false, replayed: 0, latestId: null, pos: null }

/** What the dispatcher needs from the hub that builds it. */
export interface DispatchParts {
  /** Validates a decoded frame's envelope (the hub's message schema). */
  messageValidator: Validator
  relayTypes: ReadonlySet<string>
  /** Whether a typed message with no handler is refused (`VIX_ERR_UNKNOWN_TYPE`) or ignored. */
  rejectUnknownTypes: boolean
  router: Pick<Router, 'raw' | 'limitsOf' | 'handlersOf' | 'checkPayload' | 'isRequest' | 'replyError'>
  /** Outcomes of recent requests: a repeated id is answered from it, never run twice. */
  replies: Pick<ReplyCache, 'lookup' | 'markRunning' | 'settle'>
  /** Check replies against their type's `reply` schema (off in production). */
  checkReplies: boolean
  /** A reply that breaks its schema is logged here. */
  logger: Pick<Logger, 'error'>
  rooms: Pick<Rooms, 'join' | 'leave' | 'size'>
  limits: Pick<Limits, 'checkJoin' | 'rateLimited' | 'refused' | 'takeType'>
  /** Relays go through it; its `persistence` is read at each join (the store plugin sets it after the hub is built). */
  pipeline: Pick<PublishPipeline, 'accept' | 'publishAccepted' | 'persistence'>
  presence: Pick<Presence, 'stateFrame'> | undefined
  observers: readonly HubObserver[]
  send: (session: Session, frame: RealtimeMessage) => boolean
  /** Throws `VIX_ERR_FORBIDDEN` when `authorizeJoin` denies. */
  authorizeJoin: (session: Session, room: string) => Maybe<void>
  /** Resolves once this node receives the room's messages from other nodes. */
  roomReady: (room: string) => Maybe<void>
  /** Logs a failed handler, hands it to `onError`, and answers with the internal error. */
  handlerFailed: (session: Session, error: unknown) => DispatchError
  report: (reason: ErrorReason) => void
  /** `auth.refresh`: check the new token, renew the session (see `TokenRefresh`). */
  refresh: (session: Session, message: InboundMessage) => Promise<DispatchOk>
}

/**
 * What a session's frames go through once they leave its inbox, per the
 * wire protocol's dispatch rules: raw handlers, built-in `room.join` /
 * `room.leave`, relay types (through the publish pipeline) and typed
 * handlers. Synchronous unless a handler, a hook or the store is not.
 */
export class Dispatcher implements FrameProcessor<Decoded> {
  private readonly joinValidator = compileValidator(RoomJoinPayload)
  private readonly leaveValidator = compileValidator(RoomLeavePayload)

  constructor (private readonly parts: DispatchParts) {}

  decode (frame: InboundFrame): Decoded {
    for (const observer of this.parts.observers) observer.messageInbound?.(frame.session)
    return decodeFrame(frame.data, frame.binary, this.parts.messageValidator)
  }

  overlaps (decoded: Decoded): boolean {
    return decoded.kind === 'typed' && this.parts.relayTypes.has(decoded.message.type)
  }

  process (frame: InboundFrame, decoded: Decoded): Step {
    const { session } = frame
    if (frame.limited === true) {
      // Over the session rate when it arrived: answered in its turn, with the id of its one decode.
      const id = decoded.kind === 'typed' ? decoded.message.id : decoded.kind === 'invalid' ? decoded.id : undefined
      return this.fail(frame, this.parts.limits.rateLimited(session), id)
    }
    if (decoded.kind === 'invalid') {
      return this.fail(frame, codedError(ErrorCodes.INVALID_MESSAGE, decoded.message, { path: decoded.path }), decoded.id)
    }
    if (decoded.kind === 'raw') {
      // Over HTTP a body must be a typed message: raw frames have no place there.
      if (frame.settle !== undefined && decoded.notTyped !== undefined) {
        return this.fail(frame, codedError(ErrorCodes.INVALID_MESSAGE, decoded.notTyped.message, { path: decoded.notTyped.path }))
      }
      return this.guard(frame, undefined, () => chain(this.runRaw(session, decoded.data, frame.binary, false), () => OK))
    }
    const message = inboundMessageOf(decoded.message)
    return this.guard(frame, message.id, () => chain(this.runRaw(session, decoded.data, false, true), () => this.typed(frame, message)))
  }

  /** Run `fn`; a throw or rejection becomes the frame's failure (an error frame, or the HTTP caller's answer). */
  private guard (frame: InboundFrame, id: string | undefined, fn: () => Step): Step {
    let step: Step
    try {
      step = fn()
    } catch (error) {
      return this.fail(frame, error, id)
    }
    // Most frames end here, synchronously: no closure is made for them.
    if (!(step instanceof Promise) && !(step instanceof InFlight)) return step
    const failed = (error: unknown): DispatchError => this.fail(frame, error, id)
    const guarded = (ready: DispatchResult | InFlight): DispatchResult | InFlight =>
      ready instanceof InFlight ? new InFlight(ready.done.then(undefined, failed)) : ready
    return step instanceof Promise ? step.then(guarded, failed) : guarded(step)
  }

  /** Turn an error into the frame's failure: coded errors keep their code; anything else is an internal error, logged. Counted by the code's reason in the error table. */
  private fail (frame: InboundFrame, error: unknown, id?: string): DispatchError {
    return this.answerFailure(frame, this.failureOf(frame.session, error, id))
  }

  private failureOf (session: Session, error: unknown, id: string | undefined): DispatchError {
    return isVixError(error)
      ? { ok: false, code: error.code, message: error.message, path: error.path, id, retryAfter: error.retryAfter }
      : { ...this.parts.handlerFailed(session, error), id }
  }

  /** Count a failure and answer it: an error frame, or (over HTTP) the caller's result. */
  private answerFailure (frame: InboundFrame, failure: DispatchError): DispatchError {
    this.parts.report(errorReasonOf(failure.code))
    if (frame.settle === undefined) this.parts.send(frame.session, errorFrame(failure.code, failure.message, { id: failure.id, path: failure.path }))
    return failure
  }

  private runRaw (session: Session, data: string | Buffer, binary: boolean, typed: boolean): Maybe<void> {
    const handlers = this.parts.router.raw
    if (handlers.length === 0) return
    const info = { binary, typed }
    return each(handlers, (handler) => handler(session, data, info))
  }

  private typed (frame: InboundFrame, message: InboundMessage): Step {
    const { session } = frame
    if (message.type === 'room.join') return this.join(session, message)
    if (message.type === 'room.leave') return this.leave(session, message)
    if (message.type === 'auth.refresh') return this.parts.refresh(session, message)
    const limits = this.parts.router.limitsOf(message.type)
    if (limits !== undefined) this.checkTypeLimits(frame, message.type, limits)
    const handlers = this.parts.router.handlersOf(message.type)
    if (this.parts.relayTypes.has(message.type)) {
      return chain(this.parts.pipeline.accept(message, { session }), (accepted): Step => {
        const published = this.parts.pipeline.publishAccepted(accepted, session.senderScope)
        if (published instanceof Promise) return new InFlight(published.then((stored) => this.afterRelay(session, message, stored)))
        return this.afterRelay(session, message, published)
      })
    }
    if (handlers === undefined) {
      if (!this.parts.rejectUnknownTypes) return OK
      throw new UnknownTypeError(message.type)
    }
    if (this.parts.router.isRequest(message.type)) return this.request(frame, message)
    this.parts.router.checkPayload(message.type, message.payload)
    return chain(this.runHandlers(session, message), () => this.acked(session, message, message.id))
  }

  /**
   * A request: run once per sender and id (a repeat, even on a new session
   * after a reconnect, is answered from the reply cache, or waits for the
   * first run), then answered with its reply in the ack, or an error frame.
   */
  private request (frame: InboundFrame, message: InboundMessage): Step {
    const { id, type } = message
    if (id === undefined) throw codedError(ErrorCodes.INVALID_MESSAGE, `"${type}" is a request: it needs an id`, { path: '/id' })
    this.parts.router.checkPayload(type, message.payload)
    const key = ReplyCache.keyOf(frame.session.senderScope, id)
    const earlier = this.parts.replies.lookup(key)
    if (earlier !== undefined) return earlier instanceof Promise ? earlier.then((outcome) => this.answer(frame, message, outcome)) : this.answer(frame, message, earlier)
    let reply: Maybe<unknown>
    try {
      reply = this.runRequest(frame.session, message)
    } catch (error) {
      return this.settleRequest(frame, message, key, this.failureOf(frame.session, error, id))
    }
    if (!(reply instanceof Promise)) return this.settleRequest(frame, message, key, this.checkedReply(message, reply))
    // Until it settles, a duplicate (another session of the same sender) waits for this run.
    this.parts.replies.markRunning(key)
    return reply.then(
      (value) => this.settleRequest(frame, message, key, this.checkedReply(message, value)),
      (error) => this.settleRequest(frame, message, key, this.failureOf(frame.session, error, id))
    )
  }

  /** The first run of a request ended: remember its outcome for duplicates, answer it. */
  private settleRequest (frame: InboundFrame, message: InboundMessage, key: string, outcome: ReplyOutcome): DispatchResult {
    this.parts.replies.settle(key, outcome)
    return this.answer(frame, message, outcome)
  }

  /** The reply is what the type's last handler returned (or resolved with). */
  private runRequest (session: Session, message: InboundMessage): Maybe<unknown> {
    const handlers = this.parts.router.handlersOf(message.type) ?? []
    // The usual case: one handler, whose value is the reply.
    if (handlers.length === 1) return handlers[0](session, message)
    let reply: unknown
    return chain(each(handlers, (handler) => chain(handler(session, message), (value) => { reply = value })), () => reply)
  }

  /** Outside production a reply must match the type's `reply` schema: else `VIX_ERR_INVALID_REPLY`, and the reply is logged. */
  private checkedReply (message: InboundMessage, reply: unknown): ReplyOutcome {
    const problem = this.parts.checkReplies ? this.parts.router.replyError(message.type, reply) : undefined
    if (problem === undefined) return { ok: true, reply }
    this.parts.logger.error({ type: message.type, id: message.id, reply, problem }, 'a request handler replied with a value its reply schema refuses')
    return { ok: false, code: ErrorCodes.INVALID_REPLY, message: format(errorTable.INVALID_REPLY.message, message.type, problem), id: message.id }
  }

  private answer (frame: InboundFrame, message: InboundMessage, outcome: ReplyOutcome): DispatchResult {
    if (!outcome.ok) return this.answerFailure(frame, { ...outcome, id: message.id })
    this.parts.send(frame.session, ackFrame(message.type, { id: message.id, room: message.room }, outcome.reply === undefined ? {} : { reply: outcome.reply }))
    return { ok: true, id: message.id }
  }

  /** A type's declared `maxSize` (UTF-8 bytes of the whole frame) and per-session `rate`. */
  private checkTypeLimits (frame: InboundFrame, type: string, limits: TypeLimits): void {
    if (limits.maxSize !== undefined) {
      const size = typeof frame.data === 'string' ? Buffer.byteLength(frame.data) : frame.data.length
      if (size > limits.maxSize) {
        this.parts.limits.refused('type_size')
        throw codedError(ErrorCodes.PAYLOAD_TOO_LARGE, `Message larger than ${limits.maxSize} bytes (the most for "${type}")`)
      }
    }
    if (limits.rate !== undefined) this.parts.limits.takeType(frame.session, type, limits.rate)
  }

  /** A relay's ack says where it was stored (`pos`), and whether it was a duplicate of its sender's (then nothing ran or was delivered again). */
  private afterRelay (session: Session, message: InboundMessage, published: Published): Maybe<DispatchResult> {
    const { id, pos } = published.message
    if (published.duplicate) return this.acked(session, message, { ok: true, id, pos, duplicate: true })
    return chain(this.runHandlers(session, message), () => this.acked(session, message, pos === undefined ? { ok: true, id } : { ok: true, id, pos }))
  }

  private acked (session: Session, message: InboundMessage, result: DispatchOk | string | undefined): DispatchResult {
    const ok: DispatchOk = typeof result === 'object' ? result : result === undefined ? OK : { ok: true, id: result }
    if (message.id !== undefined) {
      const payload: Record<string, unknown> = {}
      if (ok.pos !== undefined) payload.pos = ok.pos
      if (ok.duplicate === true) payload.duplicate = true
      this.parts.send(session, ackFrame(message.type, { id: message.id, room: message.room }, payload))
    }
    return ok
  }

  private runHandlers (session: Session, message: InboundMessage): Maybe<void> {
    const handlers = this.parts.router.handlersOf(message.type)
    if (handlers === undefined) return
    return each(handlers, (handler) => handler(session, message))
  }

  private join (session: Session, message: InboundMessage): Maybe<DispatchResult> {
    const { room, since } = this.builtin(this.joinValidator, message.payload) as Static<typeof RoomJoinPayload>
    this.parts.limits.checkJoin(session, room, this.parts.rooms.size(room))
    return chain(this.parts.authorizeJoin(session, room), () => {
      // Again once authorized (it may have waited): the check and the join are one synchronous step.
      this.parts.limits.checkJoin(session, room, this.parts.rooms.size(room))
      const join = (): void => { this.parts.rooms.join(session, room) }
      const persistence = this.parts.pipeline.persistence
      let recovery: Maybe<RecoveryResult> = NO_RECOVERY
      if (persistence === null) join()
      else recovery = persistence.joinWithRecovery(session, room, since, join)
      return chain(recovery, (recovered) => chain(this.parts.roomReady(room), () => chain(this.runHandlers(session, message), () => {
        this.parts.send(session, ackFrame('room.join', { id: message.id, room }, { room, ...recovered }))
        const state = this.parts.presence?.stateFrame(room)
        if (state !== undefined) this.parts.send(session, state)
        return message.id === undefined ? OK : { ok: true, id: message.id }
      })))
    })
  }

  private leave (session: Session, message: InboundMessage): Maybe<DispatchResult> {
    const { room } = this.builtin(this.leaveValidator, message.payload) as Static<typeof RoomLeavePayload>
    this.parts.rooms.leave(session, room)
    return chain(this.runHandlers(session, message), () => {
      this.parts.send(session, ackFrame('room.leave', { id: message.id, room }, { room }))
      return message.id === undefined ? OK : { ok: true, id: message.id }
    })
  }

  private builtin (validator: Validator, payload: Record<string, unknown>): unknown {
    if (!validator.check(payload)) throw payloadError(validator, payload)
    return payload
  }
}
