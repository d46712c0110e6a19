import t from 'tap'
import { join } from 'node:path'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import type { ReplayResult } from '../lib/store/types.js'
import type { MessageStorePluginOptions } from '../plugins/message-store.js'
import { build } from './helpers/app.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { delay } from './helpers/wait.js'

const REJOINS = 6

/**
 * SQLite reads are synchronous, so live fan-out can hardly slip between the
 * join and the replay read. A store with read latency (as a networked one
 * has) widens both windows: messages fanned out before the read, and
 * messages committed after it but before the replay is sent.
 */
class SlowReadStore extends SqliteMessageStore {
  override async replayFrom (room: string, afterId: string, limit: number): Promise<ReplayResult> {
    await delay(3)
    const result = await super.replayFrom(room, afterId, limit)
    await delay(3)
    return result
  }
}

const variants: Array<[string, (dir: string) => MessageStorePluginOptions]> = [
  ['SQLite', (dir) => ({ path: join(dir, 'race.db') })],
  ['SQLite with read latency', (dir) => ({ store: new SlowReadStore({ path: join(dir, 'race.db') }) })]
]

for (const [name, storeOptions] of variants) {
  t.test(`${name}: a client that keeps rejoining with since while another publishes nonstop gets every message once, in order`, async (t) => {
    const options = storeOptions(t.testdir())
    if (options.store !== undefined) t.teardown(() => options.store?.close())
    const app = await build(t, { relayTypes: ['chat.message'], store: options })
    const publisher = await connect(app)
    await publisher.join('race')

    const state = { sending: true }
    let sent = 0
    const publishing = (async () => {
      while (state.sending) {
      // A few frames per turn, without waiting for acks: appends keep landing during every replay.
        for (let i = 0; i < 3; i++) publisher.send({ id: `p${++sent}`, room: 'race', type: 'chat.message', payload: { n: sent } })
        await new Promise((resolve) => setImmediate(resolve))
        if (sent % 30 === 0) await delay(1)
      }
    })()

    const received: string[] = []
    const eventsOf = (client: TestClient): string[] => client.frames.filter((f: any) => f.kind === 'event').map((f: any) => f.id)
    let subscriber = await connect(app)
    const first = await subscriber.join('race')
    t.equal(first.payload.recovered, false, 'the first join has nothing to recover')
    const recoveries: any[] = []
    for (let round = 0; round < REJOINS; round++) {
      await subscriber.waitForCount((f) => f.kind === 'event', 5)
      subscriber.close()
      await subscriber.closed
      received.push(...eventsOf(subscriber))
      await delay(5)
      subscriber = await connect(app)
      const ack = await subscriber.join('race', received[received.length - 1])
      recoveries.push(ack.payload)
    }
    await subscriber.waitForCount((f) => f.kind === 'event', 5)
    state.sending = false
    await publishing
    const lastId = `p${sent}`
    await publisher.waitFor((f) => f.kind === 'ack' && f.id === lastId, 10_000)
    await subscriber.waitFor((f) => f.kind === 'event' && f.id === lastId, 10_000)
    received.push(...eventsOf(subscriber))

    t.ok(recoveries.every((payload) => payload.recovered === true), 'every rejoin recovered')
    t.ok(recoveries.some((payload) => payload.replayed > 0), 'and some had something to replay')
    const firstSeen = Number(received[0].slice(1))
    const expected = Array.from({ length: sent - firstSeen + 1 }, (_, i) => `p${firstSeen + i}`)
    t.equal(new Set(received).size, received.length, 'no duplicates')
    t.same(received, expected, `every message from the first one seen on, in order (${received.length} messages)`)

    const history = await app.inject({ method: 'GET', url: `/ws/history?room=race&after=${received[0]}&limit=500` })
    t.same(history.json().messages.map((m: any) => m.id), expected.slice(1, 501), 'the same order as the stored history')
  })
}
