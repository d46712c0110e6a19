import { Counter, Gauge, type Registry } from 'prom-client'
import type { Dependency } from '../health.js'
import { brokerLinkFamilies } from './broker-links.js'
import { MetricNames } from './names.js'

/** What the metrics read of the hub at scrape time. */
export interface ScrapedParts {
  sessions: ReadonlyMap<string, { transport: { name: string, queued?: () => number } }>
  /** Rooms with at least one member. */
  roomCount: () => number
  /** Members of presence rooms as this node's clients see them (0 when presence is off). */
  presenceSize: () => number
  brokerConnected: () => boolean
  /** The node's dependencies (Redis, PostgreSQL). */
  dependencies: () => Iterable<Dependency>
}

/**
 * Registers the families computed from the hub's live state when scraped,
 * so they cannot drift whatever way a connection ended.
 */
export function scrapedFamilies (registry: Registry, parts: ScrapedParts): void {
  const registers = [registry]
  const gauge = (name: string, help: string, read: () => number): Gauge => new Gauge({
    name,
    help,
    registers,
    collect () { this.set(read()) }
  })
  // No room label: a gauge per room would grow with the rooms.
  gauge(MetricNames.presenceMembers, 'Members of presence rooms as this node\'s clients see them, summed over rooms', () => parts.presenceSize())
  dependencyFamilies(registry, parts.dependencies)
  gauge(MetricNames.brokerConnected, '1 while the broker is connected (always 1 on a single node)', () => parts.brokerConnected() ? 1 : 0)
  brokerLinkFamilies(registry, parts.dependencies)
  gauge(MetricNames.wsConnectionsActive, 'Open WebSocket connections', () => countSessions(parts.sessions, 'websocket'))
  gauge(MetricNames.wsRoomsActive, 'Rooms with at least one member', () => parts.roomCount())
  gauge(MetricNames.longPollSessionsActive, 'Live long-polling sessions', () => countSessions(parts.sessions, 'long-polling'))
  gauge(MetricNames.longPollBufferedMessages, 'Frames waiting in long-polling queues', () => bufferedFrames(parts.sessions))
  sessionsByTransport(registry, parts.sessions)
}

/** Live sessions by transport: every transport's label is exposed, at 0 when it has none. */
function sessionsByTransport (registry: Registry, sessions: ScrapedParts['sessions']): void {
  registry.registerMetric(new Gauge({
    name: MetricNames.sessionsActive,
    help: 'Live sessions by transport (websocket, long-polling, sse)',
    labelNames: ['transport'],
    registers: [],
    collect () {
      const counts = new Map<string, number>([['websocket', 0], ['long-polling', 0], ['sse', 0]])
      for (const session of sessions.values()) counts.set(session.transport.name, (counts.get(session.transport.name) ?? 0) + 1)
      for (const [transport, count] of counts) this.labels(transport).set(count)
    }
  }))
}

// Read from the hub's health at scrape time: an outage at boot, before this registry existed, is counted too.
function dependencyFamilies (registry: Registry, dependencies: () => Iterable<Dependency>): void {
  const countedOutages = new Map<string, number>()
  registry.registerMetric(new Counter({
    name: MetricNames.dependencyErrorsTotal,
    help: 'Outages of a dependency (Redis, PostgreSQL): times it became unreachable, at boot or later; each is logged once as VIX_ERR_DEPENDENCY_UNAVAILABLE',
    labelNames: ['dependency'],
    registers: [],
    collect () {
      for (const dependency of dependencies()) {
        const name = dependency.spec.name
        this.labels(name).inc(dependency.outages - (countedOutages.get(name) ?? 0))
        countedOutages.set(name, dependency.outages)
      }
    }
  }))
  registry.registerMetric(new Gauge({
    name: MetricNames.dependencyUp,
    help: '1 while a dependency (Redis, PostgreSQL) is reachable, 0 while it is not',
    labelNames: ['dependency'],
    registers: [],
    collect () {
      for (const dependency of dependencies()) this.labels(dependency.spec.name).set(dependency.state === 'up' ? 1 : 0)
    }
  }))
}

function countSessions (sessions: ScrapedParts['sessions'], transportName: string): number {
  let count = 0
  for (const session of sessions.values()) {
    if (session.transport.name === transportName) count++
  }
  return count
}

function bufferedFrames (sessions: ScrapedParts['sessions']): number {
  let total = 0
  for (const session of sessions.values()) total += session.transport.queued?.() ?? 0
  return total
}
