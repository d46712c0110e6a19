import type { Redis } from 'ioredis'
import { InvalidOptionError } from '../errors.js'
import { checkOptionKeys } from '../options.js'
import type { Logger } from '../hub/types.js'
import { RedisBroker } from './redis.js'
import type { Broker } from './types.js'

/** The umbrella's `broker` option: a Broker of your own, or Redis by URL or client. */
export type BrokerOption = Broker | { redis: string | Redis, prefix?: string }

const isBroker = (value: object): value is Broker => typeof (value as Partial<Broker>).publish === 'function'

/**
 * Turn the `broker` option into a Broker: kept as it is when it is one, a
 * `RedisBroker` for `{ redis, prefix }`, undefined (in-process) when absent.
 * A bad value fails boot with `VIX_ERR_INVALID_OPTION`.
 *
 * @example
 * const broker = resolveBrokerOption({ redis: process.env.REDIS_URL, prefix: 'chat:' }, app.log)
 */
export function resolveBrokerOption (option: unknown, logger?: Logger): Broker | undefined {
  if (option === undefined) return undefined
  if (typeof option !== 'object' || option === null) throw new InvalidOptionError('broker', 'expected a Broker or { redis: url | client, prefix? }')
  if (isBroker(option)) return option
  checkOptionKeys(option, { redis: true, prefix: true }, 'broker')
  const { redis, prefix } = option as { redis?: unknown, prefix?: unknown }
  const isClient = typeof redis === 'object' && redis !== null && typeof (redis as Partial<Redis>).duplicate === 'function'
  if (!isClient && (typeof redis !== 'string' || !/^rediss?:\/\//.test(redis))) {
    throw new InvalidOptionError('broker.redis', 'expected a redis:// or rediss:// URL or an ioredis client')
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0)) throw new InvalidOptionError('broker.prefix', 'expected a non-empty string')
  return new RedisBroker({ redis: redis as string | Redis, prefix, logger })
}
