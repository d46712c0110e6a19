import t from 'tap'
import { KeyedBuckets, TokenBucket } from '../lib/limits/token-bucket.js'
import { defaultRequestSerializer, redactingSerializer, serializersOf } from '../lib/redact.js'

t.test('a token bucket: full at start, refilled from the clock up to its burst, Retry-After in whole seconds', async (t) => {
  const bucket = new TokenBucket({ rate: 2, burst: 3 }, 0)
  t.same([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)], [true, true, true, false])
  t.equal(bucket.retryAfter(), 1, 'half a second to the next token, rounded up to one')
  t.equal(bucket.full(400), false)
  t.equal(bucket.take(500), true, 'one token per 500 ms')
  t.equal(bucket.full(10_000), true, 'never more than the burst')
  t.same([bucket.take(10_000), bucket.take(10_000), bucket.take(10_000), bucket.take(10_000)], [true, true, true, false])
  const slow = new TokenBucket({ rate: 0.1 }, 0)
  t.equal(slow.take(0), true, 'burst defaults to the rate (at least one)')
  t.equal(slow.retryAfter(), 10)
  t.equal(new TokenBucket({ rate: 1 }, 1000).take(500), true, 'a clock going back does not add tokens')
})

t.test('keyed buckets: one per key, the oldest forgotten past maxKeys', async (t) => {
  const buckets = new KeyedBuckets({ rate: 1, burst: 1 }, 2)
  t.equal(buckets.take('a', 0), true)
  t.equal(buckets.take('a', 0), false)
  t.equal(buckets.retryAfter('a'), 1)
  t.equal(buckets.retryAfter('unknown'), 1)
  t.equal(buckets.take('b', 0), true)
  t.equal(buckets.take('c', 0), true)
  t.equal(buckets.size, 2, 'memory stays bounded')
  t.equal(buckets.take('a', 0), true, 'a forgotten key starts with a full bucket')
})

t.test('request log serializers: Fastify\'s default shape, redacted; non-objects pass through', async (t) => {
  const serialize = redactingSerializer(defaultRequestSerializer)
  t.same(serialize({ method: 'GET', url: '/ws/poll?session_id=abc', headers: { 'accept-version': '1' }, host: 'h', ip: '1.2.3.4', socket: { remotePort: 5 } }),
    { method: 'GET', url: '/ws/poll?session_id=[redacted]', version: '1', host: 'h', remoteAddress: '1.2.3.4', remotePort: 5 })
  t.equal(redactingSerializer(() => 'text')({}), 'text')
  t.same(redactingSerializer(() => ({ headers: { Authorization: 'Bearer x', Cookie: 'c', accept: '*/*' } }))({}), { headers: { Authorization: '[redacted]', Cookie: '[redacted]', accept: '*/*' } })
  t.equal(serializersOf({}), undefined, 'a logger that is not pino has none')
})
