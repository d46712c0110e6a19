import { join } from 'node:path'
import { build as esbuild } from 'esbuild'
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format'
import vixRealtime, { type VixRealtimeOptions } from '../plugins/index.js'

interface Teardown { teardown: (fn: () => unknown) => void }

/** Build an app with the umbrella plugin, listening on 127.0.0.1:0, closed after the test. */
export async function build (t: Teardown, options: VixRealtimeOptions = {}, setup?: (app: FastifyInstance) => void | Promise<void>): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(vixRealtime, options)
  await setup?.(app)
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return app
}

export function baseUrl (app: FastifyInstance, protocol: 'http' | 'ws' = 'http'): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('app is not listening on TCP')
  return `${protocol}://127.0.0.1:${address.port}`
}

export type Frame = Record<string, any> | string

/** A real ws client that records every frame it receives, parsed when JSON. */
export class TestClient {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number, reason: string }>
  private waiters: Array<() => void> = []

  constructor (readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? `binary:${(data as Buffer).length}` : data.toString()
      let frame: Frame = text
      try { frame = JSON.parse(text) } catch {}
      this.frames.push(frame)
      this.wake()
    })
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => { this.wake(); resolve({ code, reason: reason.toString() }) })
    })
    ws.on('error', () => {})
  }

  private wake (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  send (frame: unknown): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame))
  }

  /** Resolve with the first recorded frame matching `predicate` (waits for it). */
  async waitFor (predicate: (frame: any) => boolean, timeoutMs = 3000): Promise<any> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.find(predicate)
      if (found !== undefined) return found
      if (Date.now() > deadline) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  /** Wait until `count` frames match `predicate`. */
  async waitForCount (predicate: (frame: any) => boolean, count: number, timeoutMs = 3000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.filter(predicate)
      if (found.length >= count) return found
      if (Date.now() > deadline) throw new Error(`only ${found.length}/${count} matching frames within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  /** Send a `room.join` and wait for its ack. */
  async join (room: string, since?: string): Promise<any> {
    this.send({ type: 'room.join', payload: since === undefined ? { room } : { room, since } })
    return await this.waitFor((f) => f.kind === 'ack' && f.type === 'room.join' && f.room === room)
  }

  close (code = 1000): void {
    this.ws.close(code)
  }
}

/** Open a real WebSocket to the app and wait for it to be open. */
export async function connect (app: FastifyInstance, path = '/ws', options: WebSocket.ClientOptions = {}): Promise<TestClient> {
  return await connectUrl(`${baseUrl(app, 'ws')}${path}`, options)
}

/** Open a real WebSocket to any URL (e.g. a server in a child process) and wait for it to be open. */
export async function connectUrl (url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
  const ws = new WebSocket(url, options)
  const client = new TestClient(ws)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`unexpected response ${res.statusCode}`), { statusCode: res.statusCode })))
    ws.once('error', reject)
  })
  return client
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The HTTP status a refused upgrade answered with (fails when the upgrade succeeds). */
export async function upgradeStatus (app: FastifyInstance, path = '/ws', options: WebSocket.ClientOptions = {}): Promise<number> {
  try {
    const client = await connect(app, path, options)
    client.close()
  } catch (error) {
    return (error as { statusCode: number }).statusCode
  }
  throw new Error('the upgrade succeeded')
}

/**
 * Bundle a TypeScript entry point to one ES module in `dir` for a child
 * process to run with plain `node`: it starts in well under a second even on a
 * loaded machine (a TypeScript loader in the child takes many), and its
 * coverage names only the bundle, so it never overwrites the run's own.
 * `dir` must sit inside the project so external packages resolve from node_modules.
 */
export async function bundleForChild (entry: string, dir: string): Promise<string> {
  const name = entry.split('/').at(-1)?.replace(/\.ts$/, '') ?? 'child'
  const outfile = join(dir, `${name}.bundle.mjs`)
  await esbuild({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'silent' })
  return outfile
}

/** One parsed scrape of the metrics endpoint. */
export interface MetricsScrape {
  text: string
  families: Map<string, ParsedFamily>
  /** A counter or gauge sample (with `labels`, the sample carrying exactly those). Throws when absent. */
  value: (name: string, labels?: Record<string, string>) => number
  /** A histogram's sample count, sum and cumulative buckets (keyed by `le`). */
  histogram: (name: string) => { count: number, sum: number, buckets: Record<string, number> }
}

/** GET the metrics endpoint and parse it with a real Prometheus text-format parser. */
export async function scrapeMetrics (app: FastifyInstance, path = '/metrics'): Promise<MetricsScrape> {
  const response = await app.inject({ method: 'GET', url: path })
  if (response.statusCode !== 200) throw new Error(`GET ${path} answered ${response.statusCode}: ${response.body}`)
  const text = response.body
  const families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]))
  const family = (name: string): ParsedFamily => {
    const found = families.get(name)
    if (found === undefined) throw new Error(`no metric family ${name}`)
    return found
  }
  return {
    text,
    families,
    value (name, labels) {
      const sample = family(name).metrics.find((metric) => JSON.stringify(metric.labels ?? {}) === JSON.stringify(labels ?? {}))
      if (sample?.value === undefined) throw new Error(`no sample ${name}${JSON.stringify(labels ?? {})}`)
      return Number(sample.value)
    },
    histogram (name) {
      const sample = family(name).metrics[0]
      const buckets: Record<string, number> = {}
      for (const [le, count] of Object.entries(sample.buckets ?? {})) buckets[le] = Number(count)
      return { count: Number(sample.count), sum: Number(sample.sum), buckets }
    }
  }
}

interface Reporter {
  fail: (message: string) => unknown
  comment: (message: string) => unknown
  skip: (name: string, fn: () => void) => unknown
}

/**
 * Skip-or-fail for a test that needs something outside Node (a browser, a
 * database): with it, run; without it, skip with the reason printed, unless
 * `VIX_REQUIRE_SERVICES=1` (CI), where a missing service fails the test.
 *
 * @example
 * if (!requireService(t, 'chromium', existsSync('/usr/bin/chromium'), '/usr/bin/chromium is not installed')) return
 */
export function requireService (t: Reporter, name: string, available: boolean, reason: string): boolean {
  if (available) return true
  if (process.env.VIX_REQUIRE_SERVICES === '1') t.fail(`${name} is required (VIX_REQUIRE_SERVICES=1) but ${reason}`)
  else {
    t.comment(`skipping: ${name} unavailable: ${reason}`)
    t.skip(`${name} unavailable: ${reason}`, () => {})
  }
  return false
}

interface Asserter {
  ok: (value: unknown, message: string) => unknown
  equal: (found: unknown, wanted: unknown, message: string) => unknown
}

const httpMethods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

/** Every operation of an OpenAPI document as `METHOD /path` → operation object. */
export function documentedOperations (document: any): Map<string, any> {
  const operations = new Map<string, any>()
  for (const [path, item] of Object.entries<Record<string, any>>(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (httpMethods.has(method)) operations.set(`${method.toUpperCase()} ${path}`, operation)
    }
  }
  return operations
}

/**
 * Assert that every operation of `document` is fully documented: a summary, a
 * description, the `realtime` tag, at least one success response, and every
 * 4xx/5xx response described and answering the shared `VixErrorResponse`.
 */
export function assertFullyDocumented (t: Asserter, document: any): void {
  for (const [name, operation] of documentedOperations(document)) {
    t.ok(typeof operation.summary === 'string' && operation.summary.length > 0, `${name} has a summary`)
    t.ok(typeof operation.description === 'string' && operation.description.length > 0, `${name} has a description`)
    t.ok(Array.isArray(operation.tags) && operation.tags.includes('realtime'), `${name} is tagged realtime`)
    const statuses = Object.keys(operation.responses ?? {})
    t.ok(statuses.some((status) => /^[123]/.test(status)), `${name} documents a success response`)
    for (const status of statuses.filter((s) => /^[45]/.test(s))) {
      const response = operation.responses[status]
      t.ok(response.description !== undefined && response.description !== 'Default Response', `${name} ${status} is described`)
      t.equal(response.content?.['application/json']?.schema?.$ref, '#/components/schemas/VixErrorResponse', `${name} ${status} answers VixErrorResponse`)
    }
  }
}

/** A long-poll client over `app.inject`: it keeps the session id and acks what it received. */
export class PollClient {
  next = 0
  readonly received: any[] = []

  constructor (readonly app: FastifyInstance, readonly sessionId: string, readonly headers: Record<string, string> = {}, readonly prefix = '/ws') {}

  /** Create a session (`GET /ws/poll`) and return a client for it. */
  static async create (app: FastifyInstance, headers: Record<string, string> = {}, prefix = '/ws'): Promise<PollClient> {
    const response = await app.inject({ url: `${prefix}/poll`, headers })
    if (response.statusCode !== 200) throw new Error(`create failed: ${response.statusCode} ${response.body}`)
    const client = new PollClient(app, response.json().session_id, headers, prefix)
    client.next = response.json().next
    return client
  }

  /** Poll once, acking the last `next` (unless `ack` is given, or null to send none). */
  async poll (query: { ack?: number | null, wait?: number, max?: number } = {}): Promise<{ statusCode: number, body: any }> {
    const params = new URLSearchParams({ session_id: this.sessionId, wait: String(query.wait ?? 0) })
    const ack = query.ack === undefined ? this.next : query.ack
    if (ack !== null) params.set('ack', String(ack))
    if (query.max !== undefined) params.set('max', String(query.max))
    const response = await this.app.inject({ url: `${this.prefix}/poll?${params.toString()}`, headers: this.headers })
    const body = response.json()
    if (response.statusCode === 200) {
      this.next = body.next
      this.received.push(...body.messages)
    }
    return { statusCode: response.statusCode, body }
  }

  /** Poll until `count` received frames match `predicate`. */
  async pollUntil (predicate: (frame: any) => boolean, count = 1, timeoutMs = 3000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.received.filter(predicate)
      if (found.length >= count) return found
      if (Date.now() > deadline) throw new Error(`only ${found.length}/${count} matching frames within ${timeoutMs} ms; got ${JSON.stringify(this.received)}`)
      await this.poll({ wait: Math.max(1, Math.min(500, deadline - Date.now())) })
    }
  }

  /** `POST /ws/send` as this session. */
  async send (message: unknown): Promise<{ statusCode: number, body: any }> {
    const response = await this.app.inject({
      method: 'POST',
      url: `${this.prefix}/send?session_id=${this.sessionId}`,
      headers: { ...this.headers, 'content-type': 'application/json' },
      payload: typeof message === 'string' ? message : JSON.stringify(message)
    })
    return { statusCode: response.statusCode, body: response.json() }
  }

  /** Join a room and wait (by polling) for the ack. */
  async join (room: string, since?: string): Promise<any> {
    const sent = await this.send({ type: 'room.join', payload: since === undefined ? { room } : { room, since } })
    if (sent.statusCode !== 202) throw new Error(`join failed: ${sent.statusCode} ${JSON.stringify(sent.body)}`)
    const [ack] = await this.pollUntil((f) => f.kind === 'ack' && f.type === 'room.join' && f.room === room)
    return ack
  }
}

/** Resolve with the arguments of the next `event` (matching `predicate`) of an emitter whose `on` returns an unsubscribe function. */
export async function nextEvent (emitter: { on: (event: any, listener: (...args: any[]) => void) => () => void }, event: string, predicate: (...args: any[]) => boolean = () => true, timeoutMs = 3000): Promise<any[]> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no "${event}" event within ${timeoutMs} ms`)) }, timeoutMs)
    const off = emitter.on(event, (...args: any[]) => {
      if (!predicate(...args)) return
      clearTimeout(timer)
      off()
      resolve(args)
    })
  })
}

/** Poll `predicate` until it holds (fails after `timeoutMs`): for state that changes without an event. */
export async function waitUntil (predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await delay(5)
  }
}
