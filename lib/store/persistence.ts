import type { Envelope } from '../broker/types.js'
import type { PersistResult, Persistence } from '../hub/pipeline.js'
import type { HubObserver, Logger, RecoveryResult } from '../hub/types.js'
import { countOutbound } from '../hub/observers.js'
import type { RealtimeMessage } from '../frames.js'
import type { Rooms } from '../rooms.js'
import type { Session } from '../session.js'
import { RoomStreams, withPosition, type HoldOptions } from './room-streams.js'
import type { MessageStore, StorableMessage } from './types.js'

/** Which messages are stored: a predicate, or lists of rooms and/or types (a message must match every list given). */
export type PersistFilter = ((message: RealtimeMessage) => boolean) | { rooms?: string[], types?: string[] }

export interface StorePersistenceOptions {
  /** Most messages one `room.join` replays; further back is `recovered: false` (default 1000). */
  replayLimit?: number
  /** Default: every room message. */
  persist?: PersistFilter
  /** How a room's later messages are held while a hole in it cannot be read from the store (see `HoldOptions`). */
  hold?: Partial<HoldOptions>
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

/** What the store's persistence needs of the hub: the room registry, local delivery, one-session sends, observers. */
export interface PersistenceParts {
  rooms: Rooms
  /** Deliver an already stored envelope to this node's sessions. */
  deliverLocal: (envelope: Envelope) => number
  /** Send one frame to one session (counted as outbound). */
  send: (session: Session, frame: RealtimeMessage) => boolean
  observers: readonly HubObserver[]
  logger: Logger
}

/**
 * Plugs a `MessageStore` into the hub's publish pipeline (`hub.persistence`):
 * room messages are stored before they are delivered or acked; the room
 * streams (`RoomStreams`, the one owner of "exactly once, in order") hand
 * stored messages to local sessions in offset order and bring a joining
 * session up to date from `since`, with no gap and no duplicate.
 *
 * @example
 * hub.attachPersistence(new StorePersistence(hub.persistenceParts(), new SqliteMessageStore({ path }), { replayLimit: 500 }))
 */
export class StorePersistence implements Persistence {
  readonly shouldPersist: (message: RealtimeMessage) => boolean
  readonly replayLimit: number
  private readonly streams: RoomStreams
  /** Told of every stored envelope handed to local sessions (the transactional doorbell's latency). */
  onDelivered: ((envelope: Envelope) => void) | null = null

  constructor (private readonly parts: PersistenceParts, readonly store: MessageStore, options: StorePersistenceOptions = {}) {
    this.shouldPersist = persistPredicate(options.persist)
    this.replayLimit = options.replayLimit ?? 1000
    const { rooms, observers } = parts
    this.streams = new RoomStreams({
      store,
      logger: parts.logger,
      members: (room) => rooms.sessionsIn(room),
      deliver: (envelope) => { parts.deliverLocal(envelope); this.onDelivered?.(envelope) },
      send: (session, frame) => parts.send(session, frame),
      outbound: (count) => { countOutbound(observers, count) },
      repaired: (count) => { for (const observer of observers) observer.gapRepaired?.(count) },
      interrupted: (sessions) => { for (const observer of observers) observer.streamInterrupted?.(sessions) }
    }, options.hold)
    rooms.on('created', (room) => { this.streams.open(room) })
    rooms.on('deleted', (room) => { this.streams.close(room) })
    // A gate lives as long as the membership.
    rooms.on('left', (room, session) => { session.gates.delete(room) })
  }

  /** Store one message; its time from this call to its commit (the group-commit wait included) is observed as one append. */
  async persist (message: RealtimeMessage, sender: string): Promise<PersistResult> {
    const started = performance.now()
    const result = await this.store.append(message as StorableMessage, sender)
    const seconds = (performance.now() - started) / 1000
    for (const observer of this.parts.observers) observer.storeAppended?.(1, seconds)
    withPosition(result.message, result.position.offset, result.position.epoch)
    return { duplicate: result.duplicate, message: result.message, position: result.position }
  }

  sequence (envelope: Envelope): void {
    this.streams.sequence(envelope)
  }

  resync (): void {
    this.streams.resync()
  }

  /** A doorbell: `offset` of `room` was committed elsewhere (see `RoomStreams.ring`); whether it is still to be delivered here. */
  ring (room: string, offset: number): boolean {
    return this.streams.ring(room, offset)
  }

  async joinWithRecovery (session: Session, room: string, since: string | undefined, join: () => void): Promise<RecoveryResult> {
    try {
      return await this.streams.join(session, room, since, join, this.replayLimit)
    } catch (error) {
      this.parts.rooms.leave(session, room)
      throw error
    }
  }

  close (): void {
    this.streams.stop()
  }
}
