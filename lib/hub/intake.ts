import type { Decoded } from '../codec.js'
import { CloseCodes, ErrorCodes } from '../errors.js'
import type { Limits } from '../limits/limits.js'
import type { Session } from '../session.js'
import { Inbox, type FrameProcessor, type InboundFrame } from './inbox.js'
import type { DispatchResult, ErrorReason, ReceiveOptions } from './types.js'

/** What the intake needs: the session rate, the dispatcher its inboxes feed, and the error count. */
export interface IntakeParts {
  limits: Limits
  processor: FrameProcessor<Decoded>
  /** Frames one session may have queued (`maxQueuedFrames`). */
  maxQueuedFrames: number
  report: (reason: ErrorReason) => void
}

/**
 * Where every inbound frame enters, on any transport: each session's inbox
 * (frames of one session are processed in arrival order) and the session
 * rate. A flood costs the flooder, not the server's memory.
 */
export class Intake {
  private readonly inboxes = new WeakMap<Session, Inbox<Decoded>>()

  constructor (private readonly parts: IntakeParts) {}

  /** Give a new session its inbox. */
  open (session: Session): void {
    this.inboxes.set(session, new Inbox(this.parts.maxQueuedFrames, this.parts.processor))
  }

  /**
   * A frame from a streaming transport (WebSocket). Failures go back as
   * error frames. A session whose inbox is full (`maxQueuedFrames`) is closed
   * 1008 and the rest of its queue is dropped. Over the session rate
   * (`limits.sessionRate`) a frame is answered `VIX_ERR_RATE_LIMITED` (with
   * its `id`) in its turn and not processed; a session that keeps going past
   * `closeAfter` refusals is closed 1008.
   */
  receive (session: Session, data: string | Buffer, options: ReceiveOptions = {}): void {
    if (session.closed) return
    const inbox = this.inboxes.get(session) as Inbox<Decoded>
    const verdict = this.parts.limits.frame(session)
    if (verdict === 'close') {
      this.flooded(session, inbox, 'rate limit exceeded')
      return
    }
    if (inbox.push({ session, data, binary: options.binary === true, limited: verdict === 'refuse' })) return
    this.parts.limits.refused('inbound_queue')
    this.flooded(session, inbox, 'inbound queue full')
  }

  /**
   * A frame sent over HTTP (`POST /ws/send` of a poll session): processed
   * exactly like that frame on a WebSocket, in order with the session's
   * other frames, except that raw text is refused and a failure is the
   * result (the HTTP answer) rather than an error frame. A full inbox, or a
   * send over the session rate, answers `VIX_ERR_RATE_LIMITED` (429, with
   * `retryAfter`); past `closeAfter` refusals the session is closed as well.
   */
  async receiveRequest (session: Session, text: string): Promise<DispatchResult> {
    const inbox = this.inboxes.get(session)
    if (inbox === undefined || session.closed) return { ok: false, code: ErrorCodes.SESSION_NOT_FOUND, message: 'Session not found or expired' }
    const { limits, report } = this.parts
    const verdict = limits.frame(session)
    if (verdict !== 'accept') {
      const limited = limits.rateLimited(session)
      if (verdict === 'close') this.flooded(session, inbox, 'rate limit exceeded')
      else report('rate_limited')
      return { ok: false, code: ErrorCodes.RATE_LIMITED, message: limited.message, retryAfter: limited.retryAfter }
    }
    return await new Promise<DispatchResult>((resolve) => {
      const frame: InboundFrame = { session, data: text, binary: false, settle: resolve }
      if (inbox.push(frame)) return
      limits.refused('inbound_queue')
      report('rate_limited')
      resolve({ ok: false, code: ErrorCodes.RATE_LIMITED, message: `Rate limit exceeded: more than ${this.parts.maxQueuedFrames} frames queued for this session` })
    })
  }

  /** Close a flooding session 1008: the rest of its queue is dropped. */
  private flooded (session: Session, inbox: Inbox<Decoded>, reason: string): void {
    inbox.clear()
    this.parts.report('rate_limited')
    session.close(CloseCodes.POLICY, reason)
  }
}
