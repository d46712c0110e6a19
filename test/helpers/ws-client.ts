import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { baseUrl } from './app.js'
import { Signal, waitFor } from './wait.js'

export type Frame = Record<string, any> | string

/** A real ws client that records every frame it receives, parsed when JSON. */
export class TestClient {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number, reason: string }>
  private readonly arrived = new Signal()

  constructor (readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? `binary:${(data as Buffer).length}` : data.toString()
      let frame: Frame = text
      try { frame = JSON.parse(text) } catch {}
      this.frames.push(frame)
      this.arrived.notify()
    })
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => { this.arrived.notify(); resolve({ code, reason: reason.toString() }) })
    })
    ws.on('error', () => {})
  }

  send (frame: unknown): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame))
  }

  /** Resolve with the first recorded frame matching `predicate` (waits for it). */
  async waitFor (predicate: (frame: any) => boolean, timeoutMs = 3000): Promise<any> {
    return await waitFor(() => this.frames.find(predicate), {
      timeout: timeoutMs,
      next: (remaining) => this.arrived.wait(remaining),
      message: () => `no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`
    })
  }

  /** Wait until `count` frames match `predicate`. */
  async waitForCount (predicate: (frame: any) => boolean, count: number, timeoutMs = 3000): Promise<any[]> {
    return await waitFor(() => {
      const found = this.frames.filter(predicate)
      return found.length >= count && found
    }, {
      timeout: timeoutMs,
      next: (remaining) => this.arrived.wait(remaining),
      message: () => `only ${this.frames.filter(predicate).length}/${count} matching frames within ${timeoutMs} ms`
    })
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
