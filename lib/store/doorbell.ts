import type { Envelope } from '../broker/types.js'
import type { HubObserver } from '../hub/types.js'

/** What the doorbell needs: the room streams' ring, and the observers (metrics). */
export interface DoorbellParts {
  /** Read `room` by position up to `offset`; whether that offset is still to be delivered on this node. */
  ring: (room: string, offset: number) => boolean
  observers: readonly HubObserver[]
}

/**
 * The announcements of committed messages (a PostgreSQL notification, or this
 * node's own commit) turned into reads by position, with the time from the
 * announcement to the delivery observed per message.
 *
 * @example
 * const doorbell = new Doorbell({ ring: (room, offset) => persistence.ring(room, offset), observers })
 * persistence.onDelivered = (envelope) => { doorbell.delivered(envelope) }
 */
export class Doorbell {
  /** When each announced (room, offset) still to be delivered here was heard of (ms). */
  private readonly heard = new Map<string, number>()

  constructor (private readonly parts: DoorbellParts, private readonly maxHeard = 10_000) {}

  /** `offset` of `room` committed; `notified`: heard from the database (counted), else this node's own commit. */
  ring (room: string, offset: number, notified: boolean): void {
    if (notified) for (const observer of this.parts.observers) observer.transactionNotified?.()
    if (!this.parts.ring(room, offset)) return
    const key = `${offset} ${room}`
    // Bounded: an announcement never delivered here (its room emptied meanwhile) is forgotten with the rest.
    if (this.heard.size >= this.maxHeard && !this.heard.has(key)) this.heard.clear()
    if (!this.heard.has(key)) this.heard.set(key, performance.now())
  }

  /** A stored envelope reached the local members: observe its latency when it was announced. */
  delivered (envelope: Envelope): void {
    if (this.heard.size === 0) return
    const key = `${envelope.offset as number} ${envelope.room as string}`
    const at = this.heard.get(key)
    if (at === undefined) return
    this.heard.delete(key)
    const seconds = (performance.now() - at) / 1000
    for (const observer of this.parts.observers) observer.transactionDelivered?.(seconds)
  }
}
