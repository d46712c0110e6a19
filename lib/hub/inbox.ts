import type { Session } from '../session.js'
import type { DispatchResult } from './types.js'

/** One frame waiting in a session's inbox. */
export interface InboundFrame {
  session: Session
  data: string | Buffer
  binary: boolean
  /** Over the session's rate when it arrived: decoded (for its `id`) and answered `VIX_ERR_RATE_LIMITED`, not processed. */
  limited?: boolean
  /** Set for HTTP sends: the caller waits for the result, and failures are answered to it instead of sent as error frames. */
  settle?: (result: DispatchResult) => void
}

/** A relayed message handed to the publish pipeline: the inbox goes on with the next frame without waiting for its commit. */
export class InFlight {
  constructor (readonly done: Promise<DispatchResult>) {}
}

/** What processing one frame gives: a result now, later, or a relay still in the pipeline. */
export type Step = DispatchResult | InFlight | Promise<DispatchResult | InFlight>

/** How an inbox processes its frames (the hub's dispatcher). */
export interface FrameProcessor<D> {
  decode: (frame: InboundFrame) => D
  /** May this frame overlap relays still in the pipeline? (a relay may; anything else waits, so order holds). */
  overlaps: (decoded: D) => boolean
  process: (frame: InboundFrame, decoded: D) => Step
}

/**
 * The frames of one session, processed one at a time in arrival order: a
 * plain array and a drain flag (as ws's sender queues its work), so a frame
 * whose handling is synchronous costs no promise. Relays overlap: the next
 * relay starts once the previous one is in the publish pipeline, so a burst
 * shares one group commit; any other frame first waits for them.
 *
 * Bounded: frames queued plus relays in flight never pass `limit`; `push`
 * refuses past it, and the transport answers (close 1008, HTTP 429).
 */
export class Inbox<D> {
  private frames: Array<InboundFrame | undefined> = []
  private head = 0
  private inFlight = 0
  private processing = false
  private draining = false
  private wakeWhenFewer: { below: number, wake: () => void } | null = null

  constructor (private readonly limit: number, private readonly processor: FrameProcessor<D>) {}

  /** Frames queued, being processed or in the pipeline. */
  get depth (): number {
    return this.frames.length - this.head + this.inFlight + (this.processing ? 1 : 0)
  }

  /** Queue a frame; false when the inbox is full (nothing is queued). */
  push (frame: InboundFrame): boolean {
    if (this.depth >= this.limit) return false
    this.frames.push(frame)
    if (!this.draining) this.drain().catch(() => {})
    return true
  }

  /** Forget every queued frame (the session is being closed for flooding). */
  clear (): void {
    this.frames = []
    this.head = 0
  }

  private async drain (): Promise<void> {
    this.draining = true
    while (this.head < this.frames.length) {
      const frame = this.frames[this.head] as InboundFrame
      this.frames[this.head++] = undefined
      this.processing = true
      const decoded = this.processor.decode(frame)
      if (this.inFlight > 0 && !this.processor.overlaps(decoded)) await this.fewerInFlight(1)
      let step = this.processor.process(frame, decoded)
      if (step instanceof Promise) step = await step
      this.processing = false
      // No wait on the relays' number here: `push` counts them in `depth`, so they never pass `limit`.
      if (step instanceof InFlight) {
        this.track(frame, step)
      } else {
        frame.settle?.(step)
      }
    }
    this.frames = []
    this.head = 0
    this.draining = false
  }

  private track (frame: InboundFrame, step: InFlight): void {
    this.inFlight++
    step.done.then((result) => {
      this.inFlight--
      frame.settle?.(result)
      const waiting = this.wakeWhenFewer
      if (waiting !== null && this.inFlight < waiting.below) {
        this.wakeWhenFewer = null
        waiting.wake()
      }
    })
  }

  /** Resolves once fewer than `below` relays are in flight (none, for `below` = 1). */
  private async fewerInFlight (below: number): Promise<void> {
    if (this.inFlight < below) return
    await new Promise<void>((resolve) => { this.wakeWhenFewer = { below, wake: resolve } })
  }
}
