import t from 'tap'
import { NatsBroker } from '../lib/broker/nats.js'
import { RedisBroker } from '../lib/broker/redis.js'
import { ShardedRedisBroker } from '../lib/broker/redis-shards.js'
import { onlyMemberRooms } from './helpers/brokers.js'
import { natsAvailable, natsUrl, uniqueNatsPrefix } from './helpers/nats.js'
import { PrivateRedis, redisAvailable, redisUrl, uniquePrefix } from './helpers/redis.js'
import { requireService } from './helpers/services.js'

// The Redis Cluster broker is held to the same in test/redis-cluster.test.ts, on a private cluster.
const [redis, nats] = await Promise.all([redisAvailable(), natsAvailable()])

t.test('one Redis: a node receives only the rooms it has local members in', async (t) => {
  if (!requireService(t, 'redis', redis.ok, redis.reason)) return
  const prefix = uniquePrefix()
  await onlyMemberRooms(t, new RedisBroker({ redis: redisUrl, prefix }), new RedisBroker({ redis: redisUrl, prefix }))
})

t.test('several independent Redis servers: the same', async (t) => {
  const servers = await Promise.all([PrivateRedis.start(), PrivateRedis.start()].map(async (started) => await started.catch((error: Error) => error)))
  for (const server of servers) if (!(server instanceof Error)) t.teardown(() => server.stop())
  const failed = servers.find((server): server is Error => server instanceof Error)
  if (!requireService(t, 'redis-server', failed === undefined, `cannot start redis-server (${String(failed)})`)) return
  const urls = (servers as PrivateRedis[]).map((server) => server.url)
  const prefix = uniquePrefix()
  await onlyMemberRooms(t, new ShardedRedisBroker({ redis: urls, prefix }), new ShardedRedisBroker({ redis: urls, prefix }))
})

t.test('NATS: the same', async (t) => {
  if (!requireService(t, 'nats', nats.ok, nats.reason)) return
  const prefix = uniqueNatsPrefix()
  await onlyMemberRooms(t, new NatsBroker({ nats: natsUrl, prefix }), new NatsBroker({ nats: natsUrl, prefix }))
})
