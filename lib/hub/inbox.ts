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
 * Frames one inbox processes in a turn of the event loop before it lets
 * other work in: a burst (1000 relays in one socket read) is fanned out in
 * slices, and other sockets are served between them. Each slice's writes
 * to one socket still leave together (the transport corks per tick).
 */
export const FRAMES_PER_TURN = 32

/** Inboxes that used up their turn: resumed together on the next turn, by one shared callback. */
const yielded: Array<Inbox<any>> = []
/** Inboxes that processed frames in the current turn: their counts start again once it ends. */
const spent: Array<Inbox<any>> = []

function resumeYielded (): void {
  const inboxes = yielded.splice(0, yielded.length)
  for (const inbox of inboxes) inbox.resume()
}

function endTurn (): void {
  for (const inbox of spent) inbox.newTurn()
  spent.length = 0
}

/**
 * The frames of one session, processed one at a time in arrival order: a
 * plain array and a drain flag (as ws's sender queues its work). A frame
 * whose handling is synchronous is processed in the same call, with no
 * promise at all; the inbox only goes asynchronous for a step that is (a
 * handler's promise, a relay waiting for the ones in flight). Relays
 * overlap: the next relay starts once the previous one is in the publish
 * pipeline, so a burst shares one group commit; any other frame first waits
 * for them. After `FRAMES_PER_TURN` frames in one turn it yields to the event loop.
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
  /** Frames processed in the current turn (ws hands over one socket read's frames one by one, in one turn). */
  private turnFrames = 0

  constructor (private readonly limit: number, private readonly processor: FrameProcessor<D>) {}

  /** Frames queued, being processed or in the pipeline. */
  get depth (): number {
    return this.frames.length - this.head + this.inFlight + (this.processing ? 1 : 0)
  }

  /** Queue a frame; false when the inbox is full (nothing is queued). */
  push (frame: InboundFrame): boolean {
    if (this.depth >= this.limit) return false
    this.frames.push(frame)
    if (!this.draining) {
      this.draining = true
      this.run()
    }
    return true
  }

  /** Forget every queued frame (the session is being closed for flooding). */
  clear (): void {
    this.frames = []
    this.head = 0
  }

  /** Go on after a yield (called by the shared resume callback). */
  resume (): void {
    this.run()
  }

  /** The turn is over (called by the shared end-of-turn callback). */
  newTurn (): void {
    this.turnFrames = 0
  }

  /** Process frames synchronously until one is not, the turn is used up or none is left. */
  private run (): void {
    while (this.head < this.frames.length) {
      if (this.turnFrames >= FRAMES_PER_TURN) {
        if (yielded.push(this) === 1) setImmediate(resumeYielded)
        return
      }
      const frame = this.frames[this.head] as InboundFrame
      this.frames[this.head++] = undefined
      this.processing = true
      const decoded = this.processor.decode(frame)
      if (this.inFlight > 0 && !this.processor.overlaps(decoded)) {
        this.later(frame, this.fewerInFlight(1).then(() => this.processor.process(frame, decoded)))
        return
      }
      const step = this.processor.process(frame, decoded)
      if (step instanceof Promise) {
        this.later(frame, step)
        return
      }
      if (!this.settled(frame, step)) {
        this.fewerInFlight(this.limit).then(() => { this.run() }, noop)
        return
      }
    }
    this.frames = []
    this.head = 0
    this.draining = false
  }

  /** An asynchronous step: the drain goes on once it settles. */
  private later (frame: InboundFrame, step: Promise<DispatchResult | InFlight>): void {
    step.then((result) => {
      if (this.settled(frame, result)) this.run()
      else this.fewerInFlight(this.limit).then(() => { this.run() }, noop)
    }, noop)
  }

  /**
   * A frame's step is done (or in the pipeline). False when the relays in
   * flight reached the limit. A frame handled to the end counts toward the
   * turn; a relay handed to the store does not (its fan-out comes with the
   * commit, and a burst's relays must reach the store together to share one
   * group commit).
   */
  private settled (frame: InboundFrame, step: DispatchResult | InFlight): boolean {
    this.processing = false
    if (step instanceof InFlight) {
      this.track(frame, step)
      return this.inFlight < this.limit
    }
    // The turn ends when the current callback (a socket read) returns.
    if (this.turnFrames++ === 0 && spent.push(this) === 1) process.nextTick(endTurn)
    frame.settle?.(step)
    return true
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

  /** Resolves once fewer than `below` relays are in flight (0 in flight for `below` = 1). */
  private async fewerInFlight (below: number): Promise<void> {
    if (this.inFlight < below) return
    await new Promise<void>((resolve) => { this.wakeWhenFewer = { below, wake: resolve } })
  }
}

function noop (): void {}
