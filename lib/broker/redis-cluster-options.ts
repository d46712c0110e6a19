import { InvalidOptionError } from '../errors.js'
import { checkOptionKeys } from '../options.js'
import type { ClusterSeed, RedisClusterBrokerOptions } from './redis-cluster.js'

/** `broker.redis` for a Redis Cluster: its seeds, sharded pub/sub, and how many partitions the rooms are hashed into. */
export interface RedisClusterOption {
  cluster: ClusterSeed[]
  sharded: true
  partitions?: number
}

const isSeed = (value: unknown): value is ClusterSeed => (typeof value === 'string' && /^[^\s:,]+:\d{1,5}$/.test(value)) ||
  (typeof value === 'object' && value !== null && typeof (value as { host?: unknown }).host === 'string' && Number.isInteger((value as { port?: unknown }).port))

/**
 * Check `broker.redis = { cluster, sharded, partitions }` (and that the
 * prefix leaves the channels' hash tags alone): a bad value fails boot with
 * `VIX_ERR_INVALID_OPTION` naming its path.
 *
 * @example
 * checkClusterOption({ cluster: ['10.0.0.1:7000'], sharded: true }, 'chat:')
 */
export function checkClusterOption (option: object, prefix: string | undefined): Pick<RedisClusterBrokerOptions, 'cluster' | 'sharded' | 'partitions'> {
  checkOptionKeys(option, { cluster: true, sharded: true, partitions: true }, 'broker.redis')
  const { cluster, sharded, partitions } = option as { cluster?: unknown, sharded?: unknown, partitions?: unknown }
  if (!Array.isArray(cluster) || cluster.length === 0) throw new InvalidOptionError('broker.redis.cluster', 'expected one or more seeds of a Redis Cluster: "host:port" or { host, port }')
  cluster.forEach((seed, index) => {
    if (!isSeed(seed)) throw new InvalidOptionError(`broker.redis.cluster[${index}]`, 'expected "host:port" or { host, port }')
  })
  if (sharded !== true) throw new InvalidOptionError('broker.redis.sharded', 'expected true: a Redis Cluster is used with sharded pub/sub (SSUBSCRIBE/SPUBLISH) only')
  if (partitions !== undefined && (!Number.isInteger(partitions) || (partitions as number) < 1 || (partitions as number) > 16384)) {
    throw new InvalidOptionError('broker.redis.partitions', 'expected an integer from 1 to 16384')
  }
  if (prefix !== undefined && /[{}]/.test(prefix)) throw new InvalidOptionError('broker.prefix', 'no { or } with a Redis Cluster: the channels\' hash tags follow the prefix')
  return { cluster: cluster as ClusterSeed[], sharded, partitions: partitions as number | undefined }
}
