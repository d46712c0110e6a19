import type { Envelope } from '../broker/types.js'
import { ErrorCodes, codedError } from '../errors.js'
import { interruptedFrame, type RealtimeMessage } from '../frames.js'
import type { Logger } from '../hub/types.js'
import { decodePosition, encodePosition, sameEpoch } from '../position.js'
import type { Session } from '../session.js'
import { MemberGate } from './member-gate.js'
import type { MessageStore, RoomHead, RoomPosition } from './types.js'

/** How a node holds a room's stream behind a hole it cannot read yet. */
export interface HoldOptions {
  /** Most envelopes held behind one hole per room before its members are told the stream broke (default 10000). */
  maxHeld: number
  /** Longest a hole may stay open, in ms, before the room's members are told the stream broke (default 30000). */
  maxHoldMs: number
  /** First retry of a failed store read, in ms; doubles per failure (default 50). */
  retryMin: number
  /** Longest wait between two retries, in ms (default 2000). */
  retryMax: number
  /** How often, in ms, every room with local members compares its stream with the store's head, so a lost tail is noticed without a next message (default 10000; 0: never). */
  checkInterval: number
}

export const defaultHoldOptions: HoldOptions = { maxHeld: 10_000, maxHoldMs: 30_000, retryMin: 50, retryMax: 2000, checkInterval: 10_000 }

/** Result of joining a room with recovery (the `room.join` ack's payload). */
export interface JoinRecovery {
  recovered: boolean
  replayed: number
  latestId: string | null
  /** The wire position after which this session's live stream of the room continues (null: the room has no stored message). */
  pos: string | null
}

/** What the room streams need from the hub. */
export interface RoomStreamParts {
  store: MessageStore
  logger: Logger
  /** The local members of a room. */
  members: (room: string) => Iterable<Session> | undefined
  /** Hand an envelope, in order, to the room's local sessions (the pipeline's deliver-locally stage). */
  deliver: (envelope: Envelope) => void
  /** Send one frame to one session, counted as outbound. */
  send: (session: Session, frame: RealtimeMessage) => boolean
  /** `count` frames were sent without `send` (held live deliveries released by a member's gate). */
  outbound: (count: number) => void
  /** `count` stored messages were read from the store to fill a hole. */
  repaired: (count: number) => void
  /** A room's stream broke on this node: `sessions` members were told. */
  interrupted: (sessions: number) => void
}

interface RoomOrder {
  readonly room: string
  /** The head was read: `last` and `epoch` mean something. */
  known: boolean
  /** Offset of the last envelope handed on in order (0: none in this epoch). */
  last: number
  epoch: string | null
  /** Envelopes above `last`, waiting for the ones below them. */
  pending: Map<number, Envelope>
  /** Read the store up to its head (after a broker break, or on the periodic check). */
  catchUp: boolean
  /** A doorbell rang while a read was in flight, which may not see its commit: read once more after it. */
  rang: boolean
  /** A store read is in flight, or a retry is scheduled. */
  busy: boolean
  /** When the current hold began (ms), null while nothing is held. */
  holdSince: number | null
  /** Failed reads in a row. */
  failures: number
  timer: ReturnType<typeof setTimeout> | null
  /** Joins waiting for the head to be read. */
  waiters: Array<() => void>
}

/** A message with its wire position set (`pos`): what members receive. */
export function withPosition (message: RealtimeMessage, offset: number, epoch: string): RealtimeMessage {
  message.pos = encodePosition(offset, epoch)
  return message
}

function positionOf (head: RoomHead | RoomPosition | null): string | null {
  return head === null ? null : encodePosition(head.offset, head.epoch)
}

/**
 * The one owner of "exactly once, in order" for stored rooms on this node.
 *
 * The contract:
 * - Every stored envelope of a room with local members is handed to
 *   `deliver` exactly once per offset, in offset order, whatever order
 *   envelopes arrive in (other nodes' may overtake, be lost or come twice).
 * - A hole (an offset that did not arrive) is read from the store. While the
 *   read fails, the room's later envelopes are held and the read is retried
 *   with capped backoff; an offset is never skipped silently. Past the hold
 *   bound (`maxHeld` envelopes or `maxHoldMs`) every local member is sent a
 *   `room.interrupted` system frame (`VIX_ERR_STREAM_BROKEN`) and its live
 *   stream of the room stops until it joins again with `since`; only then
 *   does the node go on past the hole.
 * - A member's gate (`MemberGate`) holds live deliveries while the member is
 *   replayed, then passes each offset once, contiguously: a member never
 *   receives a hole without being told.
 * - `join` answers `recovered: true` only when every offset after `since`
 *   reached the session (replayed, then live from there with no gap).
 */
export class RoomStreams {
  private readonly orders = new Map<string, RoomOrder>()
  private readonly hold: HoldOptions
  private checker: ReturnType<typeof setInterval> | null = null
  private outage = false

  constructor (private readonly parts: RoomStreamParts, hold: Partial<HoldOptions> = {}, private readonly pageSize = 1000) {
    this.hold = { ...defaultHoldOptions, ...hold }
    if (this.hold.checkInterval > 0) {
      this.checker = setInterval(() => { this.resync() }, this.hold.checkInterval)
      this.checker.unref()
    }
  }

  /** A room got its first local member: read where its history ends, holding deliveries until then. */
  open (room: string): void {
    const order: RoomOrder = { room, known: false, last: 0, epoch: null, pending: new Map(), catchUp: false, rang: false, busy: false, holdSince: null, failures: 0, timer: null, waiters: [] }
    this.orders.set(room, order)
    this.read(order)
  }

  /** The room lost its last local member. */
  close (room: string): void {
    const order = this.orders.get(room)
    if (order === undefined) return
    this.orders.delete(room)
    if (order.timer !== null) clearTimeout(order.timer)
    for (const wake of order.waiters.splice(0)) wake()
  }

  /** Stop the periodic check and every retry. */
  stop (): void {
    if (this.checker !== null) clearInterval(this.checker)
    this.checker = null
    for (const room of [...this.orders.keys()]) this.close(room)
  }

  /**
   * Envelopes may have been lost (the broker's feed broke, or the periodic
   * check): read every open room up to the store's head before delivering anything newer.
   */
  resync (): void {
    for (const order of this.orders.values()) {
      order.catchUp = true
      this.flush(order)
    }
  }

  /** A doorbell: `offset` of `room` was committed; read the room by position from its last delivered offset. Whether it is still to be delivered here. */
  ring (room: string, offset: number): boolean {
    const order = this.orders.get(room)
    if (order === undefined || (order.known && offset <= order.last)) return false
    order.catchUp = true
    order.rang ||= order.busy
    this.flush(order)
    return true
  }

  /** Hand a positioned envelope on in offset order, exactly once. */
  sequence (envelope: Envelope): void {
    const order = this.orders.get(envelope.room as string)
    // No local member: only resolver recipients, nothing to order for.
    if (order === undefined) {
      this.parts.deliver(envelope)
      return
    }
    const offset = envelope.offset as number
    if (order.known && envelope.epoch === order.epoch && offset <= order.last) return
    // Another epoch: the store says which one is current (a reset, or a stale copy).
    if (order.known && order.epoch !== null && envelope.epoch !== order.epoch) order.catchUp = true
    order.pending.set(offset, envelope)
    // Memory is bounded even while a read is in flight.
    if (order.pending.size > this.hold.maxHeld) this.interrupt(order)
    else this.flush(order)
  }

  /** Deliver what is contiguous; read the store for a hole or a catch-up. */
  private flush (order: RoomOrder): void {
    if (!order.known) return
    for (const [offset, envelope] of order.pending) {
      const current = order.epoch === null || envelope.epoch === order.epoch
      // A copy of another epoch is kept only until a catch-up read says which epoch is current.
      if (current ? offset <= order.last : !order.catchUp) order.pending.delete(offset)
    }
    let next = order.pending.get(order.last + 1)
    while (next !== undefined && (order.epoch === null || next.epoch === order.epoch)) {
      order.pending.delete(order.last + 1)
      order.last++
      order.epoch ??= next.epoch ?? null
      this.parts.deliver(next)
      next = order.pending.get(order.last + 1)
    }
    if (order.pending.size === 0) {
      order.holdSince = null
      if (order.catchUp && !order.busy) this.read(order)
      return
    }
    order.holdSince ??= Date.now()
    if (this.overBound(order)) this.interrupt(order)
    // A copy that arrives while a read is in flight (or a retry waits) is delivered above, when it fits; the read goes on.
    else if (!order.busy) this.read(order)
  }

  private overBound (order: RoomOrder): boolean {
    if (order.holdSince === null || order.pending.size === 0) return false
    return order.pending.size > this.hold.maxHeld || Date.now() - order.holdSince > this.hold.maxHoldMs
  }

  /** One store read for the room: its head when not known yet, else what follows `last`. */
  private read (order: RoomOrder): void {
    order.busy = true
    const attempt = order.known ? this.readAfter(order) : this.readHead(order)
    attempt.then((progressed) => {
      order.busy = false
      if (this.orders.get(order.room) !== order) return
      if (order.failures > 0) this.parts.logger.info?.({ room: order.room }, 'vix-realtime: the room\'s history is readable again; its stream goes on')
      order.failures = 0
      if (this.outage) this.outage = false
      this.wake(order)
      // Still a hole the store cannot fill yet (a read that found nothing new): wait before reading again.
      if (!progressed && order.pending.size > 0) this.retry(order)
      else this.flush(order)
    }, (error: unknown) => {
      order.busy = false
      if (this.orders.get(order.room) !== order) return
      if (order.failures++ === 0 && !this.outage) {
        this.outage = true
        this.parts.logger.error({ err: error, room: order.room, code: ErrorCodes.STORE_UNAVAILABLE }, 'vix-realtime: cannot read a room\'s history; holding its later messages and retrying')
      }
      this.wake(order)
      if (this.overBound(order)) this.interrupt(order)
      else this.retry(order)
    })
  }

  private retry (order: RoomOrder): void {
    order.busy = true
    const backoff = Math.min(this.hold.retryMax, this.hold.retryMin * 2 ** Math.min(order.failures, 16))
    order.timer = setTimeout(() => {
      order.timer = null
      order.busy = false
      if (this.orders.get(order.room) !== order) return
      if (!order.known) this.read(order)
      else this.flush(order)
    }, backoff * (0.5 + Math.random() / 2))
    order.timer.unref?.()
  }

  private async readHead (order: RoomOrder): Promise<boolean> {
    const head = await this.parts.store.latest(order.room)
    order.known = true
    order.last = head?.offset ?? 0
    order.epoch = head?.epoch ?? null
    return true
  }

  /** Read and deliver what follows `last`, page by page; returns whether anything was delivered. */
  private async readAfter (order: RoomOrder): Promise<boolean> {
    const { room } = order
    let delivered = 0
    for (;;) {
      const range = await this.parts.store.readAfter(room, order.last, this.pageSize)
      if (this.orders.get(room) !== order) return false
      if (range.epoch === null) break
      if (order.epoch !== null && range.epoch !== order.epoch) {
        this.parts.logger.warn({ room, epoch: range.epoch }, 'vix-realtime: a room\'s history epoch changed; ordering it from the start')
        order.epoch = range.epoch
        order.last = 0
        continue
      }
      order.epoch = range.epoch
      const first = range.messages[0]
      // Retention pruned the offsets between: they are gone, and the members must hear of it.
      if (first !== undefined && first.offset > order.last + 1) this.interruptMembers(order)
      for (const { offset, message } of range.messages) {
        if (offset <= order.last) continue
        order.last = offset
        delivered++
        this.parts.deliver({ node: 'store', room, offset, epoch: range.epoch, message: withPosition(message, offset, range.epoch) })
      }
      if (range.messages.length < this.pageSize) break
    }
    order.catchUp = order.rang; order.rang = false
    // Copies that arrived meanwhile are older than what was read.
    for (const offset of order.pending.keys()) if (offset <= order.last) order.pending.delete(offset)
    const repaired = delivered
    if (repaired > 0) this.parts.repaired(repaired)
    return repaired > 0
  }

  private wake (order: RoomOrder): void {
    for (const wake of order.waiters.splice(0)) wake()
  }

  /** Past the hold bound: tell the members, then go on from what is held (their gates are closed until they rejoin). */
  private interrupt (order: RoomOrder): void {
    this.parts.logger.error({ room: order.room, held: order.pending.size, code: ErrorCodes.STREAM_BROKEN }, 'vix-realtime: a room\'s missing messages could not be read in time; its members were told to rejoin')
    this.interruptMembers(order)
    if (order.timer !== null) clearTimeout(order.timer)
    order.timer = null
    order.busy = false
    order.catchUp = false
    const lowest = Math.min(...order.pending.keys())
    const envelope = order.pending.get(lowest) as Envelope
    order.known = true
    order.epoch = envelope.epoch ?? order.epoch
    order.last = lowest - 1
    order.holdSince = null
    this.flush(order)
  }

  private interruptMembers (order: RoomOrder): void {
    const members = this.parts.members(order.room)
    if (members === undefined) return
    const pos = order.epoch === null || order.last === 0 ? null : encodePosition(order.last, order.epoch)
    let told = 0
    for (const session of members) {
      const gate = session.gates.get(order.room)
      if (gate instanceof MemberGate) gate.break()
      if (this.parts.send(session, interruptedFrame(order.room, pos))) told++
    }
    this.parts.interrupted(told)
  }

  /** Resolves once the room's head is known; throws `VIX_ERR_STORE_UNAVAILABLE` when it cannot be read now. */
  private async known (room: string): Promise<void> {
    const order = this.orders.get(room)
    if (order === undefined || order.known) return
    await new Promise<void>((resolve) => order.waiters.push(resolve))
    if (!order.known && this.orders.get(room) === order) throw codedError(ErrorCodes.STORE_UNAVAILABLE, 'cannot read the room\'s history')
  }

  /**
   * Join `session` to `room` (by calling `join`) and bring it up to date
   * from `since` (a wire position, or a message id) with no gap and no
   * duplicate. The member's gate holds live deliveries meanwhile.
   */
  async join (session: Session, room: string, since: string | undefined, join: () => void, replayLimit: number): Promise<JoinRecovery> {
    const gate = new MemberGate(session, (frame) => this.parts.send(session, frame))
    session.gates.set(room, gate)
    // Join first, then read: a message committed after the read reaches the
    // gate as a live delivery, one committed before it is in the read. The
    // node's order of the room is known first, so the read is never older than it.
    join()
    await this.known(room)
    const { store } = this.parts
    if (since !== undefined) {
      const position = decodePosition(since)
      if (position !== null) {
        const range = await store.readAfter(room, position.offset, replayLimit + 1)
        if (range.epoch !== null && sameEpoch(position, range.epoch)) {
          const first = range.messages[0]
          const after = { offset: position.offset, epoch: range.epoch }
          if (first === undefined) {
            // Nothing after it when read: recovered unless it is beyond the head. A message committed
            // since the read (the head moved on) reaches the gate live, as the gate was set before the read.
            const head = await store.latest(room)
            if (head !== null && head.epoch === range.epoch && head.offset >= position.offset) return this.replay(session, gate, [], after, head.id)
            return this.released(gate, head, false)
          }
          if (first.offset === position.offset + 1 && range.messages.length <= replayLimit) return this.replay(session, gate, range.messages, after, null)
          return await this.unrecovered(gate, room)
        }
      }
      const replay = await store.replayFrom(room, since, replayLimit)
      if (replay.recovered) return this.replay(session, gate, replay.messages, replay.after, since)
      return this.released(gate, replay.head, false)
    }
    return await this.unrecovered(gate, room)
  }

  private async unrecovered (gate: MemberGate, room: string): Promise<JoinRecovery> {
    return this.released(gate, await this.parts.store.latest(room), false)
  }

  private released (gate: MemberGate, head: RoomHead | null, recovered: boolean): JoinRecovery {
    this.parts.outbound(gate.release(head))
    return { recovered, replayed: 0, latestId: head?.id ?? null, pos: positionOf(head) }
  }

  /** `sinceId`: the id of the message at `after`, when known (the ack's `latestId` when nothing follows it). */
  private replay (session: Session, gate: MemberGate, messages: Array<{ offset: number, message: RealtimeMessage }>, after: RoomPosition, sinceId: string | null): JoinRecovery {
    let position = after
    let sent = 0
    for (const { offset, message } of messages) {
      if (session.send(withPosition(message, offset, after.epoch))) sent++
      position = { offset, epoch: after.epoch }
    }
    // Replayed and released frames are counted as one batch.
    this.parts.outbound(sent + gate.release(position))
    const last = messages[messages.length - 1]
    return { recovered: true, replayed: messages.length, latestId: last?.message.id ?? sinceId, pos: positionOf(position) }
  }
}
