/**
 * Long-polling throughput next to bare Fastify routes, in the same run.
 *
 *   npx tsx bench/long-polling.ts
 *
 * The server runs in a child process (one core), autocannon in this one
 * (the other core), both on 127.0.0.1. Four scenarios, each pair run three
 * times in alternation (bare, ours, bare, ours, ...) so machine load hits both
 * sides alike; the median is shown:
 *
 * - bare POST: a Fastify route that parses the same JSON body and answers 202 `{id}`.
 * - POST /ws/send: the same body as a poll session's frame: hub dispatch, relay
 *   to the session's room (the session itself is the member), 202 `{id}`.
 * - bare GET: a Fastify route answering an object shaped like a poll response
 *   with the same five frames (serialized by Fastify).
 * - GET /ws/poll with data ready: five frames queued and never acked, so every
 *   poll answers them at once (`wait=0` is not needed: data is there).
 *
 * Each autocannon connection has its own session (one poll at a time per session).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import Fastify from 'fastify'
import vixRealtime from '../plugins/index.js'

const CONNECTIONS = 10
const DURATION_SECONDS = 3
const ROUNDS = 3
const FRAMES_READY = 5
const text = 'The quick brown fox jumps over the lazy dog'

if (process.argv[2] === '--server') {
  await serve()
} else {
  await main()
}

async function serve (): Promise<void> {
  const app = Fastify({ logger: false })
  await app.register(vixRealtime, { relayTypes: ['bench.message'], websocket: false })
  app.post('/bare/send', async (request, reply) => {
    const body = request.body as { id?: string }
    return await reply.code(202).send({ id: body.id ?? 'x' })
  })
  const frames = Array.from({ length: FRAMES_READY }, (_, i) => ({
    id: `0192f0c4-6d3b-7a51-9a9e-1c1f4b1a2b${String(i).padStart(2, '0')}`,
    kind: 'event',
    room: 'bench-0',
    type: 'bench.message',
    ts: new Date().toISOString(),
    payload: { text }
  }))
  app.get('/bare/poll', async () => ({ session_id: 'q3Jx0b6bYc2Qm1c8aL0ZfA', messages: frames, next: FRAMES_READY, dropped: 0 }))
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  process.send?.({ address })
}

interface Scenario {
  name: string
  run: () => Promise<number>
}

async function main (): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const address = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { address: string }) => { resolve(message.address) })
    child.once('exit', (code) => { reject(new Error(`server exited with ${String(code)}`)) })
  })
  try {
    const { senders, pollers } = await setup(address)
    const body = (i: number): string => JSON.stringify({ id: `c-${i}`, room: `bench-${i}`, type: 'bench.message', payload: { text } })

    const scenarios: Array<[Scenario, Scenario]> = [
      [
        { name: 'bare Fastify POST (same body)', run: async () => await load(address, (i) => ({ method: 'POST', path: '/bare/send', body: body(i) })) },
        { name: 'POST /ws/send (poll session, relayed)', run: async () => await load(address, (i) => ({ method: 'POST', path: `/ws/send?session_id=${senders[i] as string}`, body: body(i) })) }
      ],
      [
        { name: `bare Fastify GET (${FRAMES_READY} frames)`, run: async () => await load(address, () => ({ method: 'GET', path: '/bare/poll' })) },
        { name: `GET /ws/poll, data ready (${FRAMES_READY} frames)`, run: async () => await load(address, (i) => ({ method: 'GET', path: `/ws/poll?session_id=${pollers[i] as string}&ack=0&wait=0` })) }
      ]
    ]
    const targets = [0.7, 0.75]
    const rows: string[] = []
    for (const [index, [bare, ours]] of scenarios.entries()) {
      const bareRuns: number[] = []
      const ourRuns: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        bareRuns.push(await bare.run())
        ourRuns.push(await ours.run())
      }
      const bareRate = median(bareRuns)
      const ourRate = median(ourRuns)
      const ratio = ourRate / bareRate
      const target = targets[index] as number
      rows.push(`| ${bare.name} | ${fmt(bareRate)} | | |`)
      rows.push(`| ${ours.name} | ${fmt(ourRate)} | ${ratio.toFixed(2)}x | >= ${target}x ${ratio >= target ? 'met' : 'MISSED'} |`)
    }
    console.log(`\nNode ${process.version}, ${CONNECTIONS} connections, ${DURATION_SECONDS} s per run, ${ROUNDS} runs each (median), server in a child process\n`)
    console.log('| scenario | req/s | vs bare | target |')
    console.log('|---|---:|---:|---|')
    for (const row of rows) console.log(row)
  } finally {
    child.kill()
  }
}

/**
 * Two sets of sessions, one per connection each: senders alone in their own
 * room (a relayed send reaches the sender only), and pollers with
 * FRAMES_READY frames queued (a join ack and published events) that are
 * never acked, so every poll answers the same frames at once.
 */
async function setup (address: string): Promise<{ senders: string[], pollers: string[] }> {
  const senders: string[] = []
  const pollers: string[] = []
  for (let i = 0; i < CONNECTIONS; i++) {
    const sender = await createSession(address)
    await post(`${address}/ws/send?session_id=${sender}`, { type: 'room.join', payload: { room: `bench-${i}` } })
    senders.push(sender)
    const poller = await createSession(address)
    await post(`${address}/ws/send?session_id=${poller}`, { type: 'room.join', payload: { room: `ready-${i}` } })
    for (let f = 0; f < FRAMES_READY - 1; f++) await post(`${address}/ws/send`, { room: `ready-${i}`, type: 'bench.message', payload: { text } })
    pollers.push(poller)
  }
  return { senders, pollers }
}

async function createSession (address: string): Promise<string> {
  const created = await (await fetch(`${address}/ws/poll`)).json() as { session_id: string }
  return created.session_id
}

async function post (url: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (response.status !== 202) throw new Error(`${url}: ${response.status} ${await response.text()}`)
}

type Request = { method: 'GET' | 'POST', path: string, body?: string }

/** Requests per second over DURATION_SECONDS; connection i always sends request(i). */
async function load (address: string, request: (i: number) => Request): Promise<number> {
  let next = 0
  const result = await autocannon({
    url: address,
    connections: CONNECTIONS,
    duration: DURATION_SECONDS,
    headers: { 'content-type': 'application/json' },
    setupClient: (client) => {
      client.setRequests([request(next++ % CONNECTIONS)])
    }
  })
  const failures = result.errors + result.timeouts + result.non2xx
  if (failures > 0) throw new Error(`${failures} failed requests`)
  return result.requests.average
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

function fmt (value: number): string {
  return Math.round(value).toLocaleString('en-US')
}
