import type { Redis } from 'ioredis'
import type { NatsConnection } from 'nats'
import { InvalidOptionError } from '../errors.js'
import { checkOptionKeys } from '../options.js'
import type { Logger } from '../hub/types.js'
import { NatsBroker } from './nats.js'
import { RedisBroker } from './redis.js'
import { checkClusterOption, type RedisClusterOption } from './redis-cluster-options.js'
import { RedisClusterBroker } from './redis-cluster.js'
import { ShardedRedisBroker } from './redis-shards.js'
import { isSubjectPrefix } from './subject.js'
import type { Broker } from './types.js'

/** The umbrella's `broker` option: a Broker of your own, Redis by URL or client (several independent servers as a list, a Redis Cluster as `{ cluster, sharded: true }`), or NATS by URL or connection. */
export type BrokerOption = Broker | { redis: string | Redis | Array<string | Redis> | RedisClusterOption, prefix?: string } | { nats: string | NatsConnection, prefix?: string }

const expected = 'expected a Broker, { redis: url | client | [url | client, ...] | { cluster: [host:port, ...], sharded: true }, prefix? } or { nats: url | connection, prefix? }'

const isBroker = (value: object): value is Broker => typeof (value as Partial<Broker>).publish === 'function'

const isRedisClient = (value: unknown): value is Redis => typeof value === 'object' && value !== null && typeof (value as Partial<Redis>).duplicate === 'function'

const isRedisUrl = (value: unknown): value is string => typeof value === 'string' && /^rediss?:\/\/\S+$/.test(value)

/** Two or more servers, each a URL or a client, none twice: the list of a `ShardedRedisBroker`. */
function checkRedisServers (servers: unknown[]): Array<string | Redis> {
  if (servers.length === 0) throw new InvalidOptionError('broker.redis', 'expected two or more redis:// URLs or ioredis clients, got an empty list')
  if (servers.length === 1) throw new InvalidOptionError('broker.redis', 'a list of one server: use redis: url (or client) for a single Redis')
  servers.forEach((server, index) => {
    if (!isRedisClient(server) && !isRedisUrl(server)) throw new InvalidOptionError(`broker.redis[${index}]`, 'expected a redis:// or rediss:// URL or an ioredis client')
    const first = servers.indexOf(server)
    if (first !== index) throw new InvalidOptionError(`broker.redis[${index}]`, `the same server as broker.redis[${first}]`)
  })
  return servers as Array<string | Redis>
}

const isNatsConnection = (value: unknown): value is NatsConnection => typeof value === 'object' && value !== null &&
  ['subscribe', 'publish', 'flush', 'drain', 'status'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function')

/** `nats://` or `tls://` URLs, comma-separated (a cluster's seeds). */
const isNatsUrl = (value: unknown): value is string => typeof value === 'string' && value.split(',').every((url) => /^(nats|tls):\/\/[^\s,]+$/.test(url.trim()))

/**
 * Turn the `broker` option into a Broker: kept as it is when it is one, a
 * `RedisBroker` for `{ redis, prefix }`, a `ShardedRedisBroker` for
 * `{ redis: [url1, url2, ...], prefix }`, a `RedisClusterBroker` for
 * `{ redis: { cluster: ['host:port', ...], sharded: true }, prefix }`, a `NatsBroker` for `{ nats, prefix }`,
 * undefined (in-process) when absent. A bad value fails boot with
 * `VIX_ERR_INVALID_OPTION`.
 *
 * @example
 * const broker = resolveBrokerOption({ redis: process.env.REDIS_URL, prefix: 'chat:' }, app.log)
 * const other = resolveBrokerOption({ nats: process.env.NATS_URL, prefix: 'chat.' }, app.log)
 */
export function resolveBrokerOption (option: unknown, logger?: Logger): Broker | undefined {
  if (option === undefined) return undefined
  if (typeof option !== 'object' || option === null) throw new InvalidOptionError('broker', expected)
  if (isBroker(option)) return option
  checkOptionKeys(option, { redis: true, nats: true, prefix: true }, 'broker')
  const { redis, nats, prefix } = option as { redis?: unknown, nats?: unknown, prefix?: unknown }
  if (redis !== undefined && nats !== undefined) throw new InvalidOptionError('broker', 'give redis or nats, not both')
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0)) throw new InvalidOptionError('broker.prefix', 'expected a non-empty string')
  if (nats !== undefined) {
    if (!isNatsConnection(nats) && !isNatsUrl(nats)) throw new InvalidOptionError('broker.nats', 'expected a nats:// or tls:// URL (several comma-separated) or a NATS connection')
    if (prefix !== undefined && !isSubjectPrefix(prefix)) throw new InvalidOptionError('broker.prefix', 'expected a NATS subject prefix: no spaces, * or >, no empty token (e.g. "chat.")')
    return new NatsBroker({ nats, prefix, logger })
  }
  if (redis === undefined) throw new InvalidOptionError('broker', expected)
  if (Array.isArray(redis)) return new ShardedRedisBroker({ redis: checkRedisServers(redis), prefix, logger })
  if (typeof redis === 'object' && redis !== null && !isRedisClient(redis)) return new RedisClusterBroker({ ...checkClusterOption(redis, prefix), prefix, logger })
  if (!isRedisClient(redis) && !isRedisUrl(redis)) {
    throw new InvalidOptionError('broker.redis', 'expected a redis:// or rediss:// URL or an ioredis client')
  }
  return new RedisBroker({ redis, prefix, logger })
}
