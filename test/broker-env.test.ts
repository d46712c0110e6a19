import t from 'tap'
import { brokerOf } from '../example-app/banner.js'
import { brokerFromEnv } from '../lib/config.js'
import { startExampleApp } from './helpers/app.js'

t.test('brokerFromEnv: REDIS_URL or NATS_URL, with their prefixes; neither is in process; both is refused naming both', async (t) => {
  t.equal(brokerFromEnv({}), undefined)
  t.equal(brokerFromEnv({ REDIS_URL: '', NATS_URL: '' }), undefined, 'empty is unset')
  t.same(brokerFromEnv({ REDIS_URL: 'redis://h:6379', VIX_REDIS_PREFIX: 'chat:' }), { redis: 'redis://h:6379', prefix: 'chat:' })
  t.same(brokerFromEnv({ NATS_URL: 'nats://h:4222', VIX_NATS_PREFIX: 'chat.' }), { nats: 'nats://h:4222', prefix: 'chat.' })
  t.same(brokerFromEnv({ NATS_URL: 'nats://h:4222', VIX_REDIS_PREFIX: 'chat:' }), { nats: 'nats://h:4222', prefix: undefined }, 'the Redis prefix is not the NATS one')
  t.throws(() => brokerFromEnv({ REDIS_URL: 'redis://h', NATS_URL: 'nats://u:s3cret@h:4222' }), {
    code: 'VIX_ERR_INVALID_ENV',
    message: /^Invalid environment variable NATS_URL=nats:\/\/u:\[redacted\]@h:4222: REDIS_URL is set too: set one of REDIS_URL \(one Redis\), REDIS_URLS \(several independent Redis servers\), REDIS_CLUSTER \(a Redis Cluster\) or NATS_URL \(NATS\)$/
  })
})

t.test('the example app: NATS_URL picks NATS (named in its banner), both variables fail boot', async (t) => {
  t.match(brokerOf({ NATS_URL: 'nats://u:pw@bus:4222', VIX_NATS_PREFIX: 'chat.' }), /^NATS nats:\/\/u:\*\*\*@bus:4222\/?, prefix chat\. \(NATS_URL\)$/)
  t.match(brokerOf({}), /REDIS_URL, REDIS_URLS, REDIS_CLUSTER or NATS_URL/)
  await t.rejects(startExampleApp(t, { REDIS_URL: 'redis://127.0.0.1:1', NATS_URL: 'nats://127.0.0.1:1' }), { code: 'VIX_ERR_INVALID_ENV', message: /NATS_URL.*REDIS_URL/ })
  await t.rejects(startExampleApp(t, { NATS_URL: 'redis://127.0.0.1:1' }), { code: 'VIX_ERR_INVALID_OPTION', message: /"broker\.nats"/ }, 'a NATS_URL that is not one fails boot naming the option')
})
