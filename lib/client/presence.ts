import type { VixMessage } from './protocol.js'

/** One member of a presence room, as the client knows it. */
export interface PresenceMember { key: string, meta: Record<string, unknown>, connections: number }

/** A `presence.diff` as the `presence` event hands it on. */
export interface PresenceDiff {
  room: string
  joins: Array<{ key: string, meta: Record<string, unknown> }>
  leaves: Array<{ key: string }>
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

function entries (value: unknown): Array<Record<string, unknown>> {
  return Array.isArray(value) ? value.filter((item): item is Record<string, unknown> => isObject(item) && typeof item.key === 'string') : []
}

/**
 * The members of the presence rooms the client is in: replaced by each
 * `presence.state` (the server sends one after every join, so after every
 * reconnect too), then updated by each `presence.diff`. Applying a diff is
 * idempotent: a join of a known member or a leave of an unknown one changes nothing.
 *
 * @example
 * const view = new PresenceView()
 * view.receive(frame) // a PresenceDiff for a diff frame, else undefined
 * view.members('general')
 */
export class PresenceView {
  private readonly rooms_ = new Map<string, Map<string, PresenceMember>>()

  /** Take a `presence.state` or `presence.diff` frame; returns the diff to emit, if it was one. */
  receive (frame: VixMessage): PresenceDiff | undefined {
    const payload = frame.payload
    const room = typeof payload.room === 'string' ? payload.room : frame.room
    if (room === undefined) return undefined
    if (frame.type === 'presence.state') {
      const members = new Map<string, PresenceMember>()
      for (const item of entries(payload.members)) {
        members.set(item.key as string, { key: item.key as string, meta: isObject(item.meta) ? item.meta : {}, connections: typeof item.connections === 'number' ? item.connections : 1 })
      }
      this.rooms_.set(room, members)
      return undefined
    }
    if (frame.type !== 'presence.diff') return undefined
    const diff: PresenceDiff = {
      room,
      joins: entries(payload.joins).map((item) => ({ key: item.key as string, meta: isObject(item.meta) ? item.meta : {} })),
      leaves: entries(payload.leaves).map((item) => ({ key: item.key as string }))
    }
    let members = this.rooms_.get(room)
    if (members === undefined) {
      members = new Map()
      this.rooms_.set(room, members)
    }
    for (const join of diff.joins) if (!members.has(join.key)) members.set(join.key, { key: join.key, meta: join.meta, connections: 1 })
    for (const leave of diff.leaves) members.delete(leave.key)
    return diff
  }

  members (room: string): PresenceMember[] {
    return [...(this.rooms_.get(room)?.values() ?? [])]
  }

  /** The client left `room`: its members are no longer followed. */
  forget (room: string): void {
    this.rooms_.delete(room)
  }
}
