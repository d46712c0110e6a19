import { decodeFrame, type Validator } from '../codec.js'
import { ErrorCodes, errorReasonOf, isVixError, type ErrorCode } from '../errors.js'
import { newMessageId } from '../frames.js'
import type { Published, PublishSource } from '../hub/pipeline.js'
import { inboundMessageOf, type DispatchResult, type ErrorReason, type InboundMessage, type Logger, type RecipientResolver } from '../hub/types.js'
import type { Session } from '../session.js'
import type { RecipientIdResolver, ServerPublishOptions } from './options.js'
import { ServerPublishPolicy, type PublishRequest } from './server-publish.js'
import type { PollSession } from './session.js'

/**
 * A typed message sent over HTTP without an id gets a server id, as if its
 * client had sent it: the 202 answers it, and the ack and (for a relay) the
 * event every member receives carry it, so the sender can correlate them with
 * its request. Anything else (a message with an id, invalid JSON, not a typed
 * message) is returned as it is, for the hub to accept or refuse; `id` is the
 * message's id when it has a string one.
 *
 * @example
 * withMessageId('{"type":"room.join","payload":{"room":"r"}}') // { text: '{"id":"0192…","type":…}', id: '0192…' }
 */
export function withMessageId (text: string): { text: string, id?: string } {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { text }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { text }
  const message = value as Record<string, unknown>
  if (typeof message.type !== 'string') return { text }
  if (Object.hasOwn(message, 'id')) return typeof message.id === 'string' ? { text, id: message.id } : { text }
  const id = newMessageId()
  // Prepended to the text rather than re-serialized: every other byte stays as the client sent it.
  return { text: `{"id":"${id}",${text.trimStart().slice(1)}`, id }
}

/** What the bridge needs of the hub: the envelope check, the poll session's inbox, the accept stage and the per-IP rate. */
export interface LongPollBridgeParts {
  /** The hub's envelope check (its `messageSchema`), compiled once. */
  messageValidator: Validator
  addRecipientResolver: (resolve: RecipientResolver) => () => void
  getSession: (id: string) => Session | undefined
  /** The session's inbox, in order with its other frames; a failure is the result. */
  receiveRequest: (session: Session, text: string) => Promise<DispatchResult>
  /** Spend a token of `ip`'s bucket (`limits.ipRate`); throws `VIX_ERR_RATE_LIMITED` when empty. */
  takeIp: (ip: string | undefined) => void
  publishFrom: (input: InboundMessage, source: PublishSource) => Promise<Published>
  report: (reason: ErrorReason) => void
  logger: Logger
}

/**
 * Joins HTTP and the hub. Hub deliveries reach poll sessions by room
 * membership on their own (a poll session is a hub session); the optional
 * resolver adds recipients. HTTP-sent bodies go into the hub as frames of
 * the poll session, or through the accept stage as a server-side publish.
 *
 * @example
 * const bridge = new LongPollBridge(hub.longPollBridgeParts(), { resolveRecipients: (msg) => idsOfUser(msg.payload.to) })
 * const result = await bridge.send(poll, '{"type":"room.join","payload":{"room":"general"}}')
 */
export class LongPollBridge {
  private readonly validator: Validator
  private readonly removeResolver: (() => void) | undefined
  private readonly serverPublish: ServerPublishPolicy

  constructor (private readonly parts: LongPollBridgeParts, options: { resolveRecipients?: RecipientIdResolver, serverPublish?: ServerPublishOptions } = {}) {
    this.validator = parts.messageValidator
    this.serverPublish = new ServerPublishPolicy(options.serverPublish)
    const resolveIds = options.resolveRecipients
    if (resolveIds !== undefined) {
      this.removeResolver = parts.addRecipientResolver((message) => {
        const ids = resolveIds(message)
        return ids === undefined ? undefined : this.pollSessions(ids)
      })
    }
  }

  private * pollSessions (ids: Iterable<string>): Iterable<Session> {
    for (const id of ids) {
      const session = this.parts.getSession(id)
      if (session?.transport.name === 'long-polling') yield session
    }
  }

  /**
   * Process `text` exactly as a WebSocket text frame of this poll session
   * (the session's inbox, validation, relay and auth hooks), except that a
   * failure is returned for an HTTP answer instead of queued as an error frame.
   * A typed message without an id is given one first (see {@link withMessageId}),
   * so a success always names the message.
   */
  async send (poll: Pick<PollSession, 'session'>, text: string): Promise<DispatchResult> {
    const named = withMessageId(text)
    const result = await this.parts.receiveRequest(poll.session, named.text)
    // A success is always of a typed message (raw frames are refused over HTTP), so it has an id.
    // Its pos and duplicate (a stored relay) go with it into the 202.
    return result.ok ? { ...result, id: result.id ?? named.id } : result
  }

  /**
   * A server-side publish of `text` (no session), when `serverPublish` lets
   * `request` make one (else 403, or 401 for a missing key); then the same
   * accept stage as a client's frame: the envelope, a known type, its
   * payload schema and `authorizePublish(null, message)`. Over the per-IP
   * rate of `ip` (`limits.ipRate`) it answers 429 with `retryAfter`.
   */
  async publish (text: string, request: PublishRequest, ip?: string): Promise<DispatchResult> {
    try {
      this.serverPublish.checkKey(request)
      // After the key: the bucket of a client IP is spent by publishes it may make.
      this.parts.takeIp(ip)
    } catch (error) {
      return this.failed(error)
    }
    const decoded = decodeFrame(text, false, this.validator)
    if (decoded.kind === 'invalid') return this.refused(ErrorCodes.INVALID_MESSAGE, decoded.message, decoded.path, decoded.id)
    // decodeFrame says why a text frame is not a typed message.
    if (decoded.kind === 'raw') return this.refused(ErrorCodes.INVALID_MESSAGE, decoded.notTyped?.message ?? 'not a typed message', decoded.notTyped?.path ?? '/')
    const message = inboundMessageOf(decoded.message)
    try {
      await this.serverPublish.checkMessage(request, message)
      const { message: published, duplicate } = await this.parts.publishFrom(message, 'http')
      const result: DispatchResult = { ok: true, id: published.id }
      if (published.pos !== undefined) result.pos = published.pos
      if (duplicate) result.duplicate = true
      return result
    } catch (error) {
      return this.failed(error, message.id)
    }
  }

  private failed (error: unknown, id?: string): DispatchResult {
    if (isVixError(error)) return this.refused(error.code, error.message, error.path, id, error.retryAfter)
    this.parts.logger.error({ err: error }, 'vix-realtime: server-side publish failed')
    this.parts.report(errorReasonOf(ErrorCodes.INTERNAL))
    return { ok: false, code: ErrorCodes.INTERNAL, message: 'Internal error while publishing the message', id }
  }

  /** Stop resolving recipients. */
  close (): void {
    this.removeResolver?.()
  }

  /** A refusal, counted by its code's reason in the error table (as the WebSocket dispatch counts it). */
  private refused (code: ErrorCode, message: string, path?: string, id?: string, retryAfter?: number): DispatchResult {
    this.parts.report(errorReasonOf(code))
    return { ok: false, code, message, path, id, retryAfter }
  }
}
