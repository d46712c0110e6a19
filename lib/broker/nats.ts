import type { ConnectionOptions, NatsConnection, Subscription } from 'nats'
import type { Logger } from '../hub/types.js'
import { optionalPackage } from '../optional.js'
import { BrokerLink, LinkedBroker } from './link.js'
import { encodeSubjectToken } from './subject.js'
import type { Broker, BrokerEvents, ControlMessage, Envelope } from './types.js'
import { ChannelNames, decodeControl, decodeEnvelope, encodeWire } from './wire.js'

const nats = optionalPackage<typeof import('nats')>('nats', 'broker.nats')

export interface NatsBrokerOptions {
  /**
   * A `nats://` (or `tls://`) URL, several comma-separated for a NATS cluster's
   * seeds (the broker opens and drains its own connection), or a connection of
   * the app's (its subscriptions are the broker's, the connection is left open on close).
   */
  nats: string | NatsConnection
  /** Put before every subject, so several apps share one NATS (default `vix.`). */
  prefix?: string
  /** Between reconnect attempts, in ms (default 250). */
  retryDelay?: number
  /** How long one connection attempt waits, and with the hub's `failFast` how long `start` waits for NATS before boot fails, in ms (default 5000). */
  connectTimeout?: number
  logger?: Logger
}

const silent: Logger = { debug () {}, warn () {}, error () {} }

/**
 * Fan-out between nodes over NATS core: one connection, one subject per
 * room, `<prefix>room.<token>` (the room name encoded into one subject token,
 * see `encodeSubjectToken`), subscribed only while the room has a local
 * member; room-less broadcasts on `<prefix>all` and node-to-node control on
 * `<prefix>control`, which every node subscribes to. Envelopes travel as JSON,
 * as on Redis. NATS core delivers at most once: what is lost while
 * disconnected is read from the shared store after the reconnect (the hub's
 * `resync`), so a stored room still gets every message once, in order. The
 * broker's own connection does not echo its publishes back (`noEcho`). A
 * publish while disconnected fails at once (counted; the store repairs it)
 * instead of waiting in the client's reconnect buffer.
 *
 * @example
 * const hub = new Hub({ broker: new NatsBroker({ nats: 'nats://127.0.0.1:4222', prefix: 'chat.' }) })
 * await hub.started
 */
export class NatsBroker extends LinkedBroker implements Broker {
  readonly prefix: string
  /** The subjects: `room(name)` (`<prefix>room.<token>`), `broadcast` (`<prefix>all`), `control` (`<prefix>control`, presence announcements, heartbeats, sync requests). */
  readonly subjects: ChannelNames
  protected readonly link: BrokerLink
  private readonly logger: Logger
  private readonly connectTimeout: number
  private readonly retryDelay: number
  /** The URL(s) to connect to, or undefined for a connection of the app's. */
  private readonly servers: string[] | undefined
  private connection: NatsConnection | undefined
  /** Rooms this node wants, also while disconnected; subscribed (again) once connected. */
  private readonly rooms = new Set<string>()
  /** The subscriptions of the connection in use: one per wanted room. */
  private readonly subscriptions = new Map<string, Subscription>()
  /** The broadcast and control subscriptions. */
  private shared: Subscription[] = []
  private retryTimer: NodeJS.Timeout | undefined
  private restoring: Promise<void> | undefined

  constructor (options: NatsBrokerOptions) {
    super()
    this.prefix = options.prefix ?? 'vix.'
    this.subjects = new ChannelNames(this.prefix, (room) => `.${encodeSubjectToken(room)}`)
    this.logger = options.logger ?? silent
    this.connectTimeout = options.connectTimeout ?? 5000
    this.retryDelay = options.retryDelay ?? 250
    const url = typeof options.nats === 'string' ? options.nats : undefined
    this.link = new BrokerLink({ name: 'nats', label: 'NATS', option: 'broker.nats', url }, this.logger)
    if (url === undefined) this.connection = options.nats as NatsConnection
    else this.servers = url.split(',').map((server) => server.trim())
  }

  /**
   * Connect and subscribe. When NATS cannot be reached the node boots anyway
   * and goes on trying every `retryDelay` ms (then repairs from the store);
   * with the hub's `failFast`, reject with `VIX_ERR_DEPENDENCY_UNAVAILABLE` instead.
   */
  async start (deliver: (envelope: Envelope) => void, events: BrokerEvents): Promise<void> {
    const link = this.begin(deliver, events)
    link.booting = true
    link.quiet = link.failFast
    try {
      await this.use(this.connection ?? await this.connect())
    } catch (error) {
      if (link.failFast) {
        link.closing = true
        if (this.servers !== undefined) this.connection?.close().catch(() => {})
        throw link.unavailable(error)
      }
      link.failed(error)
      this.retry()
    } finally {
      link.booting = false
      link.quiet = false
    }
    link.bootedWithout()
  }

  private async connect (): Promise<NatsConnection> {
    const options: ConnectionOptions = {
      servers: this.servers,
      name: 'vix-realtime',
      // The hub ignores its own envelopes: do not have the server send them back.
      noEcho: true,
      timeout: this.connectTimeout,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: this.retryDelay
    }
    return await nats().connect(options)
  }

  /** Not reached at boot: try again every `retryDelay` ms until connected or closed. */
  private retry (): void {
    // An app's connection that failed is the app's to replace: there is nothing here to connect to.
    if (this.link.closing || this.servers === undefined) return
    this.retryTimer = setTimeout(() => {
      this.connect().then(async (connection) => {
        if (this.link.closing) {
          await connection.close()
          return
        }
        await this.use(connection)
      }).catch((error: unknown) => {
        this.link.failed(error)
        this.retry()
      })
    }, this.retryDelay)
    this.retryTimer.unref()
  }

  /** A connection is up: subscribe every wanted subject, follow its status, and report the link up once the server has the subscriptions. */
  private async use (connection: NatsConnection): Promise<void> {
    this.connection = connection
    const events = this.link.events
    this.shared = [
      connection.subscribe(this.subjects.broadcast, { callback: (error, message) => { if (this.usable(error)) this.received(message.string()) } }),
      connection.subscribe(this.subjects.control, {
        callback: (error, message) => {
          if (!this.usable(error)) return
          const control = decodeControl(message.string(), events)
          if (control !== undefined) events?.control?.(control)
        }
      })
    ]
    for (const room of this.rooms) this.subscribeRoom(connection, room)
    this.follow(connection).catch((error: unknown) => { this.link.failed(error) })
    await this.restore(connection)
  }

  private usable (error: Error | null): boolean {
    if (error === null) return true
    this.link.failed(error)
    return false
  }

  private received (data: string): void {
    const envelope = decodeEnvelope(data, this.link.events)
    if (envelope !== undefined) this.deliver(envelope)
  }

  private subscribeRoom (connection: NatsConnection, room: string): void {
    this.subscriptions.set(room, connection.subscribe(this.subjects.room(room), { callback: (error, message) => { if (this.usable(error)) this.received(message.string()) } }))
  }

  /** Disconnects and reconnects, as the client reports them, until the connection closes. */
  private async follow (connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect') this.link.lost()
      else if (status.type === 'reconnect') this.restore(connection).catch((error: unknown) => { this.link.failed(error) })
      else if (status.type === 'error') this.link.failed(new Error(`NATS error: ${String(status.data)}`))
    }
    // Closed by the client itself (not by us), e.g. an app's connection that gave up reconnecting.
    if (!this.link.closing) this.link.lost()
  }

  /**
   * The client has subscribed again by itself after a reconnect: a flush
   * makes sure the server has every subscription before the link is reported
   * up and the hub reads what was missed from the store. One run at a time.
   */
  private restore (connection: NatsConnection): Promise<void> {
    this.restoring ??= (async () => {
      await connection.flush()
      if (!connection.isClosed()) this.link.restored(this.subscriptions.size + this.shared.length)
    })().finally(() => { this.restoring = undefined })
    return this.restoring
  }

  async publish (envelope: Envelope): Promise<void> {
    this.connected().publish(envelope.room === undefined ? this.subjects.broadcast : this.subjects.room(envelope.room), encodeWire(envelope))
  }

  async publishControl (message: ControlMessage): Promise<void> {
    this.connected().publish(this.subjects.control, encodeWire(message))
  }

  /** The connection, when it is up: a publish while it is down fails at once rather than waiting in the reconnect buffer. */
  private connected (): NatsConnection {
    if (this.connection === undefined || !this.link.connected) throw new Error('NATS not connected')
    return this.connection
  }

  async subscribe (room: string): Promise<void> {
    this.rooms.add(room)
    const connection = this.connection
    // Not connected yet: subscribed once it is. Reconnecting: the client sends the subscription when back.
    if (connection === undefined || connection.isClosed() || this.subscriptions.has(room)) return
    this.subscribeRoom(connection, room)
    if (this.link.connected) await connection.flush()
  }

  async unsubscribe (room: string): Promise<void> {
    this.rooms.delete(room)
    const subscription = this.subscriptions.get(room)
    this.subscriptions.delete(room)
    // Messages already on their way for it are dropped by the client from here on.
    subscription?.unsubscribe()
  }

  /** Drain (what is in flight is handed on) and close an own connection; only unsubscribe from an app's. */
  async close (): Promise<void> {
    if (this.link.closing) return
    this.link.closing = true
    clearTimeout(this.retryTimer)
    this.rooms.clear()
    const connection = this.connection
    if (connection === undefined || connection.isClosed()) return
    const subscriptions = [...this.shared, ...this.subscriptions.values()]
    this.subscriptions.clear()
    this.shared = []
    if (!this.link.connected) {
      // Nothing to drain through: do not wait for a server that is not there.
      for (const subscription of subscriptions) subscription.unsubscribe()
      if (this.servers !== undefined) await connection.close()
      return
    }
    if (this.servers !== undefined) await connection.drain()
    else await Promise.all(subscriptions.map(async (subscription) => { await subscription.drain() }))
  }
}
