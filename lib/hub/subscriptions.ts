import type { Broker } from '../broker/types.js'
import type { Rooms } from '../rooms.js'
import { callSafely, type Maybe } from './maybe.js'
import type { Logger } from './types.js'

/**
 * This node's broker subscriptions follow its rooms: subscribed when a room
 * gets its first local member, unsubscribed when it loses its last. A
 * broker call that fails is logged, never thrown: local delivery never
 * waits on the broker's health.
 */
export class RoomSubscriptions {
  private readonly pending = new Map<string, Promise<void>>()

  constructor (rooms: Rooms, private readonly broker: Broker, private readonly logger: Logger) {
    rooms.on('created', (room) => { this.subscribe(room) })
    rooms.on('deleted', (room) => { this.unsubscribe(room) })
  }

  /** Resolves once the room's subscription is active (undefined when it already is). */
  ready (room: string): Maybe<void> {
    return this.pending.get(room)
  }

  private subscribe (room: string): void {
    const subscribed = this.call(() => this.broker.subscribe(room), 'subscribe')
    if (subscribed === undefined) return
    const ready = subscribed.finally(() => { if (this.pending.get(room) === ready) this.pending.delete(room) })
    this.pending.set(room, ready)
  }

  private unsubscribe (room: string): void {
    this.pending.delete(room)
    this.call(() => this.broker.unsubscribe(room), 'unsubscribe')
  }

  private call (call: () => void | Promise<void>, what: string): Promise<void> | undefined {
    return callSafely(call, (error) => { this.logger.error({ err: error }, `vix-realtime: broker ${what} failed`) })
  }
}
