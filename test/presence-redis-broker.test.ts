import t from 'tap'
import { Redis } from 'ioredis'
import { RedisBroker } from '../lib/broker/redis.js'
import type { BrokerEvents, ControlMessage } from '../lib/broker/types.js'
import { redisAvailable, redisUrl, uniquePrefix } from './helpers/redis.js'
import { requireService } from './helpers/services.js'
import { waitFor } from './helpers/wait.js'

t.test('RedisBroker: control messages travel on <prefix>presence; malformed ones are errors, not deliveries', async (t) => {
  const redis = await redisAvailable()
  if (!requireService(t, 'redis', redis.ok, redis.reason)) return
  const prefix = uniquePrefix()
  const received: ControlMessage[] = []
  const errors: unknown[] = []
  const events = (record: boolean): BrokerEvents => ({
    resync () {},
    connection () {},
    error (error) { errors.push(error) },
    control: record ? (message) => { received.push(message) } : undefined
  })
  const a = new RedisBroker({ redis: redisUrl, prefix })
  const b = new RedisBroker({ redis: redisUrl, prefix })
  t.teardown(async () => { await a.close(); await b.close() })
  await a.start(() => {}, events(false))
  await b.start(() => { throw new Error('a control message is not an envelope') }, events(true))
  t.equal(b.controlChannel, `${prefix}control`, 'named for what it carries: node-to-node control, not only presence')
  await a.publishControl({ node: 'a', type: 'presence.sync' })
  await waitFor(() => received.length === 1, { timeout: 3000, message: 'control message delivered' })
  t.same(received, [{ node: 'a', type: 'presence.sync' }])

  const raw = new Redis(redisUrl)
  t.teardown(() => { raw.disconnect() })
  await raw.publish(b.controlChannel, 'not json')
  await raw.publish(b.controlChannel, JSON.stringify({ node: 5 }))
  await waitFor(() => errors.length >= 4, { timeout: 3000, message: 'both brokers report both bad messages' })
  t.equal(received.length, 1, 'nothing malformed was handed on')
})
