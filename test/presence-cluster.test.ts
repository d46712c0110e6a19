import t, { type Test } from 'tap'
import { fileURLToPath } from 'node:url'
import { bundleForChild, startNode, type NodeProcess } from './helpers/child.js'
import { redisAvailable, redisUrl, uniquePrefix } from './helpers/redis.js'
import { requireService } from './helpers/services.js'
import { delay, waitFor } from './helpers/wait.js'
import { connectUrl, type TestClient } from './helpers/ws-client.js'

const nodeFile = fileURLToPath(new URL('./fixtures/presence-node.ts', import.meta.url))
/** The fixture's presence timings. */
const TTL = 1500
const HEARTBEAT = 200
const GRACE = 2500

type Node = NodeProcess

async function startPresenceNode (t: Test, bundle: string, prefix: string): Promise<Node> {
  return await startNode(t, bundle, prefix, { REDIS_URL: redisUrl, VIX_REDIS_PREFIX: prefix }, 30_000)
}

async function member (t: Test, node: Node, user: string): Promise<TestClient> {
  const client = await connectUrl(node.ws, { headers: { 'x-user': user } })
  t.teardown(() => { client.close() })
  await client.join('lobby')
  return client
}

async function keysAt (node: Node): Promise<string[]> {
  const body = await (await fetch(`${node.base}/ws/presence?room=lobby`, { headers: { 'x-user': 'reader' } })).json() as { members: Array<{ key: string }> }
  return body.members.map((m) => m.key).sort()
}

const diffsOf = (client: TestClient): any[] => client.frames.filter((f: any) => f.type === 'presence.diff').map((f: any) => f.payload)
const mentions = (diffs: any[], key: string): any[] => diffs.filter((d) => [...d.joins, ...d.leaves].some((m: any) => m.key === key))

t.test('presence across nodes in separate processes over Redis', async (t) => {
  const redis = await redisAvailable()
  if (!requireService(t, 'redis', redis.ok, redis.reason)) return
  const bundle = await bundleForChild(nodeFile, t.testdir())
  const prefix = uniquePrefix()
  const [a, b] = await Promise.all([startPresenceNode(t, bundle, prefix), startPresenceNode(t, bundle, prefix)])

  const ada = await member(t, a, 'ada')
  const bob = await member(t, b, 'bob')
  await member(t, b, 'carol')
  await waitFor(async () => (await keysAt(a)).length === 3 && (await keysAt(b)).length === 3, { timeout: 5000, interval: 50, message: 'one list' })
  t.same(await keysAt(a), ['"ada"', '"bob"', '"carol"'], 'node A sees the members of both nodes')
  t.same(await keysAt(b), await keysAt(a), 'node B sees the same list')
  await ada.waitFor((f) => f.type === 'presence.diff' && f.payload.joins.some((j: any) => j.key === '"carol"'))
  const bobState = bob.frames.find((f: any) => f.type === 'presence.state')
  t.ok(bobState, 'B\'s member got a presence.state')

  // SIGKILL of B: its members leave A's view within the TTL (plus a sweep and a window).
  const killedAt = Date.now()
  b.process.kill('SIGKILL')
  await waitFor(async () => (await keysAt(a)).length === 1, { timeout: TTL + 3 * HEARTBEAT + 1000, interval: 50, message: 'B\'s members did not expire within the bound' })
  await ada.waitFor((f) => f.type === 'presence.diff' && f.payload.leaves.some((l: any) => l.key === '"bob"'), 2000)
  t.comment(`B's members left A's view ${Date.now() - killedAt} ms after SIGKILL (ttl ${TTL} ms)`)
  t.ok(Date.now() - killedAt >= TTL - HEARTBEAT, 'not before the ttl')
  t.same(await keysAt(a), ['"ada"'])

  // A graceful restart of B: dave reconnects to A within the grace period and never flaps.
  const b2 = await startPresenceNode(t, bundle, prefix)
  const dave = await member(t, b2, 'dave')
  await waitFor(async () => (await keysAt(a)).includes('"dave"'), { timeout: 5000, interval: 50, message: 'A sees dave' })
  await delay(300)
  const before = diffsOf(ada).length
  t.equal(mentions(diffsOf(ada), '"dave"').length, 1, 'dave joined once')
  b2.process.kill('SIGTERM')
  await dave.waitFor((f) => f.type === 'server.going_away', 5000)
  dave.close()
  const daveAgain = await member(t, a, 'dave')
  const state = await daveAgain.waitFor((f) => f.type === 'presence.state')
  t.ok(state.payload.members.some((m: any) => m.key === '"dave"'))
  await new Promise((resolve) => b2.process.once('exit', resolve))
  // Past the grace period (and a sweep): B2's entries are gone, dave stays through his connection on A.
  await delay(GRACE + 2 * HEARTBEAT + 300)
  t.same(mentions(diffsOf(ada).slice(before), '"dave"'), [], 'no leave/join flap for dave')
  t.same(await keysAt(a), ['"ada"', '"dave"'])
  const daveNow = (await (await fetch(`${a.base}/ws/presence?room=lobby`, { headers: { 'x-user': 'reader' } })).json() as any).members.find((m: any) => m.key === '"dave"')
  t.equal(daveNow.connections, 1, 'one connection: the one on A')
})
