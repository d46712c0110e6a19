import { CloseCodes } from '../errors.js'
import type { HubObserver } from '../hub/types.js'
import type { ConnectionSlot } from '../limits/limits.js'
import { newSessionId, type Session, type Transport } from '../session.js'
import { PollSession, type WakeReason } from './session.js'

/** What the long-poll sessions need of the hub: sessions opened and closed, identities compared, observers told. */
export interface LongPollParts {
  openSession: (transport: Transport, identity: unknown, id?: string, slot?: ConnectionSlot, senderKey?: string, expiresAt?: number) => Session
  closeSession: (session: Session, code: number, reason?: string) => void
  /** Comparable form of an identity (the `identityKey` option). */
  identityKey: (identity: unknown) => string | undefined
  observers: readonly HubObserver[]
}

export interface LongPollManagerOptions {
  /** A session not polled for this long is swept (ms). */
  sessionTtl: number
  /** Frames kept per session; the oldest is dropped beyond it. */
  maxBuffer: number
  /** How often the sweeper runs (ms; default a quarter of the TTL, at most 5 s). */
  sweepInterval?: number
  /** Clock, replaceable in tests. */
  now?: () => number
}

export interface PollQuery {
  /** Cursor confirming every frame before it; absent: confirm everything already sent. */
  ack?: number
  /** How long to hold the request when nothing is queued (ms). */
  wait: number
  /** Most frames in one response. */
  max: number
}

/** A poll held until frames arrive: `done` resolves with the response body, or null when cancelled. */
export interface HeldPoll {
  readonly done: Promise<string | null>
  /** The client went away: stop waiting, free the session for the next poll, send nothing. */
  cancel: () => void
}

/** Why a session could not be polled. */
export type PollRefusal = 'busy'

/**
 * Long-poll sessions of one server. Each one is a hub session whose
 * transport queues frames in a `PollSession` instead of writing to a socket,
 * so joins, relay, acks and error frames work exactly as over WebSocket.
 *
 * @example
 * const manager = new LongPollManager(hub.longPollParts(), { sessionTtl: 60_000, maxBuffer: 1024 })
 * const { session } = manager.create(identity)
 * const held = manager.poll(manager.get(session.id, identity)!, { wait: 25_000, max: 100 })
 */
export class LongPollManager {
  private readonly polls = new Map<string, PollSession>()
  /** Sessions the server closed with frames still queued for them (why it closed them): gone after their next poll. */
  private readonly draining = new WeakSet<PollSession>()
  private readonly now: () => number
  private readonly sweepInterval: number
  private timer: NodeJS.Timeout | undefined
  private stopping = false

  constructor (private readonly parts: LongPollParts, private readonly options: LongPollManagerOptions) {
    this.now = options.now ?? Date.now
    this.sweepInterval = options.sweepInterval ?? Math.max(1, Math.min(5000, Math.floor(options.sessionTtl / 4)))
  }

  /** Live long-poll sessions. */
  get size (): number {
    return this.polls.size
  }

  /** Frames queued over all sessions. */
  buffered (): number {
    let total = 0
    for (const poll of this.polls.values()) total += poll.size
    return total
  }

  /**
   * Open a session bound to `identity`: a hub session (so it can join rooms)
   * with a 128-bit CSPRNG id; `slot` (from admission) is released when it ends.
   */
  create (identity: unknown, slot?: ConnectionSlot, senderKey?: string, expiresAt?: number): { poll: PollSession, session: Session } {
    const poll = new PollSession({
      id: newSessionId(),
      identityKey: this.parts.identityKey(identity),
      maxBuffer: this.options.maxBuffer,
      now: this.now()
    })
    const transport: Transport = {
      name: 'long-polling',
      send: (data) => { this.push(poll, data) },
      bufferedAmount: () => 0,
      queued: () => poll.size,
      close: (code) => { this.closeDraining(poll, code) },
      terminate: () => { this.expire(poll, CloseCodes.GOING_AWAY) }
    }
    this.polls.set(poll.id, poll)
    for (const observer of this.parts.observers) observer.longPollSessionCreated?.()
    const session = this.parts.openSession(transport, identity, poll.id, slot, senderKey, expiresAt)
    poll.session = session
    this.ensureSweeper()
    return { poll, session }
  }

  /**
   * The session with this id, when it exists and belongs to `identity`.
   * A session of another identity is reported exactly like a missing one,
   * so ids cannot be probed.
   */
  get (id: string, identity: unknown): PollSession | undefined {
    const poll = this.polls.get(id)
    if (poll === undefined || poll.identityKey !== this.parts.identityKey(identity)) return undefined
    return poll
  }

  /**
   * Queue one frame. Already serialized by the hub (once per broadcast); a
   * text frame that is not a JSON object (a raw reply) is carried as a JSON
   * string, a binary one as a `binary` system frame with base64 data, so a
   * response body is always valid JSON.
   */
  push (poll: PollSession, data: string | Buffer): void {
    let frame: string
    if (typeof data !== 'string') {
      frame = `{"kind":"system","type":"binary","ts":${JSON.stringify(new Date().toISOString())},"payload":{"data":"${data.toString('base64')}"}}`
    } else if (data.charCodeAt(0) === 123 && data.charCodeAt(data.length - 1) === 125) {
      frame = data
    } else {
      frame = JSON.stringify(data)
    }
    const dropped = poll.push(frame)
    for (const observer of this.parts.observers) {
      observer.longPollEnqueued?.(1)
      if (dropped > 0) observer.longPollDropped?.(dropped)
    }
    poll.wake('frames')
  }

  /**
   * Confirm `query.ack`, then answer at once when frames are queued, `wait`
   * is 0 or the server is stopping; otherwise hold until a frame arrives or
   * `wait` passes. Refused with `busy` while another poll is held.
   */
  poll (poll: PollSession, query: PollQuery): string | HeldPoll | PollRefusal {
    if (poll.waiter !== null) return 'busy'
    poll.lastActivity = this.now()
    for (const observer of this.parts.observers) observer.longPollPolled?.()
    const freed = poll.confirm(query.ack)
    if (freed > 0) for (const observer of this.parts.observers) observer.longPollDrained?.(freed)
    if (poll.size > 0 || query.wait === 0 || this.stopping) return this.respond(poll, query.max)
    let cancel!: () => void
    const done = new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => { poll.wake('timeout') }, query.wait)
      timer.unref()
      const waiter = {
        wake: (reason: WakeReason) => {
          clearTimeout(timer)
          poll.lastActivity = this.now()
          if (reason === 'aborted') {
            resolve(null)
            return
          }
          // Built on the next turn, so frames queued together (a join's replay and its ack, a burst) leave together.
          setImmediate(() => { resolve(this.respond(poll, query.max)) })
        }
      }
      poll.waiter = waiter
      cancel = () => { if (poll.waiter === waiter) poll.wake('aborted') }
    })
    return { done, cancel }
  }

  /** The body answering a session's creation: its id, nothing yet, and the cursor to poll from. */
  respondCreated (poll: PollSession): string {
    return `{"session_id":"${poll.id}","messages":[],"next":${poll.nextSeq}}`
  }

  /** The poll response body: the stored JSON frames joined, never re-serialized. */
  private respond (poll: PollSession, max: number): string {
    if (this.draining.has(poll)) this.polls.delete(poll.id)
    const batch = poll.take(max)
    return `{"session_id":"${poll.id}","messages":[${batch.frames.join(',')}],"next":${batch.next},"dropped":${batch.dropped}}`
  }

  /**
   * Remove a session: release its held poll with what it has, and close its
   * hub session (it leaves every room). Safe to call twice.
   */
  expire (poll: PollSession, code: number): void {
    if (!this.polls.delete(poll.id)) return
    poll.wake('released')
    this.parts.closeSession(poll.session, code, 'long-poll session ended')
  }

  /**
   * A close by the server (a token expired, `disconnect`): the session leaves
   * the hub at once; when no poll is held, the frames queued for it (the
   * `session.closed` saying why) are kept for its next poll, which ends it.
   */
  private closeDraining (poll: PollSession, code: number): void {
    if (poll.waiter !== null || poll.size === 0) {
      this.expire(poll, code)
      return
    }
    this.draining.add(poll)
    this.parts.closeSession(poll.session, code, 'long-poll session ended')
  }

  /** Remove every session idle (no poll, none held) for longer than the TTL. Returns how many. */
  sweep (now: number = this.now()): number {
    let swept = 0
    for (const poll of this.polls.values()) {
      if (poll.waiter === null && now - poll.lastActivity > this.options.sessionTtl) {
        this.expire(poll, CloseCodes.GOING_AWAY)
        swept++
      }
    }
    if (this.polls.size === 0) this.stopSweeper()
    return swept
  }

  private ensureSweeper (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { this.sweep() }, this.sweepInterval)
    this.timer.unref()
  }

  private stopSweeper (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /**
   * Shutdown, phase 1: every held poll is answered at once with what it has
   * (and `frame`, typically `server.going_away`); later polls do not wait.
   */
  requestStop (frame?: string): void {
    this.stopping = true
    for (const poll of this.polls.values()) {
      if (frame !== undefined) this.push(poll, frame)
      poll.wake('released')
    }
  }

  /** Shutdown, phase 2: end every session and stop the sweeper. */
  close (): void {
    this.stopping = true
    for (const poll of [...this.polls.values()]) this.expire(poll, CloseCodes.GOING_AWAY)
    this.stopSweeper()
  }
}
