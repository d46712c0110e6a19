import type { CurrentConnection } from './connection.js'
import type { Emitter } from './emitter.js'
import { ClientErrorCodes, VixClientError } from './errors.js'
import { newClientId } from './id.js'
import { Pending, PendingGroup } from './pending.js'
import type { JoinAck, VixMessage } from './protocol.js'
import { RecentIds } from './recent-ids.js'
import type { TimerSet } from './timers.js'

interface RoomState {
  /** Id of the last event delivered in this room: the `since` of the next join. */
  lastSeen?: string
  recent: RecentIds
  joins: PendingGroup<JoinAck>
  /** Id of the join in flight on the current connection. */
  joinId?: string
  /** Did an event of this room arrive since the join in flight was sent? */
  eventsSinceJoin: boolean
  /** Acked at least once (a later join is a rejoin). */
  joined: boolean
}

type RoomRequest =
  | { kind: 'join', room: string, since?: string, rejoin: boolean }
  | { kind: 'leave', room: string, left: Pending<void> }

function joinAckOf (frame: VixMessage, room: string): JoinAck {
  const payload = frame.payload as Partial<JoinAck>
  return {
    room,
    recovered: payload.recovered === true,
    replayed: typeof payload.replayed === 'number' ? payload.replayed : 0,
    latestId: typeof payload.latestId === 'string' ? payload.latestId : null
  }
}

/**
 * The rooms a client is in or joining, each with the id of the last event
 * seen in it: rejoined with that id as `since` on every new connection, so
 * the server replays what was missed, and used to drop events delivered twice.
 * Also the join and leave requests in flight, which an ack or error frame
 * settles by message id.
 *
 * @example
 * const rooms = new Rooms(timers, { timeout: 10_000, dedupeWindow: 1000 }, current, events)
 * const joined = rooms.join('general')
 * rooms.acked(ackFrame.id, ackFrame) // true: it answered the join, `joined` resolves
 */
export class Rooms {
  private readonly states = new Map<string, RoomState>()
  /** Join and leave requests by message id. */
  private readonly requests = new Map<string, RoomRequest>()
  /** Ids of events outside any joined room (room-less, or a room left), for dropping duplicates there too. */
  private readonly untracked: RecentIds

  constructor (
    private readonly timers: TimerSet,
    private readonly options: { timeout: number, dedupeWindow: number },
    private readonly current: CurrentConnection,
    private readonly events: Emitter
  ) {
    this.untracked = new RecentIds(options.dedupeWindow)
  }

  /** Rooms in or being joined, in the order they were first joined. */
  get names (): string[] {
    return [...this.states.keys()]
  }

  lastEventId (room: string): string | undefined {
    return this.states.get(room)?.lastSeen
  }

  /** Resolves with the ack of the join in flight, or of the one sent now when none is. An empty or missing `since` leaves the position as it is. */
  join (room: string, since?: string | null): Promise<JoinAck> {
    let state = this.states.get(room)
    if (state === undefined) {
      state = { recent: new RecentIds(this.options.dedupeWindow), joins: new PendingGroup(this.timers), eventsSinceJoin: false, joined: false }
      this.states.set(room, state)
    }
    // '' is what `lastEventId(room) ?? ''` stores before any event: no position, not an id.
    if (typeof since === 'string' && since !== '') state.lastSeen = since
    const { timeout } = this.options
    const joined = state.joins.add({
      ms: timeout,
      // The room stays wanted: a late ack still counts, and reconnects rejoin it.
      expired: () => new VixClientError(ClientErrorCodes.TIMEOUT, `No ack for joining "${room}" within ${timeout} ms`, { room })
    })
    if (this.current.open && state.joinId === undefined) this.sendJoin(room, state)
    return joined
  }

  /** Forget `room` at once; resolves with the server's ack, or at once when not connected. */
  leave (room: string): Promise<void> {
    const state = this.states.get(room)
    if (state !== undefined) {
      this.states.delete(room)
      if (state.joinId !== undefined) this.requests.delete(state.joinId)
      state.joins.rejectAll(() => new VixClientError(ClientErrorCodes.ABORTED, `Left "${room}" before the join was acknowledged`, { room }))
    }
    const connection = this.current.connection
    if (!this.current.open || connection === null) return Promise.resolve()
    const id = newClientId()
    const { timeout } = this.options
    const left = new Pending<void>(this.timers, {
      ms: timeout,
      expired: () => {
        this.requests.delete(id)
        return new VixClientError(ClientErrorCodes.TIMEOUT, `No ack for leaving "${room}" within ${timeout} ms`, { room, id })
      }
    })
    this.requests.set(id, { kind: 'leave', room, left })
    connection.send(JSON.stringify({ id, type: 'room.leave', payload: { room } }), id)
    return left.promise
  }

  /** Join every room again with `since` = its last id seen: on a new connection, or after frames were lost. */
  rejoinAll (): void {
    for (const [room, state] of this.states) this.sendJoin(room, state)
  }

  /** Is this event new? A duplicate (a replay overlapping live delivery) is not; a new one moves its room's last id. */
  accept (frame: VixMessage): boolean {
    if (frame.id === undefined) return true
    const room = frame.room
    const state = room === undefined ? undefined : this.states.get(room)
    const fresh = state === undefined ? this.untracked.add(`${room ?? ''}\u0000${frame.id}`) : state.recent.add(frame.id)
    if (fresh && state !== undefined) {
      state.lastSeen = frame.id
      state.eventsSinceJoin = true
    }
    return fresh
  }

  /** The room of join or leave request `id`, to name it in that request's error. */
  roomOf (id: string): string | undefined {
    return this.requests.get(id)?.room
  }

  /** An ack for `id`: false when it is not a join or leave request (it may be a publish's). */
  acked (id: string, frame: VixMessage): boolean {
    const request = this.requests.get(id)
    if (request === undefined) return false
    this.requests.delete(id)
    if (request.kind === 'leave') {
      request.left.resolve()
      return true
    }
    const state = this.states.get(request.room)
    // Left meanwhile, or superseded by a newer join.
    if (state === undefined || state.joinId !== id) return true
    state.joinId = undefined
    const ack = joinAckOf(frame, request.room)
    // The latest stored id is the resume point when nothing newer has arrived yet.
    if (!state.eventsSinceJoin && ack.latestId !== null) state.lastSeen = ack.latestId
    state.joined = true
    state.joins.resolveAll(ack)
    if (request.rejoin) this.events.emit('rejoined', request.since === undefined ? ack : { ...ack, since: request.since })
    if (request.since !== undefined && !ack.recovered) {
      this.events.emit('recovery_failed', { room: request.room, since: request.since, latestId: ack.latestId })
    }
    return true
  }

  /** The server refused request `id`: true when a caller was waiting and now has the error. */
  failed (id: string, error: VixClientError): boolean {
    const request = this.requests.get(id)
    if (request === undefined) return false
    this.requests.delete(id)
    if (request.kind === 'leave') {
      request.left.reject(error)
      return true
    }
    const state = this.states.get(request.room)
    if (state === undefined || state.joinId !== id) return false
    // Refused (forbidden...): the client is not in this room and will not rejoin it.
    this.states.delete(request.room)
    return state.joins.rejectAll(() => error) > 0
  }

  /** The connection ended: joins in flight are void (rejoined on the next one); a leave is done (the session is gone). */
  connectionEnded (): void {
    for (const request of this.requests.values()) {
      if (request.kind === 'leave') request.left.resolve()
    }
    this.requests.clear()
    for (const state of this.states.values()) state.joinId = undefined
  }

  /** The client closes: every waiting join rejects. Rooms and last ids stay, for a later `connect()`. */
  close (closed: () => VixClientError): void {
    this.connectionEnded()
    for (const state of this.states.values()) state.joins.rejectAll(closed)
  }

  private sendJoin (room: string, state: RoomState): void {
    const id = newClientId()
    if (state.joinId !== undefined) this.requests.delete(state.joinId)
    state.joinId = id
    state.eventsSinceJoin = false
    const since = state.lastSeen
    this.requests.set(id, since === undefined ? { kind: 'join', room, rejoin: state.joined } : { kind: 'join', room, since, rejoin: state.joined })
    const payload = since === undefined ? { room } : { room, since }
    this.current.connection?.send(JSON.stringify({ id, type: 'room.join', payload }), id)
  }
}
