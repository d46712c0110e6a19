import { randomBytes } from 'node:crypto'
import type { Broker, ControlMessage } from '../broker/types.js'
import { systemFrame, type RealtimeMessage } from '../frames.js'
import { callSafely } from '../hub/maybe.js'
import { countOutbound } from '../hub/observers.js'
import type { HubObserver, Logger } from '../hub/types.js'
import type { Rooms } from '../rooms.js'
import type { Session } from '../session.js'
import type { ResolvedPresenceOptions } from './options.js'
import { RemoteMembers, type AnnouncedMember } from './remote.js'
import type { Lifecycle } from '../lifecycle.js'

/** One member of a presence room: who (`key`), what it shows (`meta`), and how many connections it has in the cluster. */
export interface PresenceMember { key: string, meta: Record<string, unknown>, connections: number }

/** What presence needs from its hub. */
export interface PresenceHost {
  nodeId: string
  rooms: Rooms
  broker: Broker
  observers: readonly HubObserver[]
  logger: Logger
  lifecycle: Lifecycle
}

interface LocalMember { meta: Record<string, unknown>, sessions: Set<Session> }

type Meta = Record<string, unknown>

/**
 * Who is in each presence room, on this node and (through the broker's
 * control channel) on the others. A member is an identity key; an anonymous
 * session is its own member under a random key (never its session id, which
 * is a long-poll client's secret). Room events mark members dirty; once per
 * `window` each dirty room is compared with what its members were last told
 * and gets at most one `presence.diff` frame, serialized once for all.
 *
 * Across nodes each node announces its own members: the rooms that changed
 * after each window, everything on every heartbeat and when another node asks
 * (`presence.sync`, sent on start and after a broker reconnect). Others drop
 * a node that has been silent for `ttl`; a node shutting down sends
 * `presence.leaving` and others keep its members for `grace` more, so clients
 * that reconnect elsewhere within it never leave the list.
 *
 * @example
 * const presence = new Presence(hub, resolvePresenceOptions({ rooms: ['lobby'] }))
 * presence.members('lobby') // [{ key: '"ada"', meta: {}, connections: 2 }]
 */
export class Presence {
  private readonly local = new Map<string, Map<string, LocalMember>>()
  private readonly remote: RemoteMembers
  /** What this node's sessions were last told, per room (key → meta). */
  private readonly shown = new Map<string, Map<string, Meta>>()
  private readonly dirty = new Map<string, Set<string>>()
  private readonly toAnnounce = new Set<string>()
  private readonly anonymous = new WeakMap<Session, string>()
  private readonly clustered: boolean
  private flushTimer: NodeJS.Timeout | undefined
  private heartbeatTimer: NodeJS.Timeout | undefined
  private sweepTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (private readonly host: PresenceHost, readonly options: ResolvedPresenceOptions) {
    this.remote = new RemoteMembers((room, key) => { this.markDirty(room, key) })
    this.clustered = typeof host.broker.publishControl === 'function'
    host.rooms.on('joined', (room, session) => { this.joined(room, session) })
    host.rooms.on('left', (room, session) => { this.left(room, session) })
    // Before the transports close their sessions (order 0): others keep our members through the grace period instead of seeing them leave.
    host.lifecycle.add({ name: 'presence', order: -10, requestStop: () => { this.stop() }, finalize: () => { this.close() } })
  }

  /** Whether `room` tracks presence. */
  covers (room: string): boolean {
    return this.options.isPresenceRoom(room)
  }

  /** After the broker started: ask the others for their members, tell them ours, then keep a heartbeat. */
  start (): void {
    if (!this.clustered || this.stopped) return
    this.heartbeatTimer = setInterval(() => { this.announce() }, this.options.heartbeat).unref()
    const sweep = Math.max(10, Math.min(this.options.heartbeat, Math.floor(this.options.ttl / 3)))
    this.sweepTimer = setInterval(() => { this.remote.expire(Date.now()) }, sweep).unref()
    this.resync()
  }

  /** The broker's feed is (back) up: what we knew of others may be stale, and they may have dropped us. */
  resync (): void {
    if (!this.clustered || this.stopped) return
    this.control({ node: this.host.nodeId, type: 'presence.sync' })
    this.announce()
  }

  /** A control message from another node. */
  receive (message: ControlMessage): void {
    if (message.node === this.host.nodeId) return
    const now = Date.now()
    if (message.type === 'presence.announce') {
      if (!this.remote.apply(message, now + this.options.ttl)) this.host.logger.debug({ node: message.node }, 'vix-realtime: malformed presence announcement ignored')
    } else if (message.type === 'presence.leaving') {
      const grace = typeof message.grace === 'number' && message.grace >= 0 ? message.grace : this.options.grace
      this.remote.leaving(message.node, now + Math.min(grace, this.options.ttl))
    } else if (message.type === 'presence.sync') {
      this.announce()
    }
  }

  /** The members of `room` across the cluster (empty when the room has no presence). */
  members (room: string): PresenceMember[] {
    const byKey = new Map<string, PresenceMember>()
    const members = this.local.get(room)
    if (members !== undefined) for (const [key, member] of members) byKey.set(key, { key, meta: member.meta, connections: member.sessions.size })
    this.remote.collect(room, (key, entry) => {
      const known = byKey.get(key)
      if (known === undefined) byKey.set(key, { key, meta: entry.meta, connections: entry.connections })
      else known.connections += entry.connections
    })
    return [...byKey.values()]
  }

  /** The `presence.state` frame a session gets after the ack of its join (undefined: no presence in `room`). */
  stateFrame (room: string): RealtimeMessage | undefined {
    if (!this.covers(room)) return undefined
    return { ...systemFrame('presence.state', { room, members: this.members(room) }), room }
  }

  /** Members shown, summed over rooms (the metrics gauge; a member of two rooms counts twice). */
  get size (): number {
    let total = 0
    for (const members of this.shown.values()) total += members.size
    return total
  }

  /** Phase 1 of shutdown: tell the others to keep our members for `grace`, and announce nothing after it. */
  stop (): void {
    if (this.stopped) return
    if (this.clustered) this.control({ node: this.host.nodeId, type: 'presence.leaving', grace: this.options.grace })
    this.stopped = true
    clearInterval(this.heartbeatTimer)
  }

  close (): void {
    this.stop()
    clearTimeout(this.flushTimer)
    clearInterval(this.sweepTimer)
    this.flushTimer = undefined
  }

  private keyOf (session: Session): string {
    if (session.identityKey !== undefined) return session.identityKey
    let key = this.anonymous.get(session)
    if (key === undefined) {
      key = `anon:${randomBytes(12).toString('base64url')}`
      this.anonymous.set(session, key)
    }
    return key
  }

  private joined (room: string, session: Session): void {
    if (!this.covers(room)) return
    const key = this.keyOf(session)
    let members = this.local.get(room)
    if (members === undefined) {
      members = new Map()
      this.local.set(room, members)
    }
    const member = members.get(key)
    if (member === undefined) {
      members.set(key, { meta: this.metaOf(session), sessions: new Set([session]) })
      this.markDirty(room, key)
    } else {
      member.sessions.add(session)
    }
    this.markAnnounce(room)
  }

  private left (room: string, session: Session): void {
    const members = this.local.get(room)
    const key = this.keyOf(session)
    const member = members?.get(key)
    if (members === undefined || member === undefined || !member.sessions.delete(session)) return
    this.markAnnounce(room)
    if (member.sessions.size !== 0) return
    members.delete(key)
    if (members.size === 0) this.local.delete(room)
    this.markDirty(room, key)
  }

  private metaOf (session: Session): Meta {
    const meta = this.options.meta
    if (meta === undefined) return {}
    try {
      const value = meta(session.identity, session)
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}
    } catch (error) {
      this.host.logger.error({ err: error }, 'vix-realtime: presence meta failed; the member shows {}')
      return {}
    }
  }

  private markDirty (room: string, key: string): void {
    let keys = this.dirty.get(room)
    if (keys === undefined) {
      keys = new Set()
      this.dirty.set(room, keys)
    }
    keys.add(key)
    this.schedule()
  }

  private markAnnounce (room: string): void {
    if (!this.clustered || this.stopped) return
    this.toAnnounce.add(room)
    this.schedule()
  }

  private schedule (): void {
    this.flushTimer ??= setTimeout(() => { this.flush() }, this.options.window).unref()
  }

  /** End of a window: announce the rooms that changed, then one diff per room that has one. */
  private flush (): void {
    this.flushTimer = undefined
    if (this.toAnnounce.size !== 0) {
      const rooms = [...this.toAnnounce]
      this.toAnnounce.clear()
      if (!this.stopped) this.announce(rooms)
    }
    const dirty = [...this.dirty]
    this.dirty.clear()
    for (const [room, keys] of dirty) this.diff(room, keys)
  }

  private diff (room: string, keys: Set<string>): void {
    let shown = this.shown.get(room)
    const joins: Array<{ key: string, meta: Meta }> = []
    const leaves: Array<{ key: string }> = []
    for (const key of keys) {
      const meta = this.local.get(room)?.get(key)?.meta ?? this.remote.meta(room, key)
      const was = shown?.has(key) === true
      if (meta !== undefined && !was) {
        shown ??= new Map()
        shown.set(key, meta)
        joins.push({ key, meta })
      } else if (meta === undefined && was) {
        shown?.delete(key)
        leaves.push({ key })
      }
    }
    if (shown === undefined || shown.size === 0) this.shown.delete(room)
    else this.shown.set(room, shown)
    const recipients = this.host.rooms.sessionsIn(room)
    if (joins.length + leaves.length === 0 || recipients === undefined) return
    // One serialization for every member of the room.
    const data = JSON.stringify({ ...systemFrame('presence.diff', { room, joins, leaves }), room })
    let sent = 0
    for (const session of recipients) if (session.sendSerialized(data)) sent++
    countOutbound(this.host.observers, sent)
    for (const observer of this.host.observers) observer.presenceDiffs?.(sent)
  }

  /** Tell the others our members: of `rooms` (an empty list clears a room there), or of every room when absent. */
  private announce (rooms?: string[]): void {
    if (this.stopped) return
    const listed: Record<string, AnnouncedMember[]> = {}
    for (const room of rooms ?? this.local.keys()) {
      const members = this.local.get(room)
      listed[room] = members === undefined ? [] : [...members].map(([key, member]) => [key, member.meta, member.sessions.size])
    }
    this.control({ node: this.host.nodeId, type: 'presence.announce', full: rooms === undefined, rooms: listed })
  }

  private control (message: ControlMessage): void {
    // debug: during a broker outage every heartbeat fails, and the broker already logs the outage once.
    callSafely(() => this.host.broker.publishControl?.(message), (error) => {
      this.host.logger.debug({ err: error }, 'vix-realtime: presence announcement failed; the next heartbeat repairs it')
    })
  }
}
