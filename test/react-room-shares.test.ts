// The join sharing under @vix-realtime/react's hooks, on its own: a fake client
// that records each wire join and leave, and a manual clock for the leave delay.
import t from 'tap'
import { ClientErrorCodes, VixClientError, type JoinAck } from '@vix-realtime/client'
import { RoomShares, defaultLeaveDelay, type RoomClient } from '@vix-realtime/react'
import { FakeClock } from './helpers/fake-clock.js'

interface Call { op: 'join' | 'leave', room: string, since?: string | null }

/** A client whose joins wait until the test settles them. */
function fakeClient (): RoomClient & { calls: Call[], settle: (room: string, error?: VixClientError) => Promise<void>, leaveFails: boolean } {
  const waiting = new Map<string, { resolve: (ack: JoinAck) => void, reject: (error: VixClientError) => void }>()
  const fake = {
    calls: [] as Call[],
    leaveFails: false,
    async join (room: string, options: { since?: string | null }): Promise<JoinAck> {
      fake.calls.push({ op: 'join', room, since: options.since })
      return await new Promise<JoinAck>((resolve, reject) => { waiting.set(room, { resolve, reject }) })
    },
    async leave (room: string): Promise<void> {
      fake.calls.push({ op: 'leave', room })
      if (fake.leaveFails) throw new VixClientError(ClientErrorCodes.CLOSED, 'closed')
    },
    async settle (room: string, error?: VixClientError): Promise<void> {
      const join = waiting.get(room)
      if (join === undefined) throw new Error(`no join of ${room} waits`)
      waiting.delete(room)
      if (error === undefined) join.resolve({ room, recovered: true, replayed: 0, latestId: null })
      else join.reject(error)
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  return fake
}

t.test('StrictMode\'s acquire, release, acquire: one join, no leave', async (t) => {
  const client = fakeClient()
  const clock = new FakeClock()
  const shares = new RoomShares(client, { timers: clock })
  shares.acquire('general', { since: '3.ab' })()
  t.equal(clock.pending, 1, 'the leave waits')
  const release = shares.acquire('general', { since: '9.zz' })
  t.equal(clock.pending, 0, 'the second mount cancelled the leave')
  clock.tick(defaultLeaveDelay * 2)
  t.same(client.calls, [{ op: 'join', room: 'general', since: '3.ab' }], 'one wire join, with the first since')
  t.equal(shares.holders('general'), 1)
  release()
  release() // a second call of one release changes nothing
  t.equal(shares.holders('general'), 0)
})

t.test('holders share one join and its state; the last release leaves after the delay, once', async (t) => {
  const client = fakeClient()
  const clock = new FakeClock()
  const shares = new RoomShares(client, { leaveDelay: 1000, timers: clock })
  let changes = 0
  const unsubscribe = shares.subscribe('general', () => { changes++ })
  t.equal(shares.state('general').status, 'joining', 'a room nobody holds reads as joining')
  const first = shares.acquire('general')
  const second = shares.acquire('general')
  t.equal(shares.holders('general'), 2)
  await client.settle('general')
  t.equal(shares.state('general').status, 'joined')
  t.same(shares.state('general').ack, { room: 'general', recovered: true, replayed: 0, latestId: null })
  t.equal(changes, 1, 'subscribers saw the ack')
  first()
  clock.tick(5000)
  t.same(client.calls.map((c) => c.op), ['join'], 'one holder left: still joined')
  second()
  clock.tick(999)
  t.same(client.calls.map((c) => c.op), ['join'], 'not before the delay')
  clock.tick(1)
  t.same(client.calls.map((c) => c.op), ['join', 'leave'], 'left once the delay passed')
  t.equal(shares.state('general').status, 'joining', 'forgotten after the leave')

  shares.acquire('general')
  t.same(client.calls.map((c) => c.op), ['join', 'leave', 'join'], 'a later acquire joins again')
  await client.settle('general')
  t.equal(changes, 2, 'a subscriber from before the leave follows the new join')
  unsubscribe()
  unsubscribe()
})

t.test('a refused join is failed, with the error; an ack for a share already left is ignored', async (t) => {
  const client = fakeClient()
  const clock = new FakeClock()
  const shares = new RoomShares(client, { leaveDelay: 0, timers: clock })
  const release = shares.acquire('secret')
  await client.settle('secret', new VixClientError('VIX_ERR_FORBIDDEN', 'no'))
  t.equal(shares.state('secret').status, 'failed')
  t.equal(shares.state('secret').error?.code, 'VIX_ERR_FORBIDDEN')
  release()
  clock.tick(0)

  client.leaveFails = true
  shares.acquire('slow')()
  clock.tick(0)
  t.same(client.calls.slice(-2).map((c) => c.op), ['join', 'leave'], 'released before the ack: left (a failing leave is swallowed)')
  await client.settle('slow')
  t.equal(shares.state('slow').status, 'joining', 'the late ack does not bring back the share')
})

t.test('leaveDelay must be a number of ms', async (t) => {
  for (const leaveDelay of [-1, Number.NaN, 2 ** 31, '5' as unknown as number]) {
    t.throws(() => new RoomShares(fakeClient(), { leaveDelay }), { code: 'VIX_ERR_INVALID_OPTION' }, String(leaveDelay))
  }
  const shares = new RoomShares(fakeClient())
  t.equal(shares.holders('x'), 0, 'real timers by default')
})

t.test('real timers by default: the leave fires after the delay', async (t) => {
  const client = fakeClient()
  const shares = new RoomShares(client, { leaveDelay: 5 })
  shares.acquire('general')()
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.same(client.calls.map((c) => c.op), ['join', 'leave'])
  await client.settle('general')
})
