import { Health, type Dependency, type DependencySpec } from '../health.js'
import type { Logger } from '../hub/types.js'
import type { BrokerEvents, Envelope } from './types.js'

/**
 * The state of a networked broker's link to its server, and what is told
 * about it: the hub's events (`error`, `connection`, `resync`) and the
 * health dependency, whose first `down` of an outage logs once. The broker
 * (Redis, NATS) says what happened (`failed`, `lost`, `restored`); this
 * decides what is reported, so every broker logs and counts outages alike.
 *
 * @example
 * const link = new BrokerLink({ name: 'nats', label: 'NATS', option: 'broker.nats', url }, logger)
 * link.attach(events)
 * link.restored(3) // connected, subscribed: the hub repairs from the store
 */
export class BrokerLink {
  connected = false
  closing = false
  /** True while a `failFast` start waits: its failure is thrown, not logged as an outage. */
  quiet = false
  /** True while `start` waits for the first connection: nothing was missed yet, so no resync. */
  booting = false
  lastError: unknown
  /** Failures counted on this link, drops included (`vix_broker_link_errors_total`). */
  errors = 0
  /** Times the wanted channels were subscribed again after a break or a move (`vix_broker_link_resubscriptions_total`). */
  resubscriptions = 0
  events: BrokerEvents | undefined
  private health: Health | undefined
  private dependency: Dependency | undefined

  constructor (private readonly spec: DependencySpec, private readonly logger: Logger) {}

  /** The hub's health registry (`Broker.watch`): the dependency is registered there on `attach`. */
  watch (health: Health): void {
    this.health = health
  }

  /** `start`: the hub's events, and the dependency registered (down until `restored`). */
  attach (events: BrokerEvents): void {
    this.events = events
    this.dependency = (this.health ?? new Health({ logger: this.logger })).add(this.spec)
    this.dependency.link = this
  }

  /** Whether `start` must reject when the server cannot be reached. */
  get failFast (): boolean {
    return this.health?.failFast === true
  }

  /** The coded `VIX_ERR_DEPENDENCY_UNAVAILABLE` a `failFast` start rejects with. */
  unavailable (cause: unknown): Error {
    if (this.dependency === undefined) throw new Error('BrokerLink.unavailable before attach')
    return this.dependency.unavailable(cause)
  }

  /** A failure of the connection (an error event, a failed subscribe): counted always, logged once per outage. */
  failed (error: unknown): void {
    if (this.closing) return
    this.lastError = error
    this.errors++
    this.events?.error(error)
    if (!this.quiet) this.dependency?.down(error)
  }

  /** A failure that is no outage (one node of a cluster, whose client retries and redirects by itself): counted, the link stays up. */
  counted (error: unknown): void {
    if (this.closing) return
    this.errors++
    this.events?.error(error)
  }

  /** The connection dropped: an error too, even when the socket ended cleanly. */
  lost (): void {
    if (this.closing || !this.connected) return
    this.connected = false
    const error = new Error(`${this.spec.label} connection closed`)
    this.errors++
    this.events?.error(error)
    this.dependency?.down(this.lastError ?? error)
    this.events?.connection(false)
  }

  /** `start` resolves unconnected (the node boots and retries): the hub counts the broker as disconnected. */
  bootedWithout (): void {
    if (!this.connected && !this.closing) this.events?.connection(false)
  }

  /**
   * Connected, and every wanted channel subscribed again: up. After an
   * outage (not within `start`) the hub is told to repair what was missed
   * from the store.
   */
  restored (channels: number): void {
    if (this.closing) return
    this.connected = true
    this.lastError = undefined
    this.dependency?.up()
    if (this.booting) return
    this.resubscriptions++
    this.logger.warn({ channels }, `vix-realtime: ${this.spec.label} connected; repairing missed messages from the store`)
    this.events?.connection(true)
    this.events?.resync()
  }

  /**
   * Still connected, but channels had to be subscribed again elsewhere (a
   * failover or a resharding moved their slot): what was published to them
   * meanwhile is repaired from the store.
   */
  resubscribed (channels: number): void {
    if (this.closing) return
    this.resubscriptions++
    this.logger.warn({ channels }, `vix-realtime: ${this.spec.label} channels moved and were subscribed again; repairing missed messages from the store`)
    this.events?.resync()
  }
}

/**
 * What every networked broker (Redis, NATS) has besides its client: a link
 * to its server, registered with the hub's health, and where envelopes from
 * other nodes go once `start` handed it over.
 */
export abstract class LinkedBroker {
  protected abstract readonly link: BrokerLink
  protected deliver: (envelope: Envelope) => void = () => {}

  /** The hub's health registry: the server is registered as a dependency (`redis`, `nats`) and reported up and down. */
  watch (health: Health): void {
    this.link.watch(health)
  }

  /** `start`'s first step: keep the hub's callbacks, register the dependency. */
  protected begin (deliver: (envelope: Envelope) => void, events: BrokerEvents): BrokerLink {
    this.deliver = deliver
    this.link.attach(events)
    return this.link
  }
}
