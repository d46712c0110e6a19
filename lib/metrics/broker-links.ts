import { Counter, Gauge, type Registry } from 'prom-client'
import type { Dependency } from '../health.js'
import { MetricNames } from './names.js'

/**
 * Per broker connection (`redis`, `redis#2`, `redis-cluster`, `nats`),
 * labelled `link`: whether it is connected, its failures, and how often its
 * channels were subscribed again (after a drop, a failover, a resharding).
 * Read from the hub's health at scrape time, like the dependency families.
 */
export function brokerLinkFamilies (registry: Registry, dependencies: () => Iterable<Dependency>): void {
  const links = function * (): Iterable<[string, Dependency, NonNullable<Dependency['link']>]> {
    for (const dependency of dependencies()) if (dependency.link !== undefined) yield [dependency.spec.name, dependency, dependency.link]
  }
  registry.registerMetric(new Gauge({
    name: MetricNames.brokerLinkConnected,
    help: '1 while a broker connection (link) is connected and subscribed, 0 while it is not',
    labelNames: ['link'],
    registers: [],
    collect () {
      for (const [name, dependency] of links()) this.labels(name).set(dependency.state === 'up' ? 1 : 0)
    }
  }))
  const counter = (name: string, help: string, read: (link: NonNullable<Dependency['link']>) => number): void => {
    const counted = new Map<string, number>()
    registry.registerMetric(new Counter({
      name,
      help,
      labelNames: ['link'],
      registers: [],
      collect () {
        for (const [label, , link] of links()) {
          this.labels(label).inc(read(link) - (counted.get(label) ?? 0))
          counted.set(label, read(link))
        }
      }
    }))
  }
  counter(MetricNames.brokerLinkErrorsTotal, 'Failures of a broker connection (link): errors, failed subscribes, drops', (link) => link.errors)
  counter(MetricNames.brokerLinkResubscriptionsTotal, 'Times a broker connection (link) subscribed its channels again: after a drop, a failover or a resharding', (link) => link.resubscriptions)
}
