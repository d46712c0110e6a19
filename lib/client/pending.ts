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
  private settleWith_!: (value: T) => void
  private failWith_!: (error: Error) => void
  private timer_: unknown
  private settled_ = false

  constructor (private readonly timers_: TimerSet, private readonly deadline_?: Deadline) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.settleWith_ = resolve
      this.failWith_ = reject
    })
    if (deadline_?.armed !== false) this.arm()
  }

  /** Start the deadline's clock again from now (a message sent, or sent again on a new connection). */
  arm (): void {
    const deadline = this.deadline_
    if (deadline === undefined || this.settled_) return
    this.timers_.clear(this.timer_)
    this.timer_ = this.timers_.set(() => { this.reject(deadline.expired()) }, deadline.ms)
  }

  /** Stop the clock until the next `arm()` (the connection is gone: the message waits for the next one). */
  disarm (): void {
    this.timers_.clear(this.timer_)
    this.timer_ = undefined
  }

  resolve (value: T): void {
    this.settled_ = true
    this.timers_.clear(this.timer_)
    this.settleWith_(value)
  }

  reject (error: Error): void {
    this.settled_ = true
    this.timers_.clear(this.timer_)
    this.failWith_(error)
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
  private readonly waiting_ = new Set<Pending<T>>()

  constructor (private readonly timers_: TimerSet) {}

  /** Wait with the others; without a deadline, until the group is settled. */
  add (deadline?: Deadline): Promise<T> {
    const pending: Pending<T> = new Pending<T>(this.timers_, deadline === undefined
      ? undefined
      : {
          ms: deadline.ms,
          expired: () => {
            this.waiting_.delete(pending)
            return deadline.expired()
          }
        })
    this.waiting_.add(pending)
    return pending.promise
  }

  /** Resolve every caller; returns how many there were. */
  resolveAll (value: T): number {
    return this.settleAll_((pending) => { pending.resolve(value) })
  }

  /** Reject every caller with the error `errorFor` builds for each; returns how many there were. */
  rejectAll (errorFor: () => Error): number {
    return this.settleAll_((pending) => { pending.reject(errorFor()) })
  }

  private settleAll_ (settle: (pending: Pending<T>) => void): number {
    const waiting = [...this.waiting_]
    this.waiting_.clear()
    for (const pending of waiting) settle(pending)
    return waiting.length
  }
}
