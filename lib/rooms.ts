import type { Session } from './session.js'

/**
 * Room membership as two maps: room → sessions here, session → rooms on the
 * session itself. An empty room is deleted so the map never keeps dead keys.
 */
export class Rooms {
  private readonly members = new Map<string, Set<Session>>()

  join (session: Session, room: string): boolean {
    if (session.rooms.has(room)) return false
    let set = this.members.get(room)
    if (set === undefined) {
      set = new Set()
      this.members.set(room, set)
    }
    set.add(session)
    session.rooms.add(room)
    return true
  }

  leave (session: Session, room: string): boolean {
    if (!session.rooms.delete(room)) return false
    session.gates.delete(room)
    const set = this.members.get(room)
    if (set !== undefined) {
      set.delete(session)
      if (set.size === 0) this.members.delete(room)
    }
    return true
  }

  leaveAll (session: Session): void {
    for (const room of [...session.rooms]) this.leave(session, room)
  }

  sessionsIn (room: string): ReadonlySet<Session> | undefined {
    return this.members.get(room)
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
