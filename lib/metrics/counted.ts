import { Counter, type Registry } from 'prom-client'
import { LeanHistogram } from '../histogram.js'
import { limitNames, type LimitName } from '../limits/limits.js'
import { errorReasons } from '../../schemas/protocol.js'
import { MetricNames } from './names.js'
import { publishDurationBuckets, storeAppendDurationBuckets, type RealtimeMetricsOptions } from './options.js'

/** A counter, or one bound child of a labelled counter. */
export interface Increment { inc: (value?: number) => void }

/** The families a hub observer feeds, event by event: counters and histograms. */
export interface CountedFamilies {
  wsConnections: Increment
  inbound: Increment
  outbound: Increment
  /** `vix_ws_errors_total`, one bound child per reason. */
  errorsByReason: ReadonlyMap<string, Increment>
  longPollSessions: Increment
  polls: Increment
  enqueued: Increment
  drained: Increment
  dropped: Increment
  storeAppends: Increment
  brokerErrors: Increment
  gapsRepaired: Increment
  interrupted: Increment
  presenceDiffs: Increment
  publishDuration: LeanHistogram
  storeAppendDuration: LeanHistogram
  transactionNotifications: Increment
  transactionRepairs: Increment
  transactionDelivery: LeanHistogram
  /** `vix_limit_rejections_total`, one bound child per limit. */
  rejectionsByLimit: ReadonlyMap<LimitName, Increment>
}

/** Registers the counted families in `registry` (in this order in the exposition). */
export function countedFamilies (registry: Registry, buckets: RealtimeMetricsOptions['buckets']): CountedFamilies {
  const registers = [registry]
  const counter = (name: string, help: string): Counter => new Counter({ name, help, registers })
  const labelled = (name: string, help: string, label: string): Counter => new Counter({ name, help, labelNames: [label], registers })
  return {
    wsConnections: counter(MetricNames.wsConnectionsTotal, 'WebSocket connections accepted since start'),
    inbound: counter(MetricNames.wsMessagesInboundTotal, 'Protocol frames received from clients (WebSocket and long-polling)'),
    outbound: counter(MetricNames.wsMessagesOutboundTotal, 'Protocol frames sent to clients (events, acks, errors; WebSocket and long-polling)'),
    errorsByReason: boundChildren(labelled(MetricNames.wsErrorsTotal, 'Client-facing errors by reason', 'reason'), errorReasons),
    longPollSessions: counter(MetricNames.longPollSessionsTotal, 'Long-polling sessions created since start'),
    polls: counter(MetricNames.longPollPollsTotal, 'Long-polling poll requests answered'),
    enqueued: counter(MetricNames.longPollEnqueuedTotal, 'Frames queued into long-polling sessions'),
    drained: counter(MetricNames.longPollDrainedTotal, 'Frames taken out of long-polling queues by a poll'),
    dropped: counter(MetricNames.longPollDroppedTotal, 'Frames dropped from full long-polling queues (oldest first)'),
    storeAppends: counter(MetricNames.storeAppendsTotal, 'Messages appended to the message store'),
    brokerErrors: counter(MetricNames.brokerErrorsTotal, 'Broker failures: publishes, subscriptions, dropped connections'),
    gapsRepaired: counter(MetricNames.brokerGapsRepairedTotal, 'Gaps in other nodes\' messages filled from the store (a lost envelope, a broker reconnect)'),
    interrupted: counter(MetricNames.streamsInterruptedTotal, 'Members sent room.interrupted: a room\'s stream had a hole the store could not fill within the hold bound'),
    presenceDiffs: counter(MetricNames.presenceDiffsTotal, 'presence.diff frames sent (one per recipient of a coalesced diff)'),
    publishDuration: new LeanHistogram({
      name: MetricNames.publishDurationSeconds,
      help: 'Time to publish one message: stamp, store when persisted, fan out',
      buckets: buckets?.publish ?? publishDurationBuckets,
      registers
    }),
    storeAppendDuration: new LeanHistogram({
      name: MetricNames.storeAppendDurationSeconds,
      help: 'Time of one store append, from the call to its commit (the group-commit wait and fsync included)',
      buckets: buckets?.storeAppend ?? storeAppendDurationBuckets,
      registers
    }),
    transactionNotifications: counter(MetricNames.transactionNotificationsTotal, 'Commits of messages published in a transaction announced to this node by PostgreSQL (NOTIFY)'),
    transactionRepairs: counter(MetricNames.transactionRepairsTotal, 'Catch-ups by position after the LISTEN connection came back (notifications it may have missed)'),
    transactionDelivery: new LeanHistogram({
      name: MetricNames.transactionDeliverySeconds,
      help: 'Commit to delivery of a message published in a transaction: from this node hearing of the commit (its notification, or its own commit) to its members',
      buckets: storeAppendDurationBuckets,
      registers
    }),
    rejectionsByLimit: boundChildren(labelled(MetricNames.limitRejectionsTotal, 'Connections, frames, joins and requests refused by a limit, by limit', 'limit'), limitNames)
  }
}

// Bound children once: the hot path then skips label hashing, and every
// label value is exposed at 0 from the first scrape, so rate() sees the first increment.
function boundChildren<Label extends string> (counter: Counter, values: readonly Label[]): ReadonlyMap<Label, Increment> {
  const children = new Map<Label, Increment>()
  for (const value of values) {
    const child = counter.labels(value)
    child.inc(0)
    children.set(value, child)
  }
  return children
}
