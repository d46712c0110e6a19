import { Counter, Gauge, Registry, collectDefaultMetrics, type DefaultMetricsCollectorConfiguration, type RegistryContentType } from 'prom-client'
import { InvalidOptionError } from './errors.js'
import { LeanHistogram } from './histogram.js'
import type { Dependency } from './health.js'
import type { HubObserver } from './hub/types.js'
import { limitNames, type LimitName } from './limits/limits.js'
import { errorReasons } from '../schemas/protocol.js'

/** Every value of the `reason` label (declared beside the error table, which gives each code its reason). */
export { errorReasons }

/** Default buckets of `vix_publish_duration_seconds`: an in-memory fan-out takes microseconds to milliseconds. */
export const publishDurationBuckets: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

/** Default buckets of `vix_store_append_duration_seconds`: one append, from the call to its commit (the group-commit wait and fsync included). */
export const storeAppendDurationBuckets: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

export type DefaultMetricsOptions = Omit<DefaultMetricsCollectorConfiguration<RegistryContentType>, 'register'>

export interface RealtimeMetricsOptions {
  /**
   * Registry to register the `vix_` metrics in (e.g. one shared with fastify-metrics).
   * Default: a new registry owned by this instance, so two apps in one process never collide.
   */
  registry?: Registry
  /** Also collect prom-client's default process metrics into the registry (default false). */
  defaultMetrics?: boolean | DefaultMetricsOptions
  /** Histogram buckets, in seconds. */
  buckets?: {
    publish?: number[]
    storeAppend?: number[]
  }
}

/** Metric family names, as exposed. */
export const MetricNames = {
  wsConnectionsTotal: 'vix_ws_connections_total',
  wsMessagesInboundTotal: 'vix_ws_messages_inbound_total',
  wsMessagesOutboundTotal: 'vix_ws_messages_outbound_total',
  wsErrorsTotal: 'vix_ws_errors_total',
  longPollSessionsTotal: 'vix_longpoll_sessions_total',
  longPollPollsTotal: 'vix_longpoll_polls_total',
  longPollEnqueuedTotal: 'vix_longpoll_enqueued_total',
  longPollDrainedTotal: 'vix_longpoll_drained_total',
  longPollDroppedTotal: 'vix_longpoll_dropped_total',
  storeAppendsTotal: 'vix_store_appends_total',
  wsConnectionsActive: 'vix_ws_connections_active',
  wsRoomsActive: 'vix_ws_rooms_active',
  longPollSessionsActive: 'vix_longpoll_sessions_active',
  longPollBufferedMessages: 'vix_longpoll_buffered_messages',
  publishDurationSeconds: 'vix_publish_duration_seconds',
  storeAppendDurationSeconds: 'vix_store_append_duration_seconds',
  brokerErrorsTotal: 'vix_broker_errors_total',
  brokerConnected: 'vix_broker_connected',
  brokerGapsRepairedTotal: 'vix_broker_gaps_repaired_total',
  streamsInterruptedTotal: 'vix_room_streams_interrupted_total',
  dependencyErrorsTotal: 'vix_dependency_errors_total',
  dependencyUp: 'vix_dependency_up',
  limitRejectionsTotal: 'vix_limit_rejections_total',
  presenceMembers: 'vix_presence_members',
  presenceDiffsTotal: 'vix_presence_diffs_total'
} as const

const knownReasons: ReadonlySet<string> = new Set(errorReasons)

/** Register-time checks of the metrics options; a bad one throws `VIX_ERR_INVALID_OPTION`. */
export function checkMetricsOptions (options: RealtimeMetricsOptions): void {
  const registry = options.registry as unknown
  if (registry !== undefined && !isRegistry(registry)) {
    throw new InvalidOptionError('registry', 'expected a prom-client Registry')
  }
  const defaults = options.defaultMetrics as unknown
  if (defaults !== undefined && typeof defaults !== 'boolean' && (typeof defaults !== 'object' || defaults === null)) {
    throw new InvalidOptionError('defaultMetrics', `expected a boolean or an options object, got ${JSON.stringify(defaults)}`)
  }
  checkBuckets('buckets.publish', options.buckets?.publish)
  checkBuckets('buckets.storeAppend', options.buckets?.storeAppend)
}

// Duck-typed rather than `instanceof`, so a registry from another copy of prom-client is accepted.
function isRegistry (value: unknown): value is Registry {
  const candidate = value as Partial<Registry> | null
  return typeof candidate === 'object' && candidate !== null &&
    typeof candidate.registerMetric === 'function' && typeof candidate.metrics === 'function' &&
    typeof candidate.getSingleMetric === 'function' && typeof candidate.removeSingleMetric === 'function'
}

function checkBuckets (name: string, value: unknown): void {
  if (value === undefined) return
  const valid = Array.isArray(value) && value.length > 0 &&
    value.every((bound, i) => typeof bound === 'number' && Number.isFinite(bound) && bound > 0 && (i === 0 || bound > value[i - 1]))
  if (!valid) throw new InvalidOptionError(name, 'expected a non-empty array of increasing positive numbers (seconds)')
}

/** What the metrics read of the hub at scrape time, and the observer hook that feeds the counters. */
export interface MetricsParts {
  sessions: ReadonlyMap<string, { transport: { name: string, queued?: () => number } }>
  /** Rooms with at least one member. */
  roomCount: () => number
  /** Members of presence rooms as this node's clients see them (0 when presence is off). */
  presenceSize: () => number
  brokerConnected: () => boolean
  /** The node's dependencies (Redis, PostgreSQL). */
  dependencies: () => Iterable<Dependency>
  addObserver: (observer: HubObserver) => () => void
}

/**
 * The Prometheus metrics of one hub. Counters and histograms are fed by a
 * hub observer (once per event, `inc(n)` per publish, never per recipient);
 * gauges are computed from the hub's live state at scrape time, so they
 * cannot drift whatever way a connection ended.
 *
 * @example
 * const metrics = new RealtimeMetrics(hub.metricsParts())
 * const text = await metrics.registry.metrics()
 * metrics.close()
 */
export class RealtimeMetrics {
  readonly registry: Registry
  /** True when the registry was created here (cleared on close) rather than passed in. */
  readonly ownsRegistry: boolean
  /** Names of the families this instance added (removed again on close from a registry passed in). */
  private readonly added: string[]
  private readonly detach: () => void
  private closed = false

  constructor (private readonly parts: MetricsParts, options: RealtimeMetricsOptions = {}) {
    checkMetricsOptions(options)
    this.ownsRegistry = options.registry === undefined
    this.registry = options.registry ?? new Registry()
    for (const name of Object.values(MetricNames)) {
      if (this.registry.getSingleMetric(name) !== undefined) {
        throw new InvalidOptionError('registry', `already holds "${name}": give each app its own registry`)
      }
    }
    const before = new Set(this.registry.getMetricsAsArray().map((metric) => metric.name))
    const defaults = options.defaultMetrics ?? false
    if (defaults !== false) {
      try {
        collectDefaultMetrics({ ...(defaults === true ? {} : defaults), register: this.registry })
      } catch (error) {
        // Typically a shared registry that already has process metrics: leave it as it was.
        for (const { name } of this.registry.getMetricsAsArray()) if (!before.has(name)) this.registry.removeSingleMetric(name)
        throw new InvalidOptionError('defaultMetrics', `cannot add process metrics to this registry (${(error as Error).message})`)
      }
    }
    const registers = [this.registry]
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers })
    const gauge = (name: string, help: string, read: () => number): Gauge => new Gauge({
      name,
      help,
      registers,
      collect () { this.set(read()) }
    })

    const wsConnections = counter(MetricNames.wsConnectionsTotal, 'WebSocket connections accepted since start')
    const inbound = counter(MetricNames.wsMessagesInboundTotal, 'Protocol frames received from clients (WebSocket and long-polling)')
    const outbound = counter(MetricNames.wsMessagesOutboundTotal, 'Protocol frames sent to clients (events, acks, errors; WebSocket and long-polling)')
    const errors = new Counter({
      name: MetricNames.wsErrorsTotal,
      help: 'Client-facing errors by reason',
      labelNames: ['reason'],
      registers
    })
    const longPollSessions = counter(MetricNames.longPollSessionsTotal, 'Long-polling sessions created since start')
    const polls = counter(MetricNames.longPollPollsTotal, 'Long-polling poll requests answered')
    const enqueued = counter(MetricNames.longPollEnqueuedTotal, 'Frames queued into long-polling sessions')
    const drained = counter(MetricNames.longPollDrainedTotal, 'Frames taken out of long-polling queues by a poll')
    const dropped = counter(MetricNames.longPollDroppedTotal, 'Frames dropped from full long-polling queues (oldest first)')
    const storeAppends = counter(MetricNames.storeAppendsTotal, 'Messages appended to the message store')
    const brokerErrors = counter(MetricNames.brokerErrorsTotal, 'Broker failures: publishes, subscriptions, dropped connections')
    const gapsRepaired = counter(MetricNames.brokerGapsRepairedTotal, 'Gaps in other nodes\' messages filled from the store (a lost envelope, a broker reconnect)')
    const interrupted = counter(MetricNames.streamsInterruptedTotal, 'Members sent room.interrupted: a room\'s stream had a hole the store could not fill within the hold bound')
    // No room label: a gauge per room would grow with the rooms.
    gauge(MetricNames.presenceMembers, 'Members of presence rooms as this node\'s clients see them, summed over rooms', () => parts.presenceSize())
    const presenceDiffs = counter(MetricNames.presenceDiffsTotal, 'presence.diff frames sent (one per recipient of a coalesced diff)')
    // Read from the hub's health at scrape time: an outage at boot, before this registry existed, is counted too.
    const countedOutages = new Map<string, number>()
    this.registry.registerMetric(new Counter({
      name: MetricNames.dependencyErrorsTotal,
      help: 'Outages of a dependency (Redis, PostgreSQL): times it became unreachable, at boot or later; each is logged once as VIX_ERR_DEPENDENCY_UNAVAILABLE',
      labelNames: ['dependency'],
      registers: [],
      collect () {
        for (const dependency of parts.dependencies()) {
          const name = dependency.spec.name
          this.labels(name).inc(dependency.outages - (countedOutages.get(name) ?? 0))
          countedOutages.set(name, dependency.outages)
        }
      }
    }))
    this.registry.registerMetric(new Gauge({
      name: MetricNames.dependencyUp,
      help: '1 while a dependency (Redis, PostgreSQL) is reachable, 0 while it is not',
      labelNames: ['dependency'],
      registers: [],
      collect () {
        for (const dependency of parts.dependencies()) this.labels(dependency.spec.name).set(dependency.state === 'up' ? 1 : 0)
      }
    }))
    gauge(MetricNames.brokerConnected, '1 while the broker is connected (always 1 on a single node)', () => parts.brokerConnected() ? 1 : 0)

    gauge(MetricNames.wsConnectionsActive, 'Open WebSocket connections', () => this.countSessions('websocket'))
    gauge(MetricNames.wsRoomsActive, 'Rooms with at least one member', () => parts.roomCount())
    gauge(MetricNames.longPollSessionsActive, 'Live long-polling sessions', () => this.countSessions('long-polling'))
    gauge(MetricNames.longPollBufferedMessages, 'Frames waiting in long-polling queues', () => this.bufferedFrames())

    const publishDuration = new LeanHistogram({
      name: MetricNames.publishDurationSeconds,
      help: 'Time to publish one message: stamp, store when persisted, fan out',
      buckets: options.buckets?.publish ?? publishDurationBuckets,
      registers
    })
    const storeAppendDuration = new LeanHistogram({
      name: MetricNames.storeAppendDurationSeconds,
      help: 'Time of one store append, from the call to its commit (the group-commit wait and fsync included)',
      buckets: options.buckets?.storeAppend ?? storeAppendDurationBuckets,
      registers
    })

    // Bound children once: the hot path then skips label hashing, and every
    // reason is exposed at 0 from the first scrape, so rate() sees the first error.
    const byReason = new Map<string, { inc: (value?: number) => void }>()
    for (const reason of errorReasons) {
      const child = errors.labels(reason)
      child.inc(0)
      byReason.set(reason, child)
    }
    const internal = byReason.get('internal') as { inc: () => void }
    const rejections = new Counter({
      name: MetricNames.limitRejectionsTotal,
      help: 'Connections, frames, joins and requests refused by a limit, by limit',
      labelNames: ['limit'],
      registers
    })
    const byLimit = new Map<LimitName, { inc: () => void }>()
    for (const limit of limitNames) {
      const child = rejections.labels(limit)
      child.inc(0)
      byLimit.set(limit, child)
    }

    const observer: HubObserver = {
      sessionOpened: (session) => { if (session.transport.name === 'websocket') wsConnections.inc() },
      messageInbound: () => { inbound.inc() },
      messagesOutbound: (count) => { if (count > 0) outbound.inc(count) },
      // An unknown reason (from untyped code) is counted as internal rather than creating a new series.
      error: (reason) => { (knownReasons.has(reason) ? byReason.get(reason) as { inc: () => void } : internal).inc() },
      published: (_message, seconds) => { publishDuration.observe(seconds) },
      longPollSessionCreated: () => { longPollSessions.inc() },
      longPollPolled: () => { polls.inc() },
      longPollEnqueued: (count) => { if (count > 0) enqueued.inc(count) },
      longPollDrained: (count) => { if (count > 0) drained.inc(count) },
      longPollDropped: (count) => { if (count > 0) dropped.inc(count) },
      brokerError: () => { brokerErrors.inc() },
      gapRepaired: () => { gapsRepaired.inc() },
      streamInterrupted: (sessions) => { if (sessions > 0) interrupted.inc(sessions) },
      presenceDiffs: (frames) => { if (frames > 0) presenceDiffs.inc(frames) },
      storeAppended: (count, seconds) => {
        if (count > 0) storeAppends.inc(count)
        // One sample per append, so the histogram's _count is vix_store_appends_total.
        for (let i = 0; i < count; i++) storeAppendDuration.observe(seconds)
      },
      limitRejected: (limit) => { byLimit.get(limit)?.inc() }
    }
    this.detach = parts.addObserver(observer)

    this.added = this.registry.getMetricsAsArray().map((metric) => metric.name).filter((name) => !before.has(name))
  }

  /** The content type of the exposition (`text/plain; version=0.0.4; charset=utf-8` for a default registry). */
  get contentType (): string {
    return this.registry.contentType
  }

  /** The exposition text of the whole registry. */
  async expose (): Promise<string> {
    return await this.registry.metrics()
  }

  /**
   * Stop counting. An owned registry is cleared; from a registry passed in, only
   * the families added here are removed (the app's own metrics stay), so a new
   * app may register into it again.
   */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.detach()
    if (this.ownsRegistry) {
      this.registry.clear()
    } else {
      for (const name of this.added) this.registry.removeSingleMetric(name)
    }
  }

  private countSessions (transportName: string): number {
    let count = 0
    for (const session of this.parts.sessions.values()) {
      if (session.transport.name === transportName) count++
    }
    return count
  }

  private bufferedFrames (): number {
    let total = 0
    for (const session of this.parts.sessions.values()) total += session.transport.queued?.() ?? 0
    return total
  }
}
