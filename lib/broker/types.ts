import type { Health } from '../health.js'
import type { RealtimeMessage } from '../frames.js'

/**
 * What travels between the stages of the publish pipeline, and between
 * nodes: the message and where it sits in its room's history, as explicit
 * fields (never hidden properties, which vanish in JSON).
 */
export interface Envelope {
  /** The node that accepted the message; a node ignores its own envelopes coming back. */
  node: string
  /** The room (absent: a broadcast to every session). */
  room?: string
  /** The room position assigned by the store (absent: the message is not stored). */
  offset?: number
  epoch?: string
  /** Session id on the origin node that must not receive it. */
  except?: string
  message: RealtimeMessage
}

/**
 * The distribute stage's seam: hands envelopes to other nodes and delivers
 * theirs to this one. The in-process default distributes nothing; a Redis
 * broker publishes per room. Every method may be sync or async; the hub
 * never lets a broker failure block local delivery.
 *
 * @example
 * const hub = new Hub({ broker: new InProcessBroker() })
 */
/** What a broker tells the hub besides envelopes. */
export interface BrokerEvents {
  /** The feed from other nodes is back after a break: envelopes may have been lost meanwhile (the hub repairs stored rooms from the store). */
  resync: () => void
  /** The connection went down (false) or came back (true). */
  connection: (connected: boolean) => void
  /** A failure of the broker's own (a dropped connection, a bad envelope); publish failures reject `publish` instead. */
  error: (error: unknown) => void
  /** A control message from another node (presence announcements); only brokers with `publishControl` send them. */
  control?: (message: ControlMessage) => void
}

/**
 * A node-to-node message that is not a room's envelope: presence
 * announcements (`type` starts with `presence.`). `node` is the sender; a
 * node ignores its own.
 */
export interface ControlMessage {
  node: string
  type: string
  [field: string]: unknown
}

export interface Broker {
  /** Called once by the hub: envelopes from other nodes go to `deliver`; `events` (optional to use) report the connection. */
  start: (deliver: (envelope: Envelope) => void, events: BrokerEvents) => void | Promise<void>
  /** Stage 4: hand an envelope that was accepted, stored and delivered locally to the other nodes. */
  publish: (envelope: Envelope) => void | Promise<void>
  /** A room got its first local member: receive its envelopes from now on. A `room.join` is acked once this resolves. */
  subscribe: (room: string) => void | Promise<void>
  /** A room lost its last local member. */
  unsubscribe: (room: string) => void | Promise<void>
  /** Optional: hand a control message to every other node (one channel for the whole cluster). Without it presence stays node-local. */
  publishControl?: (message: ControlMessage) => void | Promise<void>
  /**
   * Optional: called once by the hub before `start`. A broker that connects to a server registers
   * it here (`health.add`) and reports it up and down; `health.failFast` says whether `start`
   * must reject with `VIX_ERR_DEPENDENCY_UNAVAILABLE` when the server cannot be reached.
   */
  watch?: (health: Health) => void
  /** Release connections (shutdown, after the transports and before the store). */
  close: () => void | Promise<void>
}
