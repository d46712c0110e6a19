import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
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
  const ws = new WebSocket(`${baseUrl(app, 'ws')}${path}`, options)
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
