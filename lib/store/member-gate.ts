import type { Envelope } from '../broker/types.js'
import { interruptedFrame, type RealtimeMessage } from '../frames.js'
import { encodePosition } from '../position.js'
import type { PreparedFrame } from '../prepared-frame.js'
import type { DeliveryGate, Session } from '../session.js'
import type { RoomPosition } from './types.js'

/**
 * The gate of one session's membership of a stored room. While the room is
 * replayed to the session it holds live deliveries back; then, for as long
 * as the membership lasts, it passes each offset once and contiguously: a
 * copy at or below the watermark (the highest offset the session has) is
 * dropped, and a jump or another epoch closes the gate and tells the session
 * (`room.interrupted`) instead of leaving it a silent hole. A closed gate
 * drops everything until the session joins the room again. Messages that are
 * not stored carry no offset and always pass.
 */
export class MemberGate implements DeliveryGate {
  // Prepared frames, so a release writes the bytes the rest of the room got.
  private held: Array<{ envelope: Envelope, frame: PreparedFrame }> | null = []
  private watermark = 0
  private epoch: string | null = null
  private broken = false

  constructor (private readonly session: Session, private readonly tell: (frame: RealtimeMessage) => boolean) {}

  admit (envelope: Envelope, frame: PreparedFrame): boolean {
    if (this.held !== null) {
      this.held.push({ envelope, frame })
      return false
    }
    return this.passes(envelope)
  }

  /** The stream broke upstream: drop everything until the session rejoins (the caller tells it). */
  break (): void {
    this.broken = true
    this.held = null
  }

  private passes (envelope: Envelope): boolean {
    if (envelope.offset === undefined) return true
    if (this.broken) return false
    if (this.epoch !== null) {
      if (envelope.epoch === this.epoch && envelope.offset <= this.watermark) return false
      if (envelope.epoch !== this.epoch || envelope.offset !== this.watermark + 1) {
        this.break()
        this.tell(interruptedFrame(envelope.room as string, encodePosition(this.watermark, this.epoch)))
        return false
      }
    }
    this.watermark = envelope.offset
    this.epoch = envelope.epoch ?? null
    return true
  }

  /** The replay is sent, up to `position` (null: the room has no history): deliver what was held back and is newer. Returns how many were sent. */
  release (position: RoomPosition | null): number {
    const held = this.held ?? []
    this.held = null
    if (position !== null) {
      this.watermark = position.offset
      this.epoch = position.epoch
    }
    let sent = 0
    for (const { envelope, frame } of held) {
      if (this.passes(envelope) && this.session.sendPrepared(frame)) sent++
    }
    return sent
  }
}
