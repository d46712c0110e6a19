import t from 'tap'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { build, type Teardown } from './helpers/app.js'
import { SseReader } from './helpers/sse.js'
import { connect, type TestClient } from './helpers/ws-client.js'
import { until, waitFor } from './helpers/wait.js'

// Last-Event-ID resumes every room of the stream from its cursor through the
// room.join `since` replay: exactly what was missed, once, joined to live by
// position; what cannot be honoured is said in the first frame.

async function chatApp (t: Teardown & { testdir: () => string }, extra: Record<string, unknown> = {}): Promise<FastifyInstance> {
  return await build(t, { relayTypes: ['chat.message'], store: { path: join(t.testdir(), 'm.db'), ...extra } })
}

async function publisher (app: FastifyInstance, rooms: string[]): Promise<TestClient> {
  const ws = await connect(app)
  for (const room of rooms) {
    ws.send({ type: 'room.join', payload: { room } })
    await ws.waitFor((f) => f.type === 'room.join' && f.room === room)
  }
  return ws
}

async function say (ws: TestClient, room: string, texts: string[]): Promise<void> {
  for (const text of texts) ws.send({ id: `${room}-${text}`, type: 'chat.message', room, payload: { text } })
  await ws.waitForCount((f) => f.kind === 'ack' && typeof f.id === 'string' && texts.some((text) => f.id === `${room}-${text}`), texts.length)
}

const texts = (reader: SseReader, room: string): string[] => reader.frames.filter((f) => f.kind === 'event' && f.room === room).map((f) => f.payload.text)
/** A stream of room a that got message '1', closed: its last event id. */
async function cursorAfterOne (app: FastifyInstance, ws: TestClient): Promise<string> {
  const first = await SseReader.connect(app, '?rooms=a')
  await say(ws, 'a', ['1'])
  await first.waitUntil(() => texts(first, 'a').length === 1)
  first.close()
  return first.lastEventId as string
}

const numbers = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String(from + i))

t.test('Last-Event-ID after N missed events in two rooms replays exactly those N, then live', async (t) => {
  const app = await chatApp(t)
  const ws = await publisher(app, ['a', 'b'])
  t.teardown(() => { ws.close() })
  const first = await SseReader.connect(app, '?rooms=a,b')
  await say(ws, 'a', ['1', '2'])
  await say(ws, 'b', ['1'])
  await first.waitUntil(() => texts(first, 'a').length === 2 && texts(first, 'b').length === 1)
  const cursor = first.lastEventId as string
  t.match(cursor, /^a@2\.[\w-]{4},b@1\.[\w-]{4}$/, 'the last id names both rooms')
  first.close()
  await until(() => app.realtime.rooms.size('a') === 1)

  await say(ws, 'a', ['3', '4', '5'])
  await say(ws, 'b', ['2'])
  const resumed = await SseReader.connect(app, '?rooms=a,b', { 'last-event-id': cursor })
  t.teardown(() => { resumed.close() })
  const opened = resumed.frames[0]
  t.equal(opened.type, 'session.opened')
  t.same(opened.payload.resume, {
    cursor: 'ok',
    recovered: true,
    rooms: [
      { room: 'a', since: cursor.split(',')[0].slice(2), recovered: true, replayed: 3, pos: resumed.frames.find((f) => f.payload?.text === '5').pos },
      { room: 'b', since: cursor.split(',')[1].slice(2), recovered: true, replayed: 1, pos: resumed.frames.find((f) => f.room === 'b' && f.payload?.text === '2').pos }
    ]
  })
  t.same(texts(resumed, 'a'), ['3', '4', '5'], 'exactly the missed ones of a')
  t.same(texts(resumed, 'b'), ['2'], 'and of b')
  await say(ws, 'a', ['6'])
  await resumed.waitUntil(() => texts(resumed, 'a').length === 4)
  t.same(texts(resumed, 'a'), ['3', '4', '5', '6'], 'then live, nothing twice')
})

t.test('the lastEventId query parameter resumes too, and the header wins over it', async (t) => {
  const app = await chatApp(t)
  const ws = await publisher(app, ['a'])
  t.teardown(() => { ws.close() })
  await say(ws, 'a', ['1', '2', '3'])
  const head = (await SseReader.connect(app, '?rooms=a'))
  const pos3: string = head.frames.find((f) => f.type === 'room.join').payload.pos
  head.close()
  const pos1 = pos3.replace(/^3\./, '1.')
  const byQuery = await SseReader.connect(app, `?lastEventId=${encodeURIComponent(`a@${pos1}`)}`)
  t.same(texts(byQuery, 'a'), ['2', '3'], 'from the query parameter')
  byQuery.close()
  const pos2 = pos3.replace(/^3\./, '2.')
  const both = await SseReader.connect(app, `?lastEventId=${encodeURIComponent(`a@${pos1}`)}`, { 'last-event-id': `a@${pos2}` })
  t.same(texts(both, 'a'), ['3'], 'the header wins')
  both.close()
})

t.test('a cursor of another epoch, beyond the head or malformed gets an explicit first frame', async (t) => {
  const app = await chatApp(t)
  const ws = await publisher(app, ['a', 'b'])
  t.teardown(() => { ws.close() })
  await say(ws, 'a', ['1', '2'])
  const other = await SseReader.connect(app, '', { 'last-event-id': 'a@1.ZZZZ,b' })
  t.teardown(() => { other.close() })
  const resume = other.frames[0].payload.resume
  t.equal(resume.cursor, 'ok')
  t.equal(resume.recovered, false, 'not everything was recovered')
  t.match(resume.rooms[0], { room: 'a', since: '1.ZZZZ', recovered: false, replayed: 0 })
  t.match(resume.rooms[0].pos, /^2\./, 'the live stream of a continues from its head')
  t.match(resume.rooms[1], { room: 'b', since: null, recovered: false })
  t.same(texts(other, 'a'), [], 'nothing replayed from another epoch')
  await say(ws, 'a', ['3'])
  await other.waitUntil(() => texts(other, 'a').length === 1)

  const malformed = await SseReader.connect(app, '?rooms=a', { 'last-event-id': 'a@nope' })
  t.teardown(() => { malformed.close() })
  t.same(malformed.frames[0].payload.resume, { cursor: 'malformed', recovered: false, rooms: [] })
  t.ok(malformed.frames.some((f) => f.type === 'room.join' && f.room === 'a'), '?rooms still joined')
})

t.test('a cursor beyond retention: not recovered, said first', async (t) => {
  const app = await chatApp(t, { retention: { maxMessages: 2, interval: 10 } })
  const ws = await publisher(app, ['a'])
  t.teardown(() => { ws.close() })
  const cursor = await cursorAfterOne(app, ws)
  await say(ws, 'a', ['2', '3', '4', '5'])
  await waitFor(async () => (await app.messageStore.listByRoom('a', { limit: 10 })).messages.length <= 2, { message: 'retention to prune room a' })
  const resumed = await SseReader.connect(app, '?rooms=a', { 'last-event-id': cursor })
  t.teardown(() => { resumed.close() })
  t.match(resumed.frames[0].payload.resume, { cursor: 'ok', recovered: false, rooms: [{ room: 'a', recovered: false, replayed: 0 }] })
  t.same(texts(resumed, 'a'), [], 'no partial replay')
})

t.test('a message published while the resume replays is delivered once, after the replayed ones', async (t) => {
  const app = await chatApp(t)
  const ws = await publisher(app, ['a'])
  t.teardown(() => { ws.close() })
  const cursor = await cursorAfterOne(app, ws)
  await say(ws, 'a', numbers(2, 300))
  const opening = SseReader.connect(app, '?rooms=a', { 'last-event-id': cursor })
  // Sent while the stream joins and replays.
  const live = say(ws, 'a', numbers(301, 320))
  const resumed = await opening
  t.teardown(() => { resumed.close() })
  await live
  await resumed.waitUntil(() => texts(resumed, 'a').length >= 319, 5000)
  t.same(texts(resumed, 'a'), numbers(2, 320), 'every message once, in order')
  const offsets = resumed.frames.filter((f) => f.kind === 'event').map((f) => Number(f.pos.split('.')[0]))
  t.same(offsets, Array.from({ length: 319 }, (_, i) => i + 2), 'offsets contiguous')
})
