import type { FastifyInstance } from 'fastify'
import { request, type IncomingMessage, type ClientRequest } from 'node:http'
import { baseUrl } from './app.js'
import { Signal, waitFor } from './wait.js'

/** One event of the stream as EventSource would see it, with its frame parsed. */
export interface SseEvent {
  id?: string
  data: string
  frame: any
}

/**
 * A raw `GET /ws/sse` reader (what `curl -N` shows): keeps the bytes as
 * received, and the events parsed as EventSource would (`id:`, `data:`,
 * `retry:`, comments).
 */
export class SseReader {
  raw = ''
  readonly events: SseEvent[] = []
  readonly comments: string[] = []
  retry: number | undefined
  /** The `id:` of the last event that had one: what EventSource sends back as `Last-Event-ID`. */
  lastEventId: string | undefined
  ended = false
  private buffer = ''
  private readonly arrived = new Signal()

  private constructor (readonly response: IncomingMessage, private readonly req: ClientRequest) {
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => { this.raw += chunk; this.buffer += chunk; this.parse(); this.arrived.notify() })
    response.on('end', () => { this.ended = true; this.arrived.notify() })
    response.on('error', () => {})
  }

  static async open (app: FastifyInstance, query = '', headers: Record<string, string> = {}): Promise<SseReader> {
    return await new Promise((resolve, reject) => {
      const req = request(`${baseUrl(app)}/ws/sse${query}`, { headers: { accept: 'text/event-stream', ...headers } }, (response) => { resolve(new SseReader(response, req)) })
      req.on('error', reject)
      req.end()
    })
  }

  /** Open a stream and wait for its first frame (`session.opened`). */
  static async connect (app: FastifyInstance, query = '', headers: Record<string, string> = {}): Promise<SseReader> {
    const reader = await SseReader.open(app, query, headers)
    await reader.waitFor((frame) => frame.type === 'session.opened')
    return reader
  }

  get sessionId (): string {
    return this.events[0].frame.payload.session_id
  }

  get frames (): any[] {
    return this.events.map((event) => event.frame)
  }

  private parse (): void {
    let end: number
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      const data: string[] = []
      let id: string | undefined
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line)
        else if (line.startsWith('data: ')) data.push(line.slice(6))
        else if (line.startsWith('id: ')) id = line.slice(4)
        else if (line.startsWith('retry: ')) this.retry = Number(line.slice(7))
      }
      if (id !== undefined) this.lastEventId = id
      if (data.length === 0) continue
      const text = data.join('\n')
      let frame: any = text
      try { frame = JSON.parse(text) } catch {}
      this.events.push(id === undefined ? { data: text, frame } : { id, data: text, frame })
    }
  }

  async waitFor (predicate: (frame: any) => boolean, timeoutMs = 3000): Promise<any> {
    return await waitFor(() => this.frames.find(predicate), {
      timeout: timeoutMs,
      next: (remaining) => this.arrived.wait(remaining),
      message: () => `no matching SSE frame within ${timeoutMs} ms; got ${this.raw}`
    })
  }

  async waitForCount (predicate: (frame: any) => boolean, count: number, timeoutMs = 3000): Promise<any[]> {
    return await waitFor(() => {
      const found = this.frames.filter(predicate)
      return found.length >= count && found
    }, { timeout: timeoutMs, next: (remaining) => this.arrived.wait(remaining), message: () => `only ${this.frames.filter(predicate).length}/${count} SSE frames; got ${this.raw}` })
  }

  async waitUntil (check: () => boolean, timeoutMs = 3000): Promise<void> {
    await waitFor(check, { timeout: timeoutMs, next: (remaining) => this.arrived.wait(remaining), message: () => `SSE condition not met; got ${this.raw}` })
  }

  /** Send a frame as this stream's session (`POST /ws/send?session_id=…`). */
  async send (app: FastifyInstance, frame: unknown): Promise<{ status: number, body: any }> {
    const response = await fetch(`${baseUrl(app)}/ws/send?session_id=${this.sessionId}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(frame) })
    return { status: response.status, body: await response.json() }
  }

  close (): void {
    this.req.destroy()
  }
}
