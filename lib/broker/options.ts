import type { Redis } from 'ioredis'
import type { NatsConnection } from 'nats'
import { InvalidOptionError } from '../errors.js'
import { checkOptionKeys } from '../options.js'
import type { Logger } from '../hub/types.js'
import { NatsBroker } from './nats.js'
import { RedisBroker } from './redis.js'
import { isSubjectPrefix } from './subject.js'
import type { Broker } from './types.js'

/** The umbrella's `broker` option: a Broker of your own, Redis by URL or client, or NATS by URL or connection. */
export type BrokerOption = Broker | { redis: string | Redis, prefix?: string } | { nats: string | NatsConnection, prefix?: string }

const expected = 'expected a Broker, { redis: url | client, prefix? } or { nats: url | connection, prefix? }'

const isBroker = (value: object): value is Broker => typeof (value as Partial<Broker>).publish === 'function'

const isRedisClient = (value: unknown): value is Redis => typeof value === 'object' && value !== null && typeof (value as Partial<Redis>).duplicate === 'function'

const isNatsConnection = (value: unknown): value is NatsConnection => typeof value === 'object' && value !== null &&
  ['subscribe', 'publish', 'flush', 'drain', 'status'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function')

/** `nats://` or `tls://` URLs, comma-separated (a cluster's seeds). */
const isNatsUrl = (value: unknown): value is string => typeof value === 'string' && value.split(',').every((url) => /^(nats|tls):\/\/[^\s,]+$/.test(url.trim()))

/**
 * Turn the `broker` option into a Broker: kept as it is when it is one, a
 * `RedisBroker` for `{ redis, prefix }`, a `NatsBroker` for `{ nats, prefix }`,
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
  if (!isRedisClient(redis) && (typeof redis !== 'string' || !/^rediss?:\/\//.test(redis))) {
    throw new InvalidOptionError('broker.redis', 'expected a redis:// or rediss:// URL or an ioredis client')
  }
  return new RedisBroker({ redis, prefix, logger })
}
