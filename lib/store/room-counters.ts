import { randomUUID } from 'node:crypto'
import type { AppendResult, StorableMessage } from './types.js'

/** A room's offset counter while a batch is committed: read once, advanced in memory per stored message, written back once. */
export interface RoomCounter {
  epoch: string
  /** The room's last offset, advanced by each message of the batch stored so far. */
  last: number
  /** The last offset as read from the database. */
  stored: number
}

/**
 * The room counters of one group-commit batch, inside its write transaction.
 * The store does the I/O (SQLite reads a room's row on first use, PostgreSQL
 * locks every room's row up front); this keeps the steps both share: open a
 * counter once per room, hand out the next offset, and list what to write back.
 *
 * @example
 * const counters = new RoomCounters()
 * const counter = counters.get(room) ?? counters.open(room, roomRow.get(room))
 * const result = insert(message, counters.nextOffset(counter)) ? counters.stored(counter, message) : counters.duplicate(counter, storedMessage, storedOffset)
 * for (const [room, counter] of counters.advanced()) saveRoom(room, counter.epoch, counter.last)
 */
export class RoomCounters {
  private readonly counters = new Map<string, RoomCounter>()

  get (room: string): RoomCounter | undefined {
    return this.counters.get(room)
  }

  /** The room's counter from its stored epoch and last offset; a room with none yet starts at 0 under a new epoch. */
  open (room: string, row: { epoch: string, last: number } | undefined): RoomCounter {
    const counter = row === undefined ? { epoch: randomUUID(), last: 0, stored: 0 } : { epoch: row.epoch, last: row.last, stored: row.last }
    this.counters.set(room, counter)
    return counter
  }

  /** The offset the room's next stored message gets (taken by `stored`). */
  nextOffset (counter: RoomCounter): number {
    return counter.last + 1
  }

  /** `message` was stored at the next offset: advance the counter and answer its position. */
  stored (counter: RoomCounter, message: StorableMessage): AppendResult {
    return { duplicate: false, message, position: { offset: ++counter.last, epoch: counter.epoch } }
  }

  /** The sender already stored this id: answer the stored message and its position; the counter does not move. */
  duplicate (counter: RoomCounter, message: StorableMessage, offset: number): AppendResult {
    return { duplicate: true, message, position: { offset, epoch: counter.epoch } }
  }

  /** The rooms whose counter moved in this batch: each written back once. */
  advanced (): Array<[string, RoomCounter]> {
    return [...this.counters].filter(([, counter]) => counter.last !== counter.stored)
  }
}
