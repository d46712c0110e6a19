import WebSocket from 'ws'
import { VixClient, type VixMessage } from '../../lib/client/index.js'
import { delay } from '../helpers/wait.js'
import type { Prng } from './prng.js'

/** The type every chaos message has (the example app relays and stores it). */
export const MESSAGE_TYPE = 'chat.message'

/** Where a client can connect: the nodes as the harness sees them now. */
export interface NodeDirectory {
  /** WebSocket URL of node `index`. */
  url: (index: number) => string
  /** Is node `index` serving (not killed, not stopped, not booting)? */
  serving: (index: number) => boolean
  count: number
}

/** A frame of a stored room carries its position (`"<offset>.<tag>"`) once the server sends it. */
type Positioned = VixMessage & { pos?: unknown }

export function positionOf (frame: object): string | undefined {
  const pos = (frame as { pos?: unknown }).pos
  return typeof pos === 'string' ? pos : undefined
}

/** The offset of a wire position, or undefined when there is none or it does not parse. */
export function offsetOf (pos: string | undefined): number | undefined {
  if (pos === undefined) return undefined
  const match = /^(\d+)\./.exec(pos)
  return match === null ? undefined : Number(match[1])
}

/** Lifecycle figures of one client, summed in the report. */
export interface ClientCounters {
  moves: number
  reconnects: number
  rejoins: number
  /** Join acks of a join with `since` that said `recovered: false`. */
  notRecovered: number
  recoveryFailed: number
  /** `gap` events of the client (a hole it detected), when the client emits them. */
  gaps: number
  /** `room.interrupted` system frames (the server's stream of a room broke). */
  interrupted: number
  errors: number
  /** Joins refused or timed out (then tried again). */
  joinFailures: number
  /** Connections to a node that did not open in time: tried another node. */
  connectTimeouts: number
}

const newCounters = (): ClientCounters => ({ moves: 0, reconnects: 0, rejoins: 0, notRecovered: 0, recoveryFailed: 0, gaps: 0, interrupted: 0, errors: 0, joinFailures: 0, connectTimeouts: 0 })

/** How long a connection to one node may take before the client tries another. */
const CONNECT_GIVE_UP_MS = 12_000

/**
 * What writers and readers share: one demo identity (`?name=`), one
 * `VixClient` at a time, on one node, moved to another now and then (closed,
 * then a new client on the other node).
 */
abstract class ChaosClient {
  protected client: VixClient | null = null
  /** The client once it is in every room (a writer publishes only then). */
  protected joined: VixClient | null = null
  private readonly rejoining = new Set<string>()
  node = -1
  readonly counters = newCounters()
  private generation = 0
  running = true

  constructor (readonly name: string, readonly rooms: readonly string[], protected readonly random: Prng, protected readonly nodes: NodeDirectory) {}

  /** The node to go to: a random other one that is serving, else any other. */
  protected pickNode (): number {
    const others = this.random.shuffle([...Array(this.nodes.count).keys()].filter((index) => index !== this.node))
    return others.find((index) => this.nodes.serving(index)) ?? others[0] ?? 0
  }

  /** Connect to `node` (another if it does not open in time) and join the rooms. */
  async connectTo (node: number): Promise<void> {
    for (let target = node; this.running; target = this.pickNode()) {
      const generation = ++this.generation
      const client = new VixClient({
        url: this.nodes.url(target),
        WebSocket: WebSocket as never,
        query: { name: this.name },
        longPolling: false,
        reconnect: { minDelay: 200, maxDelay: 2000 },
        timeout: 10_000,
        connectTimeout: 5000,
        autoUnref: true
      })
      this.client = client
      this.node = target
      const current = (): boolean => generation === this.generation && this.running
      this.listen(client, current)
      const opened = await Promise.race([
        client.connect().then(() => true, () => false),
        delay(CONNECT_GIVE_UP_MS).then(() => false)
      ])
      if (opened && current()) {
        await Promise.all(this.rooms.map(async (room) => { await this.joinRoom(client, room, current) }))
        if (current()) this.joined = client
        return
      }
      this.counters.connectTimeouts++
      client.close()
    }
  }

  /** Close, then connect to another node. */
  async move (): Promise<void> {
    this.counters.moves++
    this.disconnect()
    await this.connectTo(this.pickNode())
  }

  disconnect (): void {
    this.generation++
    this.client?.close()
    this.client = null
    this.joined = null
  }

  /**
   * Join `room` until the server says yes (a join refused during a fault,
   * e.g. the store unreachable, leaves the client out of the room for good:
   * the application joins again, as the client's docs say to).
   */
  protected async joinRoom (client: VixClient, room: string, current: () => boolean): Promise<void> {
    if (this.rejoining.has(room)) return
    this.rejoining.add(room)
    try {
      for (let attempt = 1; current(); attempt++) {
        try {
          await this.joinOnce(client, room)
          return
        } catch {
          this.counters.joinFailures++
          await delay(Math.min(250 * attempt, 2000))
        }
      }
    } finally {
      this.rejoining.delete(room)
    }
  }

  /** One join of `room` (a reader's with `since`). */
  protected async joinOnce (client: VixClient, room: string): Promise<void> {
    await client.join(room)
  }

  /** Move every `minMs`-`maxMs` while running. */
  async wander (minMs: number, maxMs: number, running: () => boolean): Promise<void> {
    while (running() && this.running) {
      const at = Date.now() + this.random.between(minMs, maxMs)
      while (Date.now() < at) {
        if (!running() || !this.running) return
        await delay(Math.min(250, at - Date.now()))
      }
      await this.move()
    }
  }

  close (): void {
    this.running = false
    this.disconnect()
  }

  protected listen (client: VixClient, current: () => boolean): void {
    client.on('close', () => { if (current()) this.counters.reconnects++ })
    client.on('rejoined', () => { if (current()) this.counters.rejoins++ })
    client.on('recovery_failed', () => { if (current()) this.counters.recoveryFailed++ })
    client.on('position_gap', (gap) => { if (current() && gap.reason !== 'interrupted') this.counters.gaps++ })
    client.on('error', (error) => {
      if (!current()) return
      this.counters.errors++
      // A rejoin after a reconnect that the server refused: the client left that room; join it again.
      const room = error.room
      if (room !== undefined && this.rooms.includes(room) && !client.rooms.includes(room)) this.joinRoom(client, room, current).catch(() => {})
    })
    client.on('system', (frame) => {
      if (current() && frame.type === 'room.interrupted') this.counters.interrupted++
    })
  }
}

/** One publish attempt's outcome by id. */
export interface SentMessage { id: string, room: string, writer: string, attempts: number, firstAt: number, ackedAt?: number, ackPos?: string, duplicateAck?: boolean, lastError?: string }

/**
 * A writer: publishes `chat.message`s with ids of its own (`<name>-<n>`) to
 * its rooms at `rate` per second, at most `window` unacked at a time. A
 * publish that fails (error frame, timeout, client closed by a move) is
 * published again with the same id, so only acks count: an acked id is a
 * promise the checker holds the cluster to.
 */
export class ChaosWriter extends ChaosClient {
  readonly sent = new Map<string, SentMessage>()
  readonly failures = new Map<string, number>()
  private readonly retry: string[] = []
  private inFlight = 0
  private next = 0

  constructor (name: string, rooms: readonly string[], random: Prng, nodes: NodeDirectory, private readonly rate: number, private readonly window = 16) {
    super(name, rooms, random, nodes)
  }

  get acked (): SentMessage[] {
    return [...this.sent.values()].filter((message) => message.ackedAt !== undefined)
  }

  /** Unacked ids still to publish again, and publishes waiting for an ack. */
  get outstanding (): number {
    return this.retry.length + this.inFlight
  }

  /** Publish new messages while `publishing()`, then only the retries until none is left or `until`. */
  async run (publishing: () => boolean, until: () => number): Promise<void> {
    const interval = 1000 / this.rate
    while (this.running && Date.now() < until()) {
      await delay(interval * (0.5 + this.random.next()))
      const fresh = publishing()
      if (!fresh && this.outstanding === 0) return
      if (this.joined === null || this.inFlight >= this.window) continue
      const id = this.retry.shift() ?? (fresh ? this.newMessage() : undefined)
      if (id !== undefined) this.publish(this.joined, id)
    }
  }

  private newMessage (): string {
    const id = `${this.name}-${this.next++}`
    this.sent.set(id, { id, room: this.random.pick(this.rooms), writer: this.name, attempts: 0, firstAt: Date.now() })
    return id
  }

  private publish (client: VixClient, id: string): void {
    const message = this.sent.get(id) as SentMessage
    message.attempts++
    this.inFlight++
    client.publish(message.room, MESSAGE_TYPE, { text: id }, { id }).then((ack) => {
      message.ackedAt ??= Date.now()
      const extra = ack as { pos?: unknown, duplicate?: unknown }
      if (typeof extra.pos === 'string') message.ackPos = extra.pos
      if (extra.duplicate === true) message.duplicateAck = true
    }, (error: { code?: string }) => {
      const code = error.code ?? 'unknown'
      message.lastError = code
      this.failures.set(code, (this.failures.get(code) ?? 0) + 1)
      if (message.ackedAt === undefined) this.retry.push(id)
      // Out of the room (a rejoin refused during a fault): join it again, as an application would.
      if (code === 'VIX_ERR_NOT_IN_ROOM' && client === this.joined) this.joinRoom(client, message.room, () => client === this.joined).catch(() => {})
    }).finally(() => { this.inFlight-- })
  }
}

/** A join of a reader and its ack. */
export interface JoinRecord { room: string, node: number, at: number, since?: string, recovered: boolean, replayed: number }

/** One event as a reader's application saw it. */
export interface Delivery { room: string, id: string, pos?: string, at: number, node: number }

/**
 * A reader: a member of its rooms for the whole run, recording every
 * `chat.message` its application sees (room, id, position, in order). On a
 * move it rejoins each room from the last position it saw (the last id when
 * events carry no position); on a reconnect the client does that by itself.
 */
export class ChaosReader extends ChaosClient {
  readonly deliveries: Delivery[] = []
  /** Every join this reader's application made, with the server's answer (for the report). */
  readonly joins: JoinRecord[] = []
  private readonly last = new Map<string, Delivery>()

  /** Join from the last position seen (the last id when events carry no position). */
  protected override async joinOnce (client: VixClient, room: string): Promise<void> {
    const seen = this.last.get(room)
    const since = seen?.pos ?? seen?.id
    const ack = await client.join(room, { since })
    this.joins.push({ room, node: this.node, at: Date.now(), since, recovered: ack.recovered, replayed: ack.replayed })
    if (seen !== undefined && !ack.recovered) this.counters.notRecovered++
  }

  protected override listen (client: VixClient, current: () => boolean): void {
    super.listen(client, current)
    client.on('message', (frame: Positioned) => {
      if (!current() || frame.type !== MESSAGE_TYPE || frame.room === undefined || frame.id === undefined) return
      const delivery: Delivery = { room: frame.room, id: frame.id, at: Date.now(), node: this.node }
      const pos = positionOf(frame)
      if (pos !== undefined) delivery.pos = pos
      this.deliveries.push(delivery)
      this.last.set(frame.room, delivery)
    })
  }

  /** The id of the last message seen in `room`. */
  lastId (room: string): string | undefined {
    return this.last.get(room)?.id
  }
}
