import { offsetOf, positionOf, type Delivery, type SentMessage } from './clients.js'

/** A stored message as `GET /ws/history` returns it. */
export interface StoredMessage { id: string, room?: string, pos?: string, [key: string]: unknown }

/**
 * A room's whole history from one node, oldest first: pages of `limit`
 * newest-first walked back with `before` (the one direction that needs no
 * starting id) until `hasMore` is false.
 */
export async function fetchHistory (base: string, room: string, name: string, limit = 500): Promise<StoredMessage[]> {
  const pages: StoredMessage[][] = []
  let before: string | undefined
  for (;;) {
    const url = new URL('/ws/history', base)
    url.searchParams.set('room', room)
    url.searchParams.set('limit', String(limit))
    url.searchParams.set('name', name)
    if (before !== undefined) url.searchParams.set('before', before)
    const response = await fetch(url, { signal: AbortSignal.timeout(15_000) })
    if (response.status !== 200) throw new Error(`GET ${url.pathname}${url.search} on ${base}: ${response.status} ${await response.text()}`)
    const page = await response.json() as { messages: StoredMessage[], hasMore: boolean }
    pages.unshift(page.messages)
    if (!page.hasMore || page.messages.length === 0) break
    before = page.messages[0].id
  }
  return pages.flat()
}

/** What one reader got in one room, against the room's history. */
export interface RoomDelivery { reader: string, room: string, deliveries: readonly Delivery[] }

export interface CheckInput {
  rooms: readonly string[]
  /** Every message a writer published at least once, by id. */
  sent: ReadonlyMap<string, SentMessage>
  /** The history of each room on each node: `histories[node][room]`. */
  histories: ReadonlyArray<ReadonlyMap<string, readonly StoredMessage[]>>
  readers: readonly RoomDelivery[]
}

export interface CheckResult {
  sent: number
  acked: number
  /** Acks that said `duplicate: true` (a resend of a message already stored). */
  duplicateAcks: number
  stored: number
  /** Acked ids absent from the history (lost by the store, or never stored). */
  ackedNotStored: number
  /** Stored ids that no writer's publish was acked for (an ack lost to a fault): allowed. */
  storedNotAcked: number
  /** The same id stored twice in a room. */
  storedTwice: number
  /** Deliveries to readers that should have happened: acked messages of each reader's rooms. */
  expected: number
  delivered: number
  /** Acked messages that a reader of their room never got. */
  missing: number
  /** Stored but unacked messages a reader of their room never got (a hole all the same; not promised). */
  missingUnacked: number
  duplicated: number
  /** Deliveries that came after a message stored later (history order). */
  outOfOrder: number
  /** Deliveries of an id the history does not hold. */
  unknown: number
  historyIdentical: boolean
  historyDiffs: string[]
  /** Whether history messages carry `pos`; when they do, whether offsets are 1..n in history order. */
  positions: 'absent' | 'dense' | 'holes'
  positionProblems: string[]
  /** Up to a few examples per problem, for the report. */
  examples: string[]
}

const EXAMPLES = 20

/**
 * The promise, checked: every acked message reached every reader of its room
 * exactly once, in the room's order (history order, which is offset order);
 * the history is the same on every node, and its positions are dense.
 */
export function check (input: CheckInput): CheckResult {
  const examples: string[] = []
  const example = (text: string): void => { if (examples.length < EXAMPLES) examples.push(text) }
  const reference = input.histories[0]
  const result: CheckResult = {
    sent: input.sent.size,
    acked: 0,
    duplicateAcks: 0,
    stored: 0,
    ackedNotStored: 0,
    storedNotAcked: 0,
    storedTwice: 0,
    expected: 0,
    delivered: 0,
    missing: 0,
    missingUnacked: 0,
    duplicated: 0,
    outOfOrder: 0,
    unknown: 0,
    historyIdentical: true,
    historyDiffs: [],
    positions: 'absent',
    positionProblems: [],
    examples
  }
  const ackedByRoom = new Map<string, Set<string>>(input.rooms.map((room) => [room, new Set()]))
  for (const message of input.sent.values()) {
    if (message.ackedAt === undefined) continue
    result.acked++
    if (message.duplicateAck === true) result.duplicateAcks++
    ackedByRoom.get(message.room)?.add(message.id)
  }

  // History: stored once, identical on every node, positions dense.
  const order = new Map<string, Map<string, number>>()
  let sawPositions = false
  for (const room of input.rooms) {
    const history = reference.get(room) ?? []
    const index = new Map<string, number>()
    for (const [i, message] of history.entries()) {
      if (index.has(message.id)) {
        result.storedTwice++
        example(`${room}: ${message.id} stored twice`)
      } else index.set(message.id, i)
      const pos = positionOf(message)
      if (pos !== undefined) {
        sawPositions = true
        if (offsetOf(pos) !== i + 1) result.positionProblems.push(`${room}: message ${i + 1} (${message.id}) has pos ${pos}`)
      } else if (sawPositions) result.positionProblems.push(`${room}: message ${i + 1} (${message.id}) has no pos`)
    }
    order.set(room, index)
    result.stored += history.length
    const acked = ackedByRoom.get(room) as Set<string>
    for (const id of acked) {
      if (!index.has(id)) {
        result.ackedNotStored++
        example(`${room}: acked ${id} is not in the history`)
      }
    }
    for (const id of index.keys()) if (!acked.has(id)) result.storedNotAcked++
    const text = JSON.stringify(history)
    for (const [node, histories] of input.histories.entries()) {
      if (node === 0 || JSON.stringify(histories.get(room) ?? []) === text) continue
      result.historyIdentical = false
      result.historyDiffs.push(`${room}: node ${node}'s history (${histories.get(room)?.length ?? 0} messages) differs from node 0's (${history.length})`)
    }
  }
  result.positions = !sawPositions ? 'absent' : result.positionProblems.length === 0 ? 'dense' : 'holes'

  // Readers: each room's deliveries against that room's history.
  for (const { reader, room, deliveries } of input.readers) {
    const index = order.get(room) ?? new Map<string, number>()
    const acked = ackedByRoom.get(room) ?? new Set<string>()
    const seen = new Set<string>()
    let highest = -1
    result.expected += acked.size
    result.delivered += deliveries.length
    for (const delivery of deliveries) {
      if (seen.has(delivery.id)) {
        result.duplicated++
        example(`${reader} ${room}: ${delivery.id} delivered twice`)
        continue
      }
      seen.add(delivery.id)
      const at = index.get(delivery.id)
      if (at === undefined) {
        result.unknown++
        example(`${reader} ${room}: ${delivery.id} delivered but not in the history`)
        continue
      }
      if (at < highest) {
        result.outOfOrder++
        example(`${reader} ${room}: ${delivery.id} (#${at + 1}) after #${highest + 1}`)
      } else highest = at
    }
    for (const id of acked) {
      if (seen.has(id)) continue
      result.missing++
      example(`${reader} ${room}: acked ${id} (#${(index.get(id) ?? -2) + 1}) never delivered`)
    }
    for (const id of index.keys()) {
      if (!acked.has(id) && !seen.has(id)) result.missingUnacked++
    }
  }
  return result
}
