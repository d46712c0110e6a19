import { backoffDelay } from './backoff.js'
import type { CurrentConnection } from './connection.js'
import type { Emitter } from './emitter.js'
import type { RecoveryFailed } from './events.js'
import type { GapRecoveryOptions } from './options.js'
import { formatPosition, type Position } from './position.js'
import { countBetween, sinceOf, type GapRecovery, type RoomState } from './room-state.js'
import type { TimerSet } from './timers.js'

/** What filling a room's holes needs from `JoinedRooms`. */
export interface RoomGapsParts {
  timers: TimerSet
  options: { gapRecovery: GapRecoveryOptions & { factor: number, jitter: number }, random: () => number }
  connection: CurrentConnection
  events: Emitter
  /** Is `state` still the room's state (not left, not joined again since)? */
  current: (room: string, state: RoomState) => boolean
  /** Send the room's join now, from its last contiguous position. */
  sendJoin: (room: string, state: RoomState) => void
}

/**
 * The holes in rooms' positions and their filling: a hole is announced once
 * (`position_gap`), then filled by rejoining the room from its last
 * contiguous position, at once and then with capped backoff; past
 * `gapRecovery.maxAttempts` the app is told what it will not receive in
 * order (`recovery_failed`) and the stream resumes past the hole. Rejoins
 * refused for now are retried with backoff, keeping the room.
 *
 * @example
 * const gaps = new RoomGaps({ timers, options, connection, events, current, sendJoin })
 * gaps.hole('general', state, 'jump', '5.Xb3k', got)
 * gaps.afterHoles('general', state) // starts the filling: a rejoin from the last position
 */
export class RoomGaps {
  constructor (private readonly parts_: RoomGapsParts) {}

  /** Record a hole (announced once per hole: not again while it is being filled). */
  hole (room: string, state: RoomState, reason: 'jump' | 'epoch' | 'ack' | 'interrupted', expected: string | null, got: Position | null): void {
    if (got !== null) {
      const ahead = state.ahead_
      if (ahead === undefined || ahead.tag !== got.tag || got.offset > ahead.offset) state.ahead_ = got
    }
    if (!state.holeSeen_ && state.gap_ === undefined) {
      this.parts_.events.emit('position_gap', { room, reason, expected, got: got === null ? null : formatPosition(got) })
    }
    state.holeSeen_ = true
  }

  /** After events were processed: a new hole starts its filling; one seen again after a rejoin's ack is that attempt failing; none after an ack, filled. */
  afterHoles (room: string, state: RoomState, acked = false): void {
    if (!state.holeSeen_) {
      if (acked && state.gap_ !== undefined) {
        this.stop(state)
        state.ahead_ = undefined
      }
      return
    }
    state.holeSeen_ = false
    if (state.gap_ === undefined) {
      state.gap_ = { attempts_: 0 }
    } else if (!acked) {
      // Already being filled: the rejoin in flight (or waiting) covers this event too.
      return
    }
    this.nextAttempt(room, state)
  }

  /** The next rejoin for the room's hole: at once the first time, then with capped backoff; past `maxAttempts`, give up. */
  nextAttempt (room: string, state: RoomState): void {
    const gap = state.gap_ as GapRecovery
    this.parts_.timers.clear(gap.timer_)
    gap.timer_ = undefined
    const since = sinceOf(state)
    if (since === undefined && state.ahead_ === undefined) {
      // Interrupted before any position: a plain join restarts the stream, nothing is known to be missing.
      this.stop(state)
      if (this.parts_.connection.open) this.parts_.sendJoin(room, state)
      return
    }
    gap.attempts_++
    const { gapRecovery, random } = this.parts_.options
    if (since === undefined || gap.attempts_ > gapRecovery.maxAttempts) {
      // No position to rejoin from (the first stored event never came), or rejoins did not fill it.
      this.stop(state)
      this.unfillable(room, state, 'gap_unfilled', since ?? '', state.ahead_ === undefined ? null : formatPosition(state.ahead_))
      if (state.ahead_ !== undefined) state.pos_ = state.ahead_
      state.ahead_ = undefined
      return
    }
    const delay = gap.attempts_ === 1 ? 0 : backoffDelay(gap.attempts_ - 1, { ...gapRecovery, maxAttempts: Infinity }, random)
    const rejoin = (): void => {
      gap.timer_ = undefined
      // On a new connection `rejoinAll` rejoins every room (and this hole's filling starts over).
      if (this.parts_.current(room, state) && state.gap_ === gap && this.parts_.connection.open) this.parts_.sendJoin(room, state)
    }
    if (delay === 0) rejoin()
    else gap.timer_ = this.parts_.timers.set(rejoin, delay)
  }

  /** A rejoin was refused for now: send it again after a capped backoff; the room, its position and what is held stay. */
  retryLater (room: string, state: RoomState): void {
    state.joinId_ = undefined
    this.parts_.timers.clear(state.ackTimer_)
    state.ackTimer_ = undefined
    this.parts_.timers.clear(state.retryTimer_)
    state.retries_++
    const { gapRecovery, random } = this.parts_.options
    state.retryTimer_ = this.parts_.timers.set(() => {
      state.retryTimer_ = undefined
      if (this.parts_.current(room, state) && state.joinId_ === undefined && this.parts_.connection.open) this.parts_.sendJoin(room, state)
    }, backoffDelay(state.retries_, { ...gapRecovery, maxAttempts: Infinity }, random))
  }

  /** Tell the app, once, what it will not receive in order. */
  unfillable (room: string, state: RoomState, reason: RecoveryFailed['reason'], since: string, resume: string | null): void {
    const info: RecoveryFailed = {
      room,
      recovered: false,
      reason,
      since,
      latestId: state.latestId_,
      pos: resume,
      missed: { after: since, until: resume, count: countBetween(since, resume) }
    }
    this.parts_.events.emit('recovery_failed', info)
  }

  stop (state: RoomState): void {
    this.parts_.timers.clear(state.gap_?.timer_)
    this.parts_.timers.clear(state.ackTimer_)
    state.ackTimer_ = undefined
    state.gap_ = undefined
  }
}
