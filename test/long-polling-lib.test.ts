import t from 'tap'
import { ErrorCodes, ForbiddenError, codedError } from '../lib/errors.js'
import { Hub } from '../lib/hub/hub.js'
import { errorOfDispatch, httpErrorOf } from '../lib/http-errors.js'
import { LongPollManager } from '../lib/long-polling/manager.js'
import { PollSession } from '../lib/long-polling/session.js'
import { delay } from './helpers/wait.js'

const frame = (n: number): string => `{"n":${n}}`

t.test('PollSession: a growing ring that keeps order across wrap-around', async (t) => {
  const poll = new PollSession({ id: 's', identityKey: undefined, maxBuffer: 20, now: 0 })
  for (let i = 0; i < 5; i++) poll.push(frame(i))
  t.same(poll.take(3).frames, [frame(0), frame(1), frame(2)])
  t.equal(poll.confirm(3), 3)
  for (let i = 5; i < 30; i++) poll.push(frame(i))
  t.equal(poll.size, 20, 'bounded by maxBuffer')
  const batch = poll.take(100)
  t.same(batch.frames, Array.from({ length: 20 }, (_, i) => frame(i + 10)), 'the oldest went first, order kept')
  t.equal(batch.next, 30)
  t.equal(batch.dropped, 7, 'frames 3..9 were never confirmed and are gone')
  t.equal(poll.confirm(30), 20)
  t.equal(poll.size, 0)
  t.equal(poll.take(10).dropped, 0)
  t.equal(poll.nextSeq, 30)
})

t.test('PollSession: confirm ignores cursors behind the confirmed point', async (t) => {
  const poll = new PollSession({ id: 's', identityKey: undefined, maxBuffer: 4, now: 0 })
  poll.push(frame(0))
  poll.push(frame(1))
  poll.take(2)
  t.equal(poll.confirm(2), 2)
  t.equal(poll.confirm(1), 0)
  poll.push(frame(2))
  t.same(poll.take(5).frames, [frame(2)])
  poll.wake('timeout')
  t.equal(poll.waiter, null, 'waking with no waiter is harmless')
})

t.test('LongPollManager: the sweeper runs on its own timer with an injected clock', async (t) => {
  const hub = new Hub()
  let now = 1_000
  const closed: number[] = []
  hub.onClose((_session, code) => { closed.push(code) })
  const manager = new LongPollManager(hub.longPollParts(), { sessionTtl: 100, maxBuffer: 8, sweepInterval: 5, now: () => now })
  t.teardown(() => { manager.close() })
  const { poll: idle } = manager.create(undefined)
  const { poll: busy } = manager.create(undefined)
  const held = manager.poll(busy, { wait: 10_000, max: 10 })
  t.type(held, 'object', 'held: nothing queued')
  now += 50
  await delay(30)
  t.equal(manager.size, 2, 'not idle long enough')
  now += 100
  const deadline = Date.now() + 3000
  while (manager.get(idle.id, undefined) !== undefined && Date.now() < deadline) await delay(5)
  t.equal(manager.get(idle.id, undefined), undefined, 'swept by the timer')
  t.ok(manager.get(busy.id, undefined), 'a session with a held poll is never swept')
  t.same(closed, [1001])
  if (typeof held !== 'object') throw new Error('expected a held poll')
  held.cancel()
  t.equal(await held.done, null, 'a cancelled poll answers nothing')
  now += 1000
  t.equal(manager.sweep(), 1)
  t.equal(manager.size, 0)
  manager.expire(busy, 1000)
  t.same(closed, [1001, 1001], 'expiring twice closes once')
})

t.test('LongPollManager: identities are compared by value; unserializable ones by string', async (t) => {
  const hub = new Hub()
  const manager = new LongPollManager(hub.longPollParts(), { sessionTtl: 1000, maxBuffer: 8 })
  t.teardown(() => { manager.close() })
  const { poll } = manager.create({ user: 'alice' })
  t.ok(manager.get(poll.id, { user: 'alice' }))
  t.equal(manager.get(poll.id, { user: 'bob' }), undefined)
  t.equal(manager.get(poll.id, undefined), undefined)
  const circular: Record<string, unknown> = {}
  circular.self = circular
  const { poll: odd } = manager.create(circular)
  t.ok(manager.get(odd.id, circular))
  // identityKey is the hub's option: every transport compares identities alike.
  const keyedHub = new Hub({ identityKey: (identity) => (identity as { id: string }).id })
  const custom = new LongPollManager(keyedHub.longPollParts(), { sessionTtl: 1000, maxBuffer: 8 })
  t.teardown(() => { custom.close() })
  const { poll: keyed, session } = custom.create({ id: 'u1', name: 'Ann' })
  t.equal(keyed.identityKey, 'u1')
  t.equal(session.identityKey, 'u1', 'the hub session has the same key')
  t.ok(custom.get(keyed.id, { id: 'u1', name: 'Ann B.' }), 'the hub\'s key decides')
  t.equal(custom.get(keyed.id, { id: 'u2', name: 'Ann' }), undefined)
})

t.test('LongPollManager: frames pushed together leave in one answer', async (t) => {
  const hub = new Hub()
  const manager = new LongPollManager(hub.longPollParts(), { sessionTtl: 1000, maxBuffer: 8 })
  t.teardown(() => { manager.close() })
  const { poll, session } = manager.create(undefined)
  const held = manager.poll(poll, { wait: 10_000, max: 10 })
  if (typeof held !== 'object') throw new Error('expected a held poll')
  session.sendSerialized('{"a":1}')
  session.sendSerialized('{"b":2}')
  t.same(JSON.parse(await held.done as string).messages, [{ a: 1 }, { b: 2 }])
  t.equal(manager.poll(poll, { ack: 0, wait: 0, max: 10 }), `{"session_id":"${poll.id}","messages":[{"a":1},{"b":2}],"next":2,"dropped":0}`, 'not acked, so sent again')
})

t.test('httpErrorOf maps every error to a VIX_ERR answer', async (t) => {
  const limits = { bodyLimit: 10 }
  t.same(httpErrorOf(codedError(ErrorCodes.FORBIDDEN, 'no', { path: '/room' }), limits), { statusCode: 403, code: ErrorCodes.FORBIDDEN, error: 'Forbidden', message: 'no', path: '/room' })
  t.same(httpErrorOf(new ForbiddenError('may not'), limits), { statusCode: 403, code: ErrorCodes.FORBIDDEN, error: 'Forbidden', message: 'Forbidden: may not' }, 'a thrown coded error keeps its status and table message')
  t.same(httpErrorOf(errorOfDispatch({ ok: false, code: ErrorCodes.INVALID_MESSAGE, message: '/payload/text: Expected string', path: '/payload/text' }), limits),
    { statusCode: 400, code: ErrorCodes.INVALID_MESSAGE, error: 'Bad Request', message: '/payload/text: Expected string', path: '/payload/text' }, 'a failed dispatch answers its code, message and path')
  t.same(httpErrorOf({ code: ErrorCodes.SESSION_BUSY, message: 'busy' }, limits), { statusCode: 409, code: ErrorCodes.SESSION_BUSY, error: 'Conflict', message: 'busy' })
  t.same(httpErrorOf({ code: 'FST_ERR_CTP_BODY_TOO_LARGE' }, limits).message, 'Message larger than 10 bytes')
  t.same(httpErrorOf({ code: 'FST_ERR_VALIDATION', validation: [{ instancePath: '', message: 'bad' }], validationContext: 'querystring' }, limits),
    { statusCode: 400, code: ErrorCodes.INVALID_REQUEST, error: 'Bad Request', message: 'querystring/: bad', path: '/' })
  t.same(httpErrorOf({ code: 'FST_ERR_VALIDATION', validation: [] }, limits).message, 'request/: invalid')
  t.same(httpErrorOf({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'Unsupported Media Type' }, limits), { statusCode: 400, code: ErrorCodes.INVALID_MESSAGE, error: 'Bad Request', message: 'Unsupported Media Type' })
  t.same(httpErrorOf(new Error('secret'), limits), { statusCode: 500, code: ErrorCodes.INTERNAL, error: 'Internal Server Error', message: 'Internal error' })
  t.same(httpErrorOf('not an error', limits).code, ErrorCodes.INTERNAL)
  // One error table: a VIX_ERR_ code outside it is not one of ours, whatever status it claims.
  t.same(httpErrorOf({ code: 'VIX_ERR_TEAPOT', statusCode: 418, message: 'x' }, limits), { statusCode: 500, code: ErrorCodes.INTERNAL, error: 'Internal Server Error', message: 'Internal error' })
})
