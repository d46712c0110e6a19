import type { ControlMessage } from '../broker/types.js'

/** What one member shows, as another node announced it. */
export interface RemoteEntry { meta: Record<string, unknown>, connections: number }

/** One announced room: `[key, meta, connections]` per member (compact on the wire). */
export type AnnouncedMember = [key: string, meta: Record<string, unknown>, connections: number]

/** A node's announcement of its members: every room it has (`full`) or only the rooms that changed. */
export interface PresenceAnnouncement extends ControlMessage {
  type: 'presence.announce'
  full: boolean
  rooms: Record<string, AnnouncedMember[]>
}

interface RemoteNode {
  /** When the node is considered gone (ms epoch): last heartbeat + ttl, or the grace of a graceful leave. */
  expires: number
  rooms: Map<string, Map<string, RemoteEntry>>
}

/** Called for every (room, key) whose remote presence may have changed. */
export type Changed = (room: string, key: string) => void

function isMember (entry: unknown): entry is AnnouncedMember {
  return Array.isArray(entry) && entry.length === 3 && typeof entry[0] === 'string' &&
    typeof entry[1] === 'object' && entry[1] !== null && typeof entry[2] === 'number'
}

/**
 * The members other nodes announced, per node, each node with an expiry. The
 * model is state-based: every announcement replaces what a node had in the
 * rooms it lists (all of them when `full`), so a lost message is repaired by
 * the next heartbeat, and a node that stops announcing (SIGKILL) is dropped
 * once its TTL passes. Nothing here sends; `changed` tells the owner which
 * members to look at again.
 */
export class RemoteMembers {
  private readonly nodes = new Map<string, RemoteNode>()

  constructor (private readonly changed: Changed) {}

  /** Apply an announcement; returns false for a malformed one (ignored). */
  apply (message: ControlMessage, expires: number): boolean {
    const rooms = message.rooms as unknown
    if (typeof rooms !== 'object' || rooms === null || Array.isArray(rooms)) return false
    let node = this.nodes.get(message.node)
    if (node === undefined) {
      node = { expires, rooms: new Map() }
      this.nodes.set(message.node, node)
    }
    node.expires = expires
    const listed = rooms as Record<string, unknown>
    if (message.full === true) {
      for (const room of [...node.rooms.keys()]) if (!Object.hasOwn(listed, room)) this.replace(node, room, new Map())
    }
    for (const [room, members] of Object.entries(listed)) {
      const next = new Map<string, RemoteEntry>()
      if (Array.isArray(members)) for (const entry of members) if (isMember(entry)) next.set(entry[0], { meta: entry[1], connections: entry[2] })
      this.replace(node, room, next)
    }
    return true
  }

  /** A node leaves gracefully: its members stay until `until` (ms epoch), then go like a crashed node's. */
  leaving (node: string, until: number): void {
    const known = this.nodes.get(node)
    if (known !== undefined) known.expires = Math.min(known.expires, until)
  }

  /** Drop every node whose time is up. */
  expire (now: number): void {
    for (const [id, node] of this.nodes) {
      if (node.expires > now) continue
      this.nodes.delete(id)
      for (const [room, members] of node.rooms) for (const key of members.keys()) this.changed(room, key)
    }
  }

  /** The meta of `key` in `room` on any other node, or undefined when it has no connection elsewhere. */
  meta (room: string, key: string): Record<string, unknown> | undefined {
    for (const node of this.nodes.values()) {
      const entry = node.rooms.get(room)?.get(key)
      if (entry !== undefined) return entry.meta
    }
    return undefined
  }

  /** Every remote member of `room`, with its connections summed over nodes, into `into`. */
  collect (room: string, into: (key: string, entry: RemoteEntry) => void): void {
    for (const node of this.nodes.values()) {
      const members = node.rooms.get(room)
      if (members !== undefined) for (const [key, entry] of members) into(key, entry)
    }
  }

  private replace (node: RemoteNode, room: string, next: Map<string, RemoteEntry>): void {
    const previous = node.rooms.get(room)
    if (previous !== undefined) for (const key of previous.keys()) if (!next.has(key)) this.changed(room, key)
    for (const key of next.keys()) if (previous?.has(key) !== true) this.changed(room, key)
    if (next.size === 0) node.rooms.delete(room)
    else node.rooms.set(room, next)
  }
}
