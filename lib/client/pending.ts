import type { TimerSet } from './timers.js'

/** When a {@link Pending} gives up: after `ms`, with the error `expired` returns. */
export interface Deadline {
  ms: number
  /** Runs when the deadline passes, before the rejection: forget the request here, so a late answer finds nothing. */
  expired: () => Error
  /** `false`: the clock starts only at `arm()` (a message queued while offline waits for the connection). Default `true`. */
  armed?: boolean
}

/**
 * One caller waiting for an answer (an ack, an open connection), with an
 * optional deadline. Settling clears the deadline's timer, so an answer in
 * time leaves no timer behind; settling again is a no-op, as for any promise.
 *
 * @example
 * const waiting = new Pending<PublishAck>(timers, { ms: 10_000, expired: () => { map.delete(id); return timeoutError() } })
 * map.set(id, waiting)
 * // later, when the ack arrives:
 * map.get(id)?.resolve(ack)
 */
export class Pending<T> {
  readonly promise: Promise<T>
  private settleWith!: (value: T) => void
  private failWith!: (error: Error) => void
  private timer: unknown
  private settled = false

  constructor (private readonly timers: TimerSet, private readonly deadline?: Deadline) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.settleWith = resolve
      this.failWith = reject
    })
    if (deadline?.armed !== false) this.arm()
  }

  /** Start the deadline's clock again from now (a message sent, or sent again on a new connection). */
  arm (): void {
    const deadline = this.deadline
    if (deadline === undefined || this.settled) return
    this.timers.clear(this.timer)
    this.timer = this.timers.set(() => { this.reject(deadline.expired()) }, deadline.ms)
  }

  /** Stop the clock until the next `arm()` (the connection is gone: the message waits for the next one). */
  disarm (): void {
    this.timers.clear(this.timer)
    this.timer = undefined
  }

  resolve (value: T): void {
    this.settled = true
    this.timers.clear(this.timer)
    this.settleWith(value)
  }

  reject (error: Error): void {
    this.settled = true
    this.timers.clear(this.timer)
    this.failWith(error)
  }
}

/**
 * Callers waiting for the same answer (every `join` of one room, every
 * `connect()`): one answer settles them all, and a caller whose deadline
 * passes leaves the group without disturbing the others.
 *
 * @example
 * const joins = new PendingGroup<JoinAck>(timers)
 * const joined = joins.add({ ms: 10_000, expired: () => timeoutError() })
 * joins.resolveAll(ack) // 1
 */
export class PendingGroup<T> {
  // A Set, not an array: a caller that times out deletes itself, with no index to go stale.
  private readonly waiting = new Set<Pending<T>>()

  constructor (private readonly timers: TimerSet) {}

  /** Wait with the others; without a deadline, until the group is settled. */
  add (deadline?: Deadline): Promise<T> {
    const pending: Pending<T> = new Pending<T>(this.timers, deadline === undefined
      ? undefined
      : {
          ms: deadline.ms,
          expired: () => {
            this.waiting.delete(pending)
            return deadline.expired()
          }
        })
    this.waiting.add(pending)
    return pending.promise
  }

  /** Resolve every caller; returns how many there were. */
  resolveAll (value: T): number {
    return this.settleAll((pending) => { pending.resolve(value) })
  }

  /** Reject every caller with the error `errorFor` builds for each; returns how many there were. */
  rejectAll (errorFor: () => Error): number {
    return this.settleAll((pending) => { pending.reject(errorFor()) })
  }

  private settleAll (settle: (pending: Pending<T>) => void): number {
    const waiting = [...this.waiting]
    this.waiting.clear()
    for (const pending of waiting) settle(pending)
    return waiting.length
  }
}
