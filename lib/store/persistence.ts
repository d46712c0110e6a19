import type { Envelope } from '../broker/types.js'
import type { Hub, PersistResult, Persistence, RecoveryResult } from '../hub.js'
import type { RealtimeMessage } from '../frames.js'
import type { PreparedFrame } from '../prepared-frame.js'
import type { DeliveryGate, Session } from '../session.js'
import { RoomSequencer } from './sequencer.js'
import type { MessageStore, RoomPosition, StorableMessage } from './types.js'

/** Which messages are stored: a predicate, or lists of rooms and/or types (a message must match every list given). */
export type PersistFilter = ((message: RealtimeMessage) => boolean) | { rooms?: string[], types?: string[] }

export interface StorePersistenceOptions {
  /** Most messages one `room.join` replays; further back is `recovered: false` (default 1000). */
  replayLimit?: number
  /** Default: every room message. */
  persist?: PersistFilter
}

/** Build the `shouldPersist` predicate; only room messages can be stored. */
export function persistPredicate (filter: PersistFilter | undefined): (message: RealtimeMessage) => boolean {
  if (typeof filter === 'function') return (message) => message.room !== undefined && filter(message)
  const rooms = filter?.rooms === undefined ? undefined : new Set(filter.rooms)
  const types = filter?.types === undefined ? undefined : new Set(filter.types)
  return (message) => message.room !== undefined &&
    (rooms === undefined || rooms.has(message.room)) &&
    (types === undefined || types.has(message.type))
}

/**
 * The gate of one session's membership of a stored room. While the room is
 * replayed to the session it holds live deliveries back; then, for as long
 * as the membership lasts, it keeps a watermark (the highest offset the
 * session has) and drops anything at or below it, in whatever order it
 * arrives. Messages that are not stored carry no offset and always pass.
 */
export class ReplayGate implements DeliveryGate {
  // Prepared frames, so a release writes the bytes the rest of the room got.
  private held: Array<{ envelope: Envelope, frame: PreparedFrame }> | null = []
  private watermark = 0
  private epoch: string | null = null

  constructor (private readonly session: Session) {}

  admit (envelope: Envelope, frame: PreparedFrame): boolean {
    if (this.held !== null) {
      this.held.push({ envelope, frame })
      return false
    }
    return this.passes(envelope)
  }

  private passes (envelope: Envelope): boolean {
    if (envelope.offset === undefined) return true
    if (this.epoch !== envelope.epoch) {
      // The room's history was reset: the old watermark means nothing in the new epoch.
      if (this.epoch !== null) this.watermark = 0
      this.epoch = envelope.epoch ?? null
    }
    if (envelope.offset <= this.watermark) return false
    this.watermark = envelope.offset
    return true
  }

  /** The replay is sent, up to `position` (null: the room has no history): deliver what was held back and is newer. Returns how many were sent. */
  release (position: RoomPosition | null): number {
    const held = this.held ?? []
    this.held = null
    if (position !== null) {
      this.watermark = position.offset
      this.epoch = position.epoch
    }
    let sent = 0
    for (const { envelope, frame } of held) {
      if (this.passes(envelope) && this.session.sendPrepared(frame)) sent++
    }
    return sent
  }
}

/**
 * Plugs a `MessageStore` into the hub's publish pipeline (`hub.persistence`):
 * room messages are stored before they are delivered or acked, stored
 * messages reach local sessions in offset order (`RoomSequencer`), and
 * `room.join` with `since` replays what the client missed, with no gap and
 * no duplicate.
 *
 * @example
 * hub.persistence = new StorePersistence(hub, new SqliteMessageStore({ path }), { replayLimit: 500 })
 */
export class StorePersistence implements Persistence {
  readonly shouldPersist: (message: RealtimeMessage) => boolean
  readonly replayLimit: number
  private readonly sequencer: RoomSequencer

  constructor (private readonly hub: Hub, readonly store: MessageStore, options: StorePersistenceOptions = {}) {
    this.shouldPersist = persistPredicate(options.persist)
    this.replayLimit = options.replayLimit ?? 1000
    this.sequencer = new RoomSequencer(store, hub.logger, 1000, (messages) => {
      for (const observer of hub.observers) observer.gapRepaired?.(messages)
    })
    hub.rooms.on('created', (room) => { this.sequencer.open(room) })
    hub.rooms.on('deleted', (room) => { this.sequencer.close(room) })
    // A gate lives as long as the membership.
    hub.rooms.on('left', (room, session) => { session.gates.delete(room) })
  }

  async persist (message: RealtimeMessage, sender: string): Promise<PersistResult> {
    const started = performance.now()
    const result = await this.store.append(message as StorableMessage, sender)
    const seconds = (performance.now() - started) / 1000
    for (const observer of this.hub.observers) observer.storeAppended?.(1, seconds)
    return { duplicate: result.duplicate, message: result.message, position: result.position }
  }

  sequence (envelope: Envelope, deliver: (envelope: Envelope) => void): void {
    this.sequencer.sequence(envelope, deliver)
  }

  resync (deliver: (envelope: Envelope) => void): void {
    this.sequencer.resync(deliver)
  }

  async joinWithRecovery (session: Session, room: string, since: string | undefined, join: () => void): Promise<RecoveryResult> {
    const gate = new ReplayGate(session)
    session.gates.set(room, gate)
    // Join first, then read: a message committed after the read reaches the
    // gate as a live delivery, one committed before it is in the read. The
    // node's order of the room is known first, so the read is never older than it.
    join()
    try {
      await this.sequencer.ready(room)
      if (since === undefined) {
        const head = await this.store.latest(room)
        this.countOutbound(gate.release(head))
        return { recovered: false, replayed: 0, latestId: head?.id ?? null }
      }
      const replay = await this.store.replayFrom(room, since, this.replayLimit)
      if (!replay.recovered) {
        this.countOutbound(gate.release(replay.head))
        return { recovered: false, replayed: 0, latestId: replay.head?.id ?? null }
      }
      let sent = 0
      for (const { message } of replay.messages) if (session.send(message)) sent++
      const last = replay.messages[replay.messages.length - 1]
      sent += gate.release(last === undefined ? replay.after : { offset: last.offset, epoch: replay.after.epoch })
      this.countOutbound(sent)
      return { recovered: true, replayed: replay.messages.length, latestId: last?.message.id ?? since }
    } catch (error) {
      this.hub.leave(session, room)
      throw error
    }
  }

  private countOutbound (count: number): void {
    if (count === 0) return
    for (const observer of this.hub.observers) observer.messagesOutbound?.(count)
  }
}
