import type { Envelope } from '../broker/types.js'
import type { Logger } from '../hub/types.js'
import type { MessageStore } from './types.js'

interface RoomOrder {
  /** Offset of the last envelope handed on (0: none yet in this epoch). */
  last: number
  epoch: string | null
  /** Set while the room's head is being read: deliveries wait for it. */
  ready: Promise<void> | null
  pending: Map<number, Envelope>
  repairing: boolean
  deliver: (envelope: Envelope) => void
}

const ignore = (): void => {}

/**
 * Orders the stored messages of each room with local members before they are
 * delivered: exactly once per offset, in offset order, whatever order
 * envelopes arrive in (another node's may overtake, be lost or come twice).
 * A jump in offsets is filled from the store, which every node shares and
 * which holds every offset below a committed one; an epoch change starts the
 * room's order again. Positions are learnt when a room gets its first local
 * member, from where its history ends then.
 */
export class RoomSequencer {
  private readonly rooms = new Map<string, RoomOrder>()

  /**
   * @param repaired called with how many messages a repair read from the store delivered (a gap filled), for the metrics.
   */
  constructor (
    private readonly store: MessageStore,
    private readonly logger: Logger,
    private readonly repairLimit = 1000,
    private readonly repaired: (messages: number) => void = ignore
  ) {}

  /** A room got its first local member: read where its history ends, holding deliveries until then. */
  open (room: string): void {
    const order: RoomOrder = { last: 0, epoch: null, ready: null, pending: new Map(), repairing: false, deliver: ignore }
    const ready = this.store.latest(room).then((head) => {
      if (head !== null) {
        order.last = head.offset
        order.epoch = head.epoch
      }
    }, (error: unknown) => {
      this.logger.error({ err: error, room }, 'vix-realtime: cannot read where a room\'s history ends; ordering from the next message')
    }).finally(() => {
      order.ready = null
      this.flush(room, order)
    })
    order.ready = ready
    this.rooms.set(room, order)
  }

  /** The room lost its last local member. */
  close (room: string): void {
    this.rooms.delete(room)
  }

  /**
   * The feed of other nodes' envelopes may have lost some (the broker's
   * subscriber reconnected): read what the store has after the last offset
   * handed on, in every open room, and deliver it before anything newer.
   * Deliveries that arrive meanwhile wait, as while a room's head is read.
   */
  resync (deliver: (envelope: Envelope) => void): void {
    for (const [room, order] of this.rooms) {
      order.deliver = deliver
      const previous = order.ready ?? Promise.resolve()
      const ready = previous.then(() => this.catchUp(room, order)).finally(() => {
        if (order.ready === ready) order.ready = null
        if (this.rooms.get(room) === order) this.flush(room, order)
      })
      order.ready = ready
    }
  }

  /** Read and deliver everything after `order.last`, page by page; an epoch change starts the room's order again. */
  private async catchUp (room: string, order: RoomOrder): Promise<void> {
    let delivered = 0
    try {
      for (;;) {
        const range = await this.store.readAfter(room, order.last, this.repairLimit)
        if (this.rooms.get(room) !== order || range.epoch === null) break
        if (order.epoch !== null && range.epoch !== order.epoch) {
          this.restart(order, range.epoch)
          continue
        }
        order.epoch = range.epoch
        for (const { offset, message } of range.messages) {
          if (offset <= order.last) continue
          order.last = offset
          delivered++
          order.deliver({ node: 'store', room, offset, epoch: range.epoch, message })
        }
        if (range.messages.length < this.repairLimit) break
      }
    } catch (error) {
      this.logger.error({ err: error, room }, 'vix-realtime: cannot read a room\'s history after a broker reconnect; the next message repairs the gap')
    }
    if (delivered > 0) this.repaired(delivered)
  }

  /** Resolves once the room's position is known (undefined when it already is, or the room has no local member). */
  ready (room: string): Promise<void> | undefined {
    return this.rooms.get(room)?.ready ?? undefined
  }

  /** Hand `envelope` to `deliver` once every lower offset of its room has been handed on; drop it when it already was. */
  sequence (envelope: Envelope, deliver: (envelope: Envelope) => void): void {
    const room = envelope.room as string
    const offset = envelope.offset as number
    const order = this.rooms.get(room)
    // No local member: only resolver recipients, nothing to order for.
    if (order === undefined) {
      deliver(envelope)
      return
    }
    order.deliver = deliver
    // While the head is being read, everything waits; the flush after it sorts out epochs and duplicates.
    if (order.ready === null) {
      if (order.epoch === null) order.epoch = envelope.epoch ?? null
      else if (envelope.epoch !== order.epoch) this.restart(order, envelope.epoch as string)
      if (offset <= order.last) return
    }
    order.pending.set(offset, envelope)
    this.flush(room, order)
  }

  private restart (order: RoomOrder, epoch: string): void {
    this.logger.warn({ epoch }, 'vix-realtime: a room\'s history epoch changed; ordering it from the start')
    order.epoch = epoch
    order.last = 0
    order.pending.clear()
  }

  private flush (room: string, order: RoomOrder): void {
    if (order.ready !== null || order.repairing) return
    for (const [offset, envelope] of order.pending) {
      if (offset <= order.last || (order.epoch !== null && envelope.epoch !== order.epoch)) order.pending.delete(offset)
    }
    let next = order.pending.get(order.last + 1)
    while (next !== undefined) {
      order.pending.delete(order.last + 1)
      order.last++
      order.epoch ??= next.epoch ?? null
      order.deliver(next)
      next = order.pending.get(order.last + 1)
    }
    if (order.pending.size > 0) this.repair(room, order).catch(() => {})
  }

  /** Read the offsets missing before the lowest pending one from the store, deliver them, then go on. */
  private async repair (room: string, order: RoomOrder): Promise<void> {
    order.repairing = true
    const target = Math.min(...order.pending.keys())
    const before = order.last
    try {
      const range = await this.store.readAfter(room, order.last, Math.min(target - order.last - 1, this.repairLimit))
      if (this.rooms.get(room) !== order) return
      order.epoch ??= range.epoch
      if (range.epoch === order.epoch) {
        for (const { offset, message } of range.messages) {
          if (offset <= order.last || offset >= target) continue
          order.last = offset
          order.deliver({ node: 'store', room, offset, epoch: range.epoch as string, message })
        }
      }
      // Nothing to read (pruned, or another epoch): what is missing cannot be had; go on from what arrived.
      if (order.last === before) order.last = target - 1
      else this.repaired(order.last - before)
    } catch (error) {
      this.logger.error({ err: error, room }, 'vix-realtime: cannot read missing messages from the store; delivering what arrived')
      order.last = target - 1
    } finally {
      order.repairing = false
      if (this.rooms.get(room) === order) this.flush(room, order)
    }
  }
}
