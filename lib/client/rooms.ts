import type { CurrentConnection } from './connection.js'
import type { Emitter } from './emitter.js'
import { ClientErrorCodes, VixClientError } from './errors.js'
import { newClientId } from './id.js'
import { Pending, PendingGroup } from './pending.js'
import type { GapRecoveryOptions } from './options.js'
import { formatPosition, parsePosition } from './position.js'
import type { JoinAck, VixMessage } from './protocol.js'
import { RecentIds } from './recent-ids.js'
import { RoomGaps } from './room-gaps.js'
import { HOLD_LIMIT, TRANSIENT_CODES, expectedAfter, joinAckOf, sinceOf, type RoomRequest, type RoomState } from './room-state.js'
import type { TimerSet } from './timers.js'

/**
 * The rooms a client is in or joining, each with its last contiguous
 * position (and the id of the last event seen, for rooms without positions):
 * rejoined with it as `since` on every new connection, so the server replays
 * what was missed. Every event of a room goes through here before the app
 * sees it: the next position is delivered, an old one is dropped (a
 * duplicate), a jump or another epoch is a hole, filled by rejoining that
 * room from its last position with backoff (`recovery_failed` when it cannot
 * be). Events without a position are deduplicated by id. Also the join and
 * leave requests in flight, which an ack or error frame settles by message id.
 *
 * @example
 * const rooms = new JoinedRooms(timers, { timeout: 10_000, dedupeWindow: 1000, gapRecovery, random: Math.random }, current, events, deliver)
 * const joined = rooms.join('general')
 * rooms.acked(ackFrame.id, ackFrame) // true: it answered the join, `joined` resolves
 * rooms.receive(eventFrame) // calls `deliver` when it is the room's next event
 */
export class JoinedRooms {
  private readonly states_ = new Map<string, RoomState>()
  /** Join and leave requests by message id. */
  private readonly requests_ = new Map<string, RoomRequest>()
  /** Ids of events outside any joined room (room-less, or a room left), for dropping duplicates there too. */
  private readonly untracked_: RecentIds
  /** The holes in rooms' positions, and their filling by rejoins. */
  private readonly gaps_: RoomGaps

  constructor (
    private readonly timers_: TimerSet,
    private readonly options_: { timeout: number, dedupeWindow: number, gapRecovery: GapRecoveryOptions & { factor: number, jitter: number }, random: () => number },
    private readonly current_: CurrentConnection,
    private readonly events_: Emitter,
    private readonly deliver_: (frame: VixMessage) => void
  ) {
    this.untracked_ = new RecentIds(options_.dedupeWindow)
    this.gaps_ = new RoomGaps({
      timers: timers_,
      options: options_,
      connection: current_,
      events: events_,
      current: (room, state) => this.states_.get(room) === state,
      sendJoin: (room, state) => { this.sendJoin_(room, state) }
    })
  }

  /** Rooms in or being joined, in the order they were first joined. */
  get names (): string[] {
    return [...this.states_.keys()]
  }

  lastEventId (room: string): string | undefined {
    return this.states_.get(room)?.lastSeen_
  }

  /** The room's last contiguous position, as the wire writes it (undefined: none yet, or the room is not stored). */
  lastPosition (room: string): string | undefined {
    const position = this.states_.get(room)?.pos_
    return position === undefined || position === null ? undefined : (formatPosition(position) ?? undefined)
  }

  /**
   * Resolves with the ack of the join in flight, or of the one sent now when
   * none is. A `since` that is a position becomes the room's position; any
   * other non-empty `since` is an id; an empty or missing one leaves the
   * position as it is.
   */
  join (room: string, since?: string | null): Promise<JoinAck> {
    let state = this.states_.get(room)
    if (state === undefined) {
      state = { latestId_: null, recent_: new RecentIds(this.options_.dedupeWindow), joins_: new PendingGroup(this.timers_), held_: [], joined_: false, holeSeen_: false, interrupted_: false, retries_: 0 }
      this.states_.set(room, state)
    }
    // '' is what `lastEventId(room) ?? ''` stores before any event: no position, not an id.
    if (typeof since === 'string' && since !== '') {
      const position = parsePosition(since)
      if (position !== null) {
        state.pos_ = position
      } else {
        state.pos_ = undefined
        state.lastSeen_ = since
      }
    }
    const { timeout } = this.options_
    const joined = state.joins_.add({
      ms: timeout,
      // The room stays wanted: a late ack still counts, and reconnects rejoin it.
      expired: () => new VixClientError(ClientErrorCodes.TIMEOUT, `No ack for joining "${room}" within ${timeout} ms`, { room })
    })
    if (this.current_.open && state.joinId_ === undefined) this.sendJoin_(room, state)
    return joined
  }

  /** Forget `room` at once; resolves with the server's ack, or at once when not connected. */
  leave (room: string): Promise<void> {
    const state = this.states_.get(room)
    if (state !== undefined) {
      this.states_.delete(room)
      if (state.joinId_ !== undefined) this.requests_.delete(state.joinId_)
      this.gaps_.stop(state)
      state.joins_.rejectAll(() => new VixClientError(ClientErrorCodes.ABORTED, `Left "${room}" before the join was acknowledged`, { room }))
    }
    const connection = this.current_.connection
    if (!this.current_.open || connection === null) return Promise.resolve()
    const id = newClientId()
    const { timeout } = this.options_
    const left = new Pending<void>(this.timers_, {
      ms: timeout,
      expired: () => {
        this.requests_.delete(id)
        return new VixClientError(ClientErrorCodes.TIMEOUT, `No ack for leaving "${room}" within ${timeout} ms`, { room, id })
      }
    })
    this.requests_.set(id, { kind_: 'leave', room_: room, left_: left })
    connection.send(JSON.stringify({ id, type: 'room.leave', payload: { room } }), id)
    return left.promise
  }

  /** Join every room again with `since` = its last position (or id): on a new connection, or after frames were lost. */
  rejoinAll (): void {
    for (const [room, state] of this.states_) this.sendJoin_(room, state)
  }

  /**
   * An event frame: delivered (through `deliver`) when it is new and in
   * order, dropped when already delivered, held while its room's join is in
   * flight, and a hole to fill when its position jumps.
   */
  receive (frame: VixMessage): void {
    const room = frame.room
    const state = room === undefined ? undefined : this.states_.get(room)
    if (room === undefined || state === undefined) {
      if (frame.id === undefined || this.untracked_.add(`${room ?? ''}\u0000${frame.id}`)) this.deliver_(frame)
      return
    }
    if (state.joinId_ !== undefined) {
      // Replayed and held events come before the ack, which says where they continue from.
      if (state.held_.length < HOLD_LIMIT) state.held_.push(frame)
      return
    }
    state.holeSeen_ = false
    this.process_(room, state, frame, true)
    this.gaps_.afterHoles(room, state)
  }

  /** The server's `room.interrupted`: the room's stream stopped until it is joined again from the last position. */
  interrupted (room: string): void {
    const state = this.states_.get(room)
    if (state === undefined) return
    if (state.joinId_ !== undefined) {
      state.interrupted_ = true
      return
    }
    state.holeSeen_ = false
    this.gaps_.hole(room, state, 'interrupted', expectedAfter(state.pos_), null)
    this.gaps_.afterHoles(room, state)
  }

  /** The room of join or leave request `id`, to name it in that request's error. */
  roomOf (id: string): string | undefined {
    return this.requests_.get(id)?.room_
  }

  /** An ack for `id`: false when it is not a join or leave request (it may be a publish's). */
  acked (id: string, frame: VixMessage): boolean {
    const request = this.requests_.get(id)
    if (request === undefined) return false
    this.requests_.delete(id)
    if (request.kind_ === 'leave') {
      request.left_.resolve()
      return true
    }
    const { room_: room } = request
    const state = this.states_.get(room)
    // Left meanwhile, or superseded by a newer join.
    if (state === undefined || state.joinId_ !== id) return true
    state.joinId_ = undefined
    this.timers_.clear(state.ackTimer_)
    state.ackTimer_ = undefined
    const held = state.held_
    state.held_ = []
    const ack = joinAckOf(frame, room)
    state.latestId_ = ack.latestId
    state.joined_ = true
    state.retries_ = 0
    const ackPos = ack.pos === undefined ? undefined : parsePosition(ack.pos)
    // The latest stored id is the resume point (of rooms without positions) when nothing newer arrived.
    if (ack.latestId !== null && !held.some((event) => event.id !== undefined)) state.lastSeen_ = ack.latestId
    if (request.rejoin_) this.events_.emit('rejoined', request.since_ === undefined ? ack : { ...ack, since: request.since_ })

    if (request.since_ !== undefined && !ack.recovered) {
      // Beyond retention, another epoch, no store: what lies between is gone. Say so once, then go on from the ack.
      this.gaps_.stop(state)
      this.gaps_.unfillable(room, state, 'not_recovered', request.since_, ack.pos ?? null)
      state.pos_ = ackPos
      state.ahead_ = undefined
    } else if (!ack.recovered) {
      // A fresh join: the stream starts after the room's head, or at the first event held before the ack if that is earlier.
      const first = held.map((event) => parsePosition(event.pos)).find((position) => position !== null)
      state.pos_ = first !== undefined && ackPos !== undefined && ackPos !== null && first.tag === ackPos.tag && first.offset <= ackPos.offset
        ? { offset: first.offset - 1, tag: first.tag }
        : ackPos
    } else if (state.pos_ === undefined && ackPos !== undefined) {
      // Recovered from an id: the replay ends at the ack's position, `replayed` events after since's.
      state.pos_ = ackPos === null ? null : { offset: Math.max(0, ackPos.offset - ack.replayed), tag: ackPos.tag }
    }

    state.holeSeen_ = false
    this.drain_(room, state, held, true)
    // The replay ends at the ack's position: short of it, a replayed event was lost on the way.
    if (ack.recovered && ackPos !== undefined && ackPos !== null && state.pos_ !== undefined) {
      const last = state.pos_
      if (last === null || (last.tag === ackPos.tag && ackPos.offset > last.offset)) {
        this.gaps_.hole(room, state, 'ack', expectedAfter(last), ackPos)
      }
    }
    // Not yet up to an event already seen past the hole: still a hole (a replay that stopped short).
    const ahead = state.ahead_
    if (ahead !== undefined && !(state.pos_ !== undefined && state.pos_ !== null && state.pos_.tag === ahead.tag && state.pos_.offset >= ahead.offset)) {
      this.gaps_.hole(room, state, state.pos_ !== undefined && state.pos_ !== null && state.pos_.tag !== ahead.tag ? 'epoch' : 'jump', expectedAfter(state.pos_), ahead)
    }
    if (state.interrupted_) {
      state.interrupted_ = false
      this.gaps_.hole(room, state, 'interrupted', expectedAfter(state.pos_), null)
    }
    this.gaps_.afterHoles(room, state, true)
    state.joins_.resolveAll(ack)
    return true
  }

  /** The server refused request `id`: true when a caller was waiting and now has the error. */
  failed (id: string, error: VixClientError): boolean {
    const request = this.requests_.get(id)
    if (request === undefined) return false
    this.requests_.delete(id)
    if (request.kind_ === 'leave') {
      request.left_.reject(error)
      return true
    }
    const state = this.states_.get(request.room_)
    if (state === undefined || state.joinId_ !== id) return false
    if ((state.joined_ || state.gap_ !== undefined) && TRANSIENT_CODES.has(error.code)) {
      this.gaps_.retryLater(request.room_, state)
      return false
    }
    // Refused (forbidden...): the client is not in this room and will not rejoin it.
    this.states_.delete(request.room_)
    this.gaps_.stop(state)
    return state.joins_.rejectAll(() => error) > 0
  }

  /**
   * The connection ended: joins in flight are void (rejoined on the next one),
   * and so is any hole being filled (that rejoin starts from the last
   * position); held events in order are delivered, the rest come again. A
   * leave is done (the session is gone).
   */
  connectionEnded (): void {
    for (const request of this.requests_.values()) {
      if (request.kind_ === 'leave') request.left_.resolve()
    }
    this.requests_.clear()
    for (const [room, state] of this.states_) {
      state.joinId_ = undefined
      this.timers_.clear(state.retryTimer_)
      state.retryTimer_ = undefined
      this.gaps_.stop(state)
      state.interrupted_ = false
      const held = state.held_
      state.held_ = []
      this.drain_(room, state, held, false)
    }
  }

  /** The client closes: every waiting join rejects. Rooms and last positions stay, for a later `connect()`. */
  close (closed: () => VixClientError): void {
    this.connectionEnded()
    for (const state of this.states_.values()) state.joins_.rejectAll(closed)
  }

  // ---- continuity -----------------------------------------------------------

  /**
   * Events held during a join, against the room's position after its ack.
   * They may arrive out of order (live events on the old stream, then the
   * replay): an event past a hole is tried again once earlier ones were
   * delivered. What is still past a hole at the end is a hole to fill
   * (`fill`), or dropped (a connection that ended: the next join replays it).
   */
  private drain_ (room: string, state: RoomState, events: VixMessage[], fill: boolean): void {
    let pending = events
    for (;;) {
      const ahead: VixMessage[] = []
      let progressed = false
      for (const event of pending) {
        const outcome = this.process_(room, state, event, false)
        if (outcome === 'ahead') ahead.push(event)
        else if (outcome === 'delivered') progressed = true
      }
      pending = ahead
      if (!progressed || pending.length === 0) break
    }
    if (fill) for (const event of pending) this.process_(room, state, event, true)
  }

  /**
   * One event of a joined room, against its last position: delivered,
   * dropped (already delivered) or ahead (past a hole; recorded to be filled
   * when `fill`).
   */
  private process_ (room: string, state: RoomState, frame: VixMessage, fill: boolean): 'delivered' | 'dropped' | 'ahead' {
    const position = parsePosition(frame.pos)
    if (position === null) {
      // Not stored (or a server without positions): by id.
      if (frame.id !== undefined) {
        if (!state.recent_.add(frame.id)) return 'dropped'
        state.lastSeen_ = frame.id
      }
      this.deliver_(frame)
      return 'delivered'
    }
    const last = state.pos_
    if (last !== undefined) {
      if (last !== null && position.tag === last.tag && position.offset <= last.offset) return 'dropped'
      const next = last === null ? 1 : last.offset + 1
      if (position.offset !== next || (last !== null && position.tag !== last.tag)) {
        if (fill) this.gaps_.hole(room, state, last !== null && position.tag !== last.tag ? 'epoch' : 'jump', expectedAfter(last), position)
        return 'ahead'
      }
    }
    state.pos_ = position
    if (frame.id !== undefined) {
      state.recent_.add(frame.id)
      state.lastSeen_ = frame.id
    }
    this.deliver_(frame)
    return 'delivered'
  }

  private sendJoin_ (room: string, state: RoomState): void {
    const id = newClientId()
    this.timers_.clear(state.retryTimer_)
    state.retryTimer_ = undefined
    if (state.joinId_ !== undefined) this.requests_.delete(state.joinId_)
    this.timers_.clear(state.ackTimer_)
    state.ackTimer_ = undefined
    state.joinId_ = id
    const since = sinceOf(state)
    this.requests_.set(id, since === undefined ? { kind_: 'join', room_: room, rejoin_: state.joined_ } : { kind_: 'join', room_: room, since_: since, rejoin_: state.joined_ })
    const payload = since === undefined ? { room } : { room, since }
    const gap = state.gap_
    if (gap !== undefined) {
      this.timers_.clear(gap.timer_)
      gap.timer_ = undefined
      // A rejoin that fills a hole must end: no ack in time is a failed attempt.
      state.ackTimer_ = this.timers_.set(() => {
        state.ackTimer_ = undefined
        if (this.states_.get(room) === state && state.joinId_ === id && state.gap_ === gap) this.gaps_.nextAttempt(room, state)
      }, this.options_.timeout)
    }
    this.current_.connection?.send(JSON.stringify({ id, type: 'room.join', payload }), id)
  }
}
