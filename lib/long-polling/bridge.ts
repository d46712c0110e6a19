import { compileValidator, decodeFrame, type NotTyped, type Validator } from '../codec.js'
import { ErrorCodes } from '../errors.js'
import type { RealtimeMessage } from '../frames.js'
import { inboundMessageOf, type DispatchResult, type Hub, type InboundMessage } from '../hub.js'
import type { Session } from '../session.js'
import type { PollSession } from './session.js'

/**
 * Names the long-poll sessions that should get a room message besides the
 * room's members (which always get it). Return session ids; unknown ids and
 * sessions that are not long-poll sessions are ignored.
 */
export type RecipientIdResolver = (message: RealtimeMessage) => Iterable<string> | undefined

type DecodedBody = { ok: true, message: InboundMessage } | { ok: false, result: DispatchResult }

/**
 * Joins HTTP and the hub. Hub deliveries reach poll sessions by room
 * membership on their own (a poll session is a hub session); the optional
 * resolver adds recipients. HTTP-sent bodies go into the hub as frames of
 * the poll session, or as a server-side publish.
 *
 * @example
 * const bridge = new LongPollBridge(hub, { resolveRecipients: (msg) => idsOfUser(msg.payload.to) })
 * const result = await bridge.send(poll, '{"type":"room.join","payload":{"room":"general"}}')
 */
export class LongPollBridge {
  private readonly envelope: Validator
  private readonly removeResolver: (() => void) | undefined

  constructor (private readonly hub: Hub, options: { resolveRecipients?: RecipientIdResolver } = {}) {
    this.envelope = compileValidator(hub.messageSchema)
    const resolveIds = options.resolveRecipients
    if (resolveIds !== undefined) {
      this.removeResolver = hub.addRecipientResolver((message) => {
        const ids = resolveIds(message)
        return ids === undefined ? undefined : this.pollSessions(ids)
      })
    }
  }

  private * pollSessions (ids: Iterable<string>): Iterable<Session> {
    for (const id of ids) {
      const session = this.hub.getSession(id)
      if (session?.transport.name === 'long-polling') yield session
    }
  }

  /**
   * Process `text` exactly as a WebSocket text frame of this poll session
   * (the hub's ordering, validation, relay and auth hooks), except that a
   * failure is returned for an HTTP answer instead of queued as an error frame.
   */
  async send (poll: PollSession, text: string): Promise<DispatchResult> {
    return await this.hub.receive(poll.session, text, false, false, true)
  }

  /** A server-side publish of `text` (no session), after `authorizePublish(null, message)`. */
  async publish (text: string): Promise<DispatchResult> {
    const decoded = this.decode(text)
    if (!decoded.ok) return decoded.result
    try {
      await this.hub.authorizePublish(null, decoded.message)
      const published = await this.hub.publish(decoded.message)
      return { ok: true, id: published.id }
    } catch (error) {
      const failure = error as { code?: unknown, message: string, path?: string }
      if (typeof failure.code === 'string' && failure.code.startsWith('VIX_ERR_')) {
        return { ok: false, code: failure.code as typeof ErrorCodes.FORBIDDEN, message: failure.message, path: failure.path, id: decoded.message.id }
      }
      this.hub.logger.error({ err: error }, 'vix-realtime: server-side publish failed')
      this.hub.report('internal')
      return { ok: false, code: ErrorCodes.INTERNAL, message: 'Internal error while publishing the message', id: decoded.message.id }
    }
  }

  /** Stop resolving recipients. */
  close (): void {
    this.removeResolver?.()
  }

  private decode (text: string): DecodedBody {
    const decoded = decodeFrame(text, false, this.envelope)
    if (decoded.kind === 'invalid') {
      return { ok: false, result: this.invalid({ message: decoded.message, path: decoded.path, id: decoded.id }) }
    }
    // decodeFrame says why a text frame is not a typed message.
    if (decoded.kind === 'raw') return { ok: false, result: this.invalid(decoded.notTyped as NotTyped) }
    return { ok: true, message: inboundMessageOf(decoded.message) }
  }

  private invalid (reason: { message: string, path: string, id?: string }): DispatchResult {
    this.hub.report('invalid_message')
    return { ok: false, code: ErrorCodes.INVALID_MESSAGE, ...reason }
  }
}
