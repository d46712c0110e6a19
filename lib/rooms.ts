import { EventEmitter } from 'node:events'
import type { Session } from './session.js'

/** What `Rooms` emits, in this order: `created` before the first `joined`, `deleted` after the last `left`. */
export interface RoomEvents {
  created: [room: string]
  joined: [room: string, session: Session]
  left: [room: string, session: Session]
  deleted: [room: string]
}

/**
 * Room membership as two maps: room → sessions here, session → rooms on the
 * session itself. An empty room is deleted so the map never keeps dead keys.
 * Membership changes are emitted: the broker subscribes to a room on
 * `created` and unsubscribes on `deleted`; presence counts `joined`/`left`.
 *
 * @example
 * hub.rooms.on('created', (room) => broker.subscribe(room))
 */
export class Rooms extends EventEmitter<RoomEvents> {
  private readonly members = new Map<string, Set<Session>>()

  join (session: Session, room: string): boolean {
    if (session.rooms.has(room)) return false
    let set = this.members.get(room)
    const created = set === undefined
    if (set === undefined) {
      set = new Set()
      this.members.set(room, set)
    }
    set.add(session)
    session.rooms.add(room)
    if (created) this.emit('created', room)
    this.emit('joined', room, session)
    return true
  }

  leave (session: Session, room: string): boolean {
    if (!session.rooms.delete(room)) return false
    const set = this.members.get(room)
    set?.delete(session)
    this.emit('left', room, session)
    if (set !== undefined && set.size === 0) {
      this.members.delete(room)
      this.emit('deleted', room)
    }
    return true
  }

  leaveAll (session: Session): void {
    for (const room of [...session.rooms]) this.leave(session, room)
  }

  sessionsIn (room: string): ReadonlySet<Session> | undefined {
    return this.members.get(room)
  }

  has (room: string): boolean {
    return this.members.has(room)
  }

  size (room: string): number {
    return this.members.get(room)?.size ?? 0
  }

  get count (): number {
    return this.members.size
  }

  names (): string[] {
    return [...this.members.keys()]
  }
}
