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
  constructor (private readonly parts: RoomGapsParts) {}

  /** Record a hole (announced once per hole: not again while it is being filled). */
  hole (room: string, state: RoomState, reason: 'jump' | 'epoch' | 'ack' | 'interrupted', expected: string | null, got: Position | null): void {
    if (got !== null) {
      const ahead = state.ahead
      if (ahead === undefined || ahead.tag !== got.tag || got.offset > ahead.offset) state.ahead = got
    }
    if (!state.holeSeen && state.gap === undefined) {
      this.parts.events.emit('position_gap', { room, reason, expected, got: got === null ? null : formatPosition(got) })
    }
    state.holeSeen = true
  }

  /** After events were processed: a new hole starts its filling; one seen again after a rejoin's ack is that attempt failing; none after an ack, filled. */
  afterHoles (room: string, state: RoomState, acked = false): void {
    if (!state.holeSeen) {
      if (acked && state.gap !== undefined) {
        this.stop(state)
        state.ahead = undefined
      }
      return
    }
    state.holeSeen = false
    if (state.gap === undefined) {
      state.gap = { attempts: 0 }
    } else if (!acked) {
      // Already being filled: the rejoin in flight (or waiting) covers this event too.
      return
    }
    this.nextAttempt(room, state)
  }

  /** The next rejoin for the room's hole: at once the first time, then with capped backoff; past `maxAttempts`, give up. */
  nextAttempt (room: string, state: RoomState): void {
    const gap = state.gap as GapRecovery
    this.parts.timers.clear(gap.timer)
    gap.timer = undefined
    const since = sinceOf(state)
    if (since === undefined && state.ahead === undefined) {
      // Interrupted before any position: a plain join restarts the stream, nothing is known to be missing.
      this.stop(state)
      if (this.parts.connection.open) this.parts.sendJoin(room, state)
      return
    }
    gap.attempts++
    const { gapRecovery, random } = this.parts.options
    if (since === undefined || gap.attempts > gapRecovery.maxAttempts) {
      // No position to rejoin from (the first stored event never came), or rejoins did not fill it.
      this.stop(state)
      this.unfillable(room, state, 'gap_unfilled', since ?? '', state.ahead === undefined ? null : formatPosition(state.ahead))
      if (state.ahead !== undefined) state.pos = state.ahead
      state.ahead = undefined
      return
    }
    const delay = gap.attempts === 1 ? 0 : backoffDelay(gap.attempts - 1, { ...gapRecovery, maxAttempts: Infinity }, random)
    const rejoin = (): void => {
      gap.timer = undefined
      // On a new connection `rejoinAll` rejoins every room (and this hole's filling starts over).
      if (this.parts.current(room, state) && state.gap === gap && this.parts.connection.open) this.parts.sendJoin(room, state)
    }
    if (delay === 0) rejoin()
    else gap.timer = this.parts.timers.set(rejoin, delay)
  }

  /** A rejoin was refused for now: send it again after a capped backoff; the room, its position and what is held stay. */
  retryLater (room: string, state: RoomState): void {
    state.joinId = undefined
    this.parts.timers.clear(state.ackTimer)
    state.ackTimer = undefined
    this.parts.timers.clear(state.retryTimer)
    state.retries++
    const { gapRecovery, random } = this.parts.options
    state.retryTimer = this.parts.timers.set(() => {
      state.retryTimer = undefined
      if (this.parts.current(room, state) && state.joinId === undefined && this.parts.connection.open) this.parts.sendJoin(room, state)
    }, backoffDelay(state.retries, { ...gapRecovery, maxAttempts: Infinity }, random))
  }

  /** Tell the app, once, what it will not receive in order. */
  unfillable (room: string, state: RoomState, reason: RecoveryFailed['reason'], since: string, resume: string | null): void {
    const info: RecoveryFailed = {
      room,
      recovered: false,
      reason,
      since,
      latestId: state.latestId,
      pos: resume,
      missed: { after: since, until: resume, count: countBetween(since, resume) }
    }
    this.parts.events.emit('recovery_failed', info)
  }

  stop (state: RoomState): void {
    this.parts.timers.clear(state.gap?.timer)
    this.parts.timers.clear(state.ackTimer)
    state.ackTimer = undefined
    state.gap = undefined
  }
}
