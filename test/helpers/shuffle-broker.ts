import type { Broker, Envelope } from '../../lib/broker/types.js'

/** A small deterministic PRNG (mulberry32), so a failing shuffle can be replayed from its seed. */
export function seeded (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface Member { node: string, deliver: (envelope: Envelope) => void, rooms: Set<string> }

/**
 * An in-memory network between hubs that behaves like a bad pub/sub: every
 * envelope goes over JSON (so only explicit fields survive), reaches the
 * other members subscribed to its room after a random delay (so envelopes
 * overtake each other), and is sometimes delivered twice, sometimes also
 * back to its sender. Nothing is lost: loss is repaired from the store, and
 * this bus is about order and duplicates.
 */
export class ShuffleBus {
  private readonly members: Member[] = []
  private pending = 0
  private idleWaiters: Array<() => void> = []
  delivered = 0
  duplicated = 0

  constructor (private readonly random: () => number, private readonly maxDelay = 15, private readonly duplicateRate = 0.3) {}

  /** A broker for one hub (give it as `HubOptions.broker`). */
  broker (node: string): Broker {
    const member: Member = { node, deliver: () => {}, rooms: new Set() }
    this.members.push(member)
    return {
      start: (deliver) => { member.deliver = deliver },
      publish: (envelope) => { this.send(member, envelope) },
      subscribe: async (room) => {
        // Subscriptions take a while, like a SUBSCRIBE round trip.
        await new Promise((resolve) => setTimeout(resolve, Math.floor(this.random() * this.maxDelay)))
        member.rooms.add(room)
      },
      unsubscribe: (room) => { member.rooms.delete(room) },
      close: () => { member.rooms.clear() }
    }
  }

  private send (from: Member, envelope: Envelope): void {
    const wire = JSON.stringify(envelope)
    for (const member of this.members) {
      if (envelope.room !== undefined && !member.rooms.has(envelope.room)) continue
      // Its own echo comes back too, sometimes: the hub must ignore it.
      if (member === from && this.random() > 0.5) continue
      const copies = this.random() < this.duplicateRate ? 2 : 1
      if (copies === 2) this.duplicated++
      for (let i = 0; i < copies; i++) this.later(member, wire)
    }
  }

  private later (member: Member, wire: string): void {
    this.pending++
    setTimeout(() => {
      this.pending--
      this.delivered++
      member.deliver(JSON.parse(wire) as Envelope)
      if (this.pending === 0) for (const wake of this.idleWaiters.splice(0)) wake()
    }, Math.floor(this.random() * this.maxDelay))
  }

  /** Resolves once nothing is in transit. */
  async idle (): Promise<void> {
    if (this.pending === 0) return
    await new Promise<void>((resolve) => { this.idleWaiters.push(resolve) })
  }
}
