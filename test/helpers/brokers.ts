import type { Test } from 'tap'
import type { Broker, Envelope } from '../../lib/broker/types.js'
import { delay, waitFor } from './wait.js'

const envelope = (room: string, id: string): Envelope => ({ node: 'a', room, message: { kind: 'event', type: 'chat', id, room, ts: '2026-01-01T00:00:00.000Z', payload: {} } })

/**
 * Node A publishes one message into each of 200 rooms; node B has members in
 * 10: its broker hands it those 10 rooms' messages and nothing else; after it
 * leaves 5 of them, only the other 5. Both brokers are started here and closed
 * at the end of the test.
 *
 * @example
 * await onlyMemberRooms(t, new RedisBroker({ redis: url, prefix }), new RedisBroker({ redis: url, prefix }))
 */
export async function onlyMemberRooms (t: Test, a: Broker, b: Broker): Promise<void> {
  t.teardown(async () => { await a.close(); await b.close() })
  const events = { resync () {}, connection () {}, error () {} }
  const delivered: string[] = []
  await a.start(() => {}, events)
  await b.start((e) => { delivered.push(e.message.id as string) }, events)
  const rooms = Array.from({ length: 200 }, (_, i) => `room-${i}`)
  const mine = rooms.filter((_, i) => i % 20 === 3)
  for (const room of mine) await b.subscribe(room)
  for (const room of rooms) await a.publish(envelope(room, `first ${room}`))
  await waitFor(() => delivered.length >= mine.length, { timeout: 5000, message: () => `node B received ${delivered.length}` })
  await delay(100)
  t.same(delivered.sort(), mine.map((room) => `first ${room}`).sort(), 'node B receives its 10 rooms\' messages, once each, and none of the other 190')

  delivered.length = 0
  for (const room of mine.slice(0, 5)) await b.unsubscribe(room)
  for (const room of rooms) await a.publish(envelope(room, `second ${room}`))
  await waitFor(() => delivered.length >= 5, { timeout: 5000, message: () => `node B received ${delivered.length}` })
  await delay(100)
  t.same(delivered.sort(), mine.slice(5).map((room) => `second ${room}`).sort(), 'after it left 5 of them, only the 5 it still has members in')
}
