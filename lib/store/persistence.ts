import type { Hub, PersistResult, Persistence, RecoveryResult } from '../hub.js'
import type { RealtimeMessage } from '../frames.js'
import type { DeliveryGate, Session } from '../session.js'
import { kSeq } from '../symbols.js'
import type { MessageStore, StorableMessage } from './types.js'

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
 * Holds back live deliveries of one room to one session while the room is
 * replayed to it, then lets through only what the replay did not carry.
 *
 * Fan-out reaches a session in sequence order (appends commit in order and
 * each publish fans out right after its commit), so once a live message newer
 * than the replay has passed, nothing older can follow and the gate removes itself.
 */
export class ReplayGate implements DeliveryGate {
  private buffered: Array<{ seq: number | undefined, data: string | Buffer }> | null = []
  private watermark = 0

  constructor (private readonly session: Session, private readonly room: string) {}

  admit (seq: number | undefined, data: string | Buffer): boolean {
    if (this.buffered !== null) {
      this.buffered.push({ seq, data })
      return false
    }
    // Unstored messages were never replayed: always deliver them.
    if (seq === undefined) return true
    if (seq <= this.watermark) return false
    this.remove()
    return true
  }

  /** The replay is sent, up to `watermark`: deliver what was held back and is newer. Returns how many were sent. */
  release (watermark: number): number {
    const held = this.buffered ?? []
    this.buffered = null
    this.watermark = watermark
    let sent = 0
    let passedWatermark = false
    for (const { seq, data } of held) {
      if (seq !== undefined && seq <= watermark) continue
      if (seq !== undefined) passedWatermark = true
      if (this.session.sendSerialized(data)) sent++
    }
    if (passedWatermark) this.remove()
    return sent
  }

  remove (): void {
    if (this.session.gates.get(this.room) === this) this.session.gates.delete(this.room)
  }
}

/**
 * Plugs a `MessageStore` into the hub's publish pipeline (`hub.persistence`):
 * room messages are stored before they are fanned out or acked, and
 * `room.join` with `since` replays what the client missed, with no gap and
 * no duplicate.
 *
 * @example
 * hub.persistence = new StorePersistence(hub, new SqliteMessageStore({ path }), { replayLimit: 500 })
 */
export class StorePersistence implements Persistence {
  readonly shouldPersist: (message: RealtimeMessage) => boolean
  readonly replayLimit: number

  constructor (private readonly hub: Hub, readonly store: MessageStore, options: StorePersistenceOptions = {}) {
    this.shouldPersist = persistPredicate(options.persist)
    this.replayLimit = options.replayLimit ?? 1000
  }

  async persist (message: RealtimeMessage): Promise<PersistResult> {
    const started = process.hrtime.bigint()
    const result = await this.store.append(message as StorableMessage)
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    for (const observer of this.hub.observers) observer.storeAppended?.(1, seconds)
    // The fan-out reads the sequence number from here; a symbol key is never serialized.
    const stored: RealtimeMessage & { [kSeq]?: number } = result.message
    stored[kSeq] = result.seq
    return { duplicate: result.duplicate, message: stored }
  }

  async joinWithRecovery (session: Session, room: string, since: string | undefined, join: () => void): Promise<RecoveryResult> {
    const gate = new ReplayGate(session, room)
    session.gates.set(room, gate)
    // Join first, then read: a message committed after the read reaches the
    // gate as a live delivery, one committed before it is in the read.
    join()
    try {
      if (since === undefined) {
        const head = await this.store.latest(room)
        this.countOutbound(gate.release(head?.seq ?? 0))
        return { recovered: false, replayed: 0, latestId: head?.id ?? null }
      }
      const replay = await this.store.replayFrom(room, since, this.replayLimit)
      if (!replay.recovered) {
        this.countOutbound(gate.release(replay.head?.seq ?? 0))
        return { recovered: false, replayed: 0, latestId: replay.head?.id ?? null }
      }
      let sent = 0
      for (const { message } of replay.messages) if (session.send(message)) sent++
      const last = replay.messages[replay.messages.length - 1]
      sent += gate.release(last?.seq ?? replay.afterSeq)
      this.countOutbound(sent)
      return { recovered: true, replayed: replay.messages.length, latestId: last?.message.id ?? since }
    } catch (error) {
      gate.remove()
      this.hub.leave(session, room)
      throw error
    }
  }

  private countOutbound (count: number): void {
    if (count === 0) return
    for (const observer of this.hub.observers) observer.messagesOutbound?.(count)
  }
}
