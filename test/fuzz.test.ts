import t, { type Test } from 'tap'
import fc from 'fast-check'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { ErrorCodes } from '../plugins/index.js'
import { build } from './helpers/app.js'
import { PollClient } from './helpers/poll-client.js'
import { connect, type TestClient } from './helpers/ws-client.js'

const codes = new Set<string>(Object.values(ErrorCodes))
const frameKinds = new Set(['ack', 'error', 'event', 'system'])
/** Close codes the server documents (README, protocol). */
const closeCodes = new Set([1000, 1001, 1007, 1008, 1009, 1011, 1013])
/** Statuses the routes document. */
const statuses = new Set([200, 202, 400, 401, 403, 404, 409, 413, 429, 503])

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
process.on('unhandledRejection', onUnhandled)
t.teardown(() => { process.off('unhandledRejection', onUnhandled) })

const valid = [
  '{"type":"chat.message","room":"r","payload":{"text":"hi"}}',
  '{"id":"a1","type":"note","payload":{"text":"x","n":1}}',
  '{"type":"room.join","payload":{"room":"r","since":"abc"}}',
  '{"type":"room.leave","payload":{"room":"r"}}',
  '{"__proto__":{"polluted":true},"type":"chat.message","room":"r","payload":{"__proto__":{"polluted":true},"text":"p"}}',
  '{"constructor":{"prototype":{"polluted":true}},"type":"note","payload":{"constructor":{"prototype":{"polluted":true}}}}'
]

/** A valid frame with a few characters overwritten, cut, or doubled. */
const mutated = fc.tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 3 })), { maxLength: 4 }), fc.option(fc.nat())).map(([text, edits, cut]) => {
  let out = text
  for (const [at, insert] of edits) {
    const i = at % (out.length + 1)
    out = out.slice(0, i) + insert + out.slice(i + 1)
  }
  return cut === null ? out : out.slice(0, cut % (out.length + 1))
})

const jsonish = fc.record({
  id: fc.option(fc.oneof(fc.string({ maxLength: 200 }), fc.integer()), { nil: undefined }),
  type: fc.oneof(fc.constantFrom('chat.message', 'note', 'room.join', 'room.leave', 'server.going_away', 'error', 'presence.x', ''), fc.string({ maxLength: 80 })),
  room: fc.option(fc.oneof(fc.constant('r'), fc.string({ maxLength: 300 })), { nil: undefined }),
  payload: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })))
}, { requiredKeys: [] }).map((value) => JSON.stringify(value))

const text = fc.oneof(mutated, jsonish, fc.string({ maxLength: 200 }), fc.json({ maxDepth: 4 }), fc.constantFrom(...valid))
const wsFrame = fc.oneof({ weight: 6, arbitrary: text.map((s) => ({ binary: false as const, data: s })) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ binary: true as const, data: Buffer.from(b) })) })

function checkFrame (frame: unknown): string | undefined {
  if (typeof frame !== 'object' || frame === null) return `not a JSON frame: ${String(frame)}`
  const f = frame as Record<string, any>
  if (!frameKinds.has(f.kind)) return `unknown kind ${String(f.kind)}`
  if (f.kind === 'error' && !codes.has(f.payload?.code)) return `undocumented error code ${String(f.payload?.code)}`
  return undefined
}

async function fuzzApp (t: { teardown: (fn: () => unknown) => void }): Promise<{ app: FastifyInstance, witness: TestClient }> {
  const app = await build(t, { relayTypes: ['chat.message'], websocket: { maxMessageSize: 4096 } }, (app) => {
    app.realtime.on('note', { schema: Type.Object({ text: Type.String(), n: Type.Optional(Type.Integer()) }), maxSize: 2048 }, () => {})
  })
  const witness = await connect(app)
  await witness.join('r')
  return { app, witness }
}

async function stillUp (t: Test, app: FastifyInstance, witness: TestClient, what: string): Promise<void> {
  const message = await app.realtime.publish({ room: 'r', type: 'chat.message', payload: { text: what } })
  await witness.waitFor((f) => f.id === message.id)
  t.equal((await app.inject('/metrics')).statusCode, 200, `the server is up (${what})`)
  t.equal(witness.ws.readyState, witness.ws.OPEN, 'the witness is still connected')
  t.equal(({} as any).polluted, undefined, 'Object.prototype untouched')
  t.equal(Object.keys(Object.prototype).length, 0)
  t.equal(unhandled.length, 0, 'no unhandled rejection')
}

t.test('thousands of random and mutated WebSocket frames: every answer is a documented frame or close code', async (t) => {
  const { app, witness } = await fuzzApp(t)
  let sent = 0
  await fc.assert(fc.asyncProperty(fc.array(wsFrame, { minLength: 20, maxLength: 80 }), async (frames) => {
    const client = await connect(app)
    for (const f of frames) client.ws.send(f.data, { binary: f.binary })
    sent += frames.length
    // Frames of a session are answered in order: the sentinel's ack comes after every answer to them.
    client.send({ id: 'sentinel', type: 'room.join', payload: { room: 'sentinel' } })
    const outcome = await Promise.race([
      client.waitFor((f) => f.kind === 'ack' && f.id === 'sentinel', 5000).then(() => null),
      client.closed
    ])
    for (const frame of client.frames) {
      const problem = checkFrame(frame)
      if (problem !== undefined) throw new Error(problem)
    }
    if (outcome !== null && !closeCodes.has(outcome.code)) throw new Error(`undocumented close code ${outcome.code}`)
    client.close()
  }), { numRuns: 80 })
  t.ok(sent >= 1000, `${sent} frames sent`)
  await stillUp(t, app, witness, 'after the frame fuzz')
})

t.test('thousands of random HTTP bodies and query strings: every answer is a documented status with a coded JSON body', async (t) => {
  const { app, witness } = await fuzzApp(t)
  const poll = await PollClient.create(app)
  await poll.join('r')
  const query = fc.oneof(fc.constant(`session_id=${poll.sessionId}`), fc.string({ maxLength: 40 }).map((s) => `session_id=${encodeURIComponent(s)}`),
    fc.tuple(fc.constantFrom('wait', 'ack', 'max', 'session_id', 'x'), fc.string({ maxLength: 12 })).map(([k, v]) => `${k}=${encodeURIComponent(v)}`))
  let requests = 0
  await fc.assert(fc.asyncProperty(text, query, fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8'), async (body, qs, contentType) => {
    for (const request of [
      { method: 'POST' as const, url: `/ws/send?${qs}`, headers: { 'content-type': contentType }, payload: body },
      { method: 'GET' as const, url: `/ws/poll?${qs}&wait=0` }
    ]) {
      const response = await app.inject(request)
      requests++
      if (!statuses.has(response.statusCode) && response.statusCode !== 415) throw new Error(`undocumented status ${response.statusCode} for ${JSON.stringify(request)}`)
      const answer = response.json()
      if (response.statusCode >= 400 && (!codes.has(answer.code) && !(response.statusCode === 415 && /^FST_ERR_CTP/.test(answer.code)))) {
        throw new Error(`undocumented error body ${response.body}`)
      }
    }
  }), { numRuns: 1500 })
  t.ok(requests >= 3000, `${requests} requests`)
  // The fuzzed session may have left the room (a random room.leave): a fresh one shows long polling still works.
  const fresh = await PollClient.create(app)
  await fresh.join('r')
  t.equal((await fresh.send({ room: 'r', type: 'chat.message', payload: { text: 'the poll session too' } })).statusCode, 202)
  await witness.waitFor((f) => f.kind === 'event' && f.payload.text === 'the poll session too')
  await stillUp(t, app, witness, 'after the HTTP fuzz')
})
