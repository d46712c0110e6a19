import type { HubObserver } from '../hub/types.js'
import { errorReasons } from '../../schemas/protocol.js'
import type { CountedFamilies, Increment } from './counted.js'

const knownReasons: ReadonlySet<string> = new Set(errorReasons)

/** The hub observer that feeds the counted families: once per event, `inc(n)` per publish, never per recipient. */
export function metricsObserver (families: CountedFamilies): HubObserver {
  const { errorsByReason, publishDuration, storeAppendDuration, rejectionsByLimit } = families
  const internal = errorsByReason.get('internal') as Increment
  const add = (counter: Increment) => (count: number): void => { if (count > 0) counter.inc(count) }
  return {
    sessionOpened: (session) => { if (session.transport.name === 'websocket') families.wsConnections.inc() },
    messageInbound: () => { families.inbound.inc() },
    messagesOutbound: add(families.outbound),
    // An unknown reason (from untyped code) is counted as internal rather than creating a new series.
    error: (reason) => { (knownReasons.has(reason) ? errorsByReason.get(reason) as Increment : internal).inc() },
    published: (_message, seconds) => { publishDuration.observe(seconds) },
    longPollSessionCreated: () => { families.longPollSessions.inc() },
    longPollPolled: () => { families.polls.inc() },
    longPollEnqueued: add(families.enqueued),
    longPollDrained: add(families.drained),
    longPollDropped: add(families.dropped),
    brokerError: () => { families.brokerErrors.inc() },
    gapRepaired: () => { families.gapsRepaired.inc() },
    streamInterrupted: add(families.interrupted),
    presenceDiffs: add(families.presenceDiffs),
    storeAppended: (count, seconds) => {
      if (count > 0) families.storeAppends.inc(count)
      // One sample per append, so the histogram's _count is vix_store_appends_total.
      for (let i = 0; i < count; i++) storeAppendDuration.observe(seconds)
    },
    transactionNotified: () => { families.transactionNotifications.inc() },
    transactionRepaired: () => { families.transactionRepairs.inc() },
    transactionDelivered: (seconds) => { families.transactionDelivery.observe(seconds) },
    limitRejected: (limit) => { rejectionsByLimit.get(limit)?.inc() }
  }
}
