import type { Session } from '../session.js'

/** What a held poll is woken with: `frames` (something to send), `released` (shutdown, session closed) or `timeout`. */
export type WakeReason = 'frames' | 'released' | 'timeout' | 'aborted'

/** A poll request waiting for frames. Exactly one per session at a time. */
export interface PollWaiter {
  wake: (reason: WakeReason) => void
}

/** What one poll answers with: frames (already serialized), the cursor to ack next, and loss. */
export interface PollBatch {
  frames: string[]
  /** Sequence number after the last frame returned: the `ack` of the next poll. */
  next: number
  /** Frames dropped by overflow since the confirmed cursor (never confirmed, now gone). */
  dropped: number
}

const INITIAL_SLOTS = 8

export interface PollSessionOptions {
  id: string
  /** Comparable form of the identity that created the session (undefined when auth is off). */
  identityKey: string | undefined
  maxBuffer: number
  now: number
}

/**
 * The long-polling side of one session: a bounded FIFO of serialized frames.
 *
 * Every frame gets a sequence number when queued. `next` (sent with each
 * poll response) is the sequence after the last frame returned; a client
 * sends it back as `ack`, which confirms and frees everything before it.
 * Frames not confirmed stay queued and are returned again, so a response
 * lost in transit loses nothing. The FIFO is a ring that grows up to
 * `maxBuffer` slots; when it is full the oldest frame is dropped and `dropped` reports the loss.
 */
export class PollSession {
  readonly id: string
  readonly identityKey: string | undefined
  readonly capacity: number
  lastActivity: number
  /** The hub session this queue serves (set right after the hub opens it). */
  session!: Session
  /** The held poll, if any; a second one gets 409. */
  waiter: PollWaiter | null = null
  private ring: Array<string | undefined>
  private head = 0
  private count = 0
  /** Sequence number of the oldest queued frame (of the next one when empty). */
  private firstSeq = 0
  /** Everything before this was confirmed by the client (ack) or, without ack, assumed received. */
  private confirmed = 0
  /** Everything before this has been handed to a poll response at least once. */
  private sentUpTo = 0

  constructor (options: PollSessionOptions) {
    this.id = options.id
    this.identityKey = options.identityKey
    this.capacity = options.maxBuffer
    this.lastActivity = options.now
    this.ring = new Array<string | undefined>(Math.min(options.maxBuffer, INITIAL_SLOTS))
  }

  /** Frames currently queued. */
  get size (): number {
    return this.count
  }

  /** Sequence number the next queued frame will get: the `next` of an empty session. */
  get nextSeq (): number {
    return this.firstSeq + this.count
  }

  /**
   * Queue one serialized frame. Returns how many frames were dropped to
   * make room (0 or 1).
   */
  push (frame: string): number {
    let dropped = 0
    if (this.count === this.capacity) {
      this.ring[this.head] = undefined
      this.head = (this.head + 1) % this.ring.length
      this.firstSeq++
      this.count--
      dropped = 1
    } else if (this.count === this.ring.length) {
      this.grow()
    }
    this.ring[(this.head + this.count) % this.ring.length] = frame
    this.count++
    return dropped
  }

  /** Double the ring (up to `capacity`): an idle session costs a few slots, not `maxBuffer`. */
  private grow (): void {
    const size = Math.min(this.capacity, this.ring.length * 2)
    const ring = new Array<string | undefined>(size)
    for (let i = 0; i < this.count; i++) ring[i] = this.ring[(this.head + i) % this.ring.length]
    this.ring = ring
    this.head = 0
  }

  /**
   * Confirm every frame before `cursor` and free them. `undefined` (a poll
   * without `ack`) confirms everything already sent: at-most-once delivery.
   * A cursor past what was sent is clamped, since unsent frames cannot have
   * been received; one before the confirmed point changes nothing.
   * Returns how many frames were freed.
   */
  confirm (cursor: number | undefined): number {
    const upTo = cursor === undefined ? this.sentUpTo : Math.min(cursor, this.sentUpTo)
    if (upTo > this.confirmed) this.confirmed = upTo
    let freed = 0
    while (this.count > 0 && this.firstSeq < this.confirmed) {
      this.ring[this.head] = undefined
      this.head = (this.head + 1) % this.ring.length
      this.firstSeq++
      this.count--
      freed++
    }
    return freed
  }

  /**
   * Take up to `max` frames from the front without removing them (they stay
   * until confirmed) and mark them sent.
   */
  take (max: number): PollBatch {
    const n = Math.min(max, this.count)
    const frames = new Array<string>(n)
    for (let i = 0; i < n; i++) frames[i] = this.ring[(this.head + i) % this.ring.length] as string
    const next = this.firstSeq + n
    if (next > this.sentUpTo) this.sentUpTo = next
    return { frames, next, dropped: this.firstSeq - this.confirmed }
  }

  /** Wake the held poll, if any, and forget it. */
  wake (reason: WakeReason): void {
    const waiter = this.waiter
    if (waiter === null) return
    this.waiter = null
    waiter.wake(reason)
  }
}
