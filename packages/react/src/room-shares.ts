import { ClientErrorCodes, VixClientError, type JoinAck } from '@vix-realtime/client'

/** What {@link RoomShares} needs of a client: `join` and `leave` (a `VixClient` has both). */
export interface RoomClient {
  join: (room: string, options: { since?: string | null }) => Promise<JoinAck>
  leave: (room: string) => Promise<void>
}

/** `joining` until the server's ack, then `joined`; `failed` when the join was refused (`error` says why). */
export type RoomStatus = 'joining' | 'joined' | 'failed'

/** A room's shared join as its holders see it; a new object on each change. */
export interface RoomShareState {
  status: RoomStatus
  /** The server's answer to the one wire join. */
  ack?: JoinAck
  error?: VixClientError
}

/** Timers, replaceable in tests. */
export interface ShareTimers {
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (timer: unknown) => void
}

export interface RoomSharesOptions {
  /** How long a room nobody holds stays joined (ms, default 2500): a remount within it (StrictMode, a route change back) does not rejoin. */
  leaveDelay?: number
  timers?: ShareTimers
}

interface Share {
  holders: number
  state: RoomShareState
  leaveTimer?: unknown
}

const joining: RoomShareState = Object.freeze({ status: 'joining' })

/** The longest delay a timer takes (about 24.8 days). */
const maxDelay = 2_147_483_647

/** The default delay before the last holder's release leaves the room. */
export const defaultLeaveDelay = 2500

/**
 * One wire join per room, however many holders: the first `acquire` joins,
 * later ones share it; the last `release` leaves after `leaveDelay` unless the
 * room is acquired again first. React's StrictMode (mount, unmount, mount),
 * two components on one room and a handler change all keep the one join.
 *
 * @example
 * const shares = new RoomShares(client, { leaveDelay: 2500 })
 * const release = shares.acquire('general', { since: localStorage.getItem('general:last') })
 * shares.state('general').status // 'joining', then 'joined'
 * release() // leaves 2.5 s later unless acquired again
 */
export class RoomShares {
  private readonly shares = new Map<string, Share>()
  private readonly listeners = new Map<string, Set<() => void>>()
  private readonly leaveDelay: number
  private readonly timers: ShareTimers

  constructor (private readonly client: RoomClient, options: RoomSharesOptions = {}) {
    this.leaveDelay = options.leaveDelay ?? defaultLeaveDelay
    if (typeof this.leaveDelay !== 'number' || !(this.leaveDelay >= 0) || this.leaveDelay > maxDelay) {
      throw new VixClientError(ClientErrorCodes.INVALID_OPTION, `Invalid option "leaveDelay": expected a number of ms from 0 to ${maxDelay}, got ${String(this.leaveDelay)}`)
    }
    this.timers = options.timers ?? {
      // Unref'd where timers have it (Node): a pending leave never holds a process open.
      setTimeout: (fn, ms) => {
        const timer = globalThis.setTimeout(fn, ms) as { unref?: () => void }
        timer.unref?.()
        return timer
      },
      clearTimeout: (timer) => { globalThis.clearTimeout(timer as ReturnType<typeof setTimeout>) }
    }
  }

  /** Hold `room` (joining it with `since` if nobody does); returns the release, which does something once. */
  acquire (room: string, options: { since?: string | null } = {}): () => void {
    const share = this.shares.get(room) ?? this.join(room, options.since)
    share.holders++
    if (share.leaveTimer !== undefined) {
      this.timers.clearTimeout(share.leaveTimer)
      share.leaveTimer = undefined
    }
    let released = false
    return () => {
      if (released) return
      released = true
      this.release(room, share)
    }
  }

  /** The room's shared state (`joining` for a room nobody holds yet). */
  state (room: string): RoomShareState {
    return this.shares.get(room)?.state ?? joining
  }

  /** Be called on each change of the room's state; returns the unsubscribe. */
  subscribe (room: string, listener: () => void): () => void {
    let listeners = this.listeners.get(room)
    if (listeners === undefined) {
      listeners = new Set()
      this.listeners.set(room, listeners)
    }
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
      if (listeners.size === 0 && this.listeners.get(room) === listeners) this.listeners.delete(room)
    }
  }

  /** How many holders `room` has (0 while its leave waits, or when not joined). */
  holders (room: string): number {
    return this.shares.get(room)?.holders ?? 0
  }

  private join (room: string, since: string | null | undefined): Share {
    const share: Share = { holders: 0, state: joining }
    this.shares.set(room, share)
    this.client.join(room, { since }).then(
      (ack) => { this.update(room, share, { status: 'joined', ack }) },
      (error: VixClientError) => { this.update(room, share, { status: 'failed', error }) }
    )
    return share
  }

  private update (room: string, share: Share, state: RoomShareState): void {
    if (this.shares.get(room) !== share) return
    share.state = state
    for (const listener of [...this.listeners.get(room) ?? []]) listener()
  }

  private release (room: string, share: Share): void {
    share.holders--
    if (share.holders > 0 || this.shares.get(room) !== share) return
    share.leaveTimer = this.timers.setTimeout(() => {
      share.leaveTimer = undefined
      this.shares.delete(room)
      // A leave that fails (closed client) has nothing left to undo.
      this.client.leave(room).catch(() => {})
    }, this.leaveDelay)
  }
}
