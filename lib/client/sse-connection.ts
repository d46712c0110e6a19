import type { Connection, ConnectionContext } from './connection.js'
import { errorOf, retryAfterOf } from './http-channel.js'
import { HttpConnection, started } from './http-connection.js'
import type { FetchLike, HeadersOption, ResponseLike } from './http-types.js'

/** The part of the EventSource API the client uses (the browser's). */
export interface EventSourceLike {
  onmessage: ((event: any) => void) | null
  onerror: ((event: any) => void) | null
  close: () => void
}

/** An EventSource class: `globalThis.EventSource` in browsers. */
export type EventSourceConstructor = new (url: string) => EventSourceLike

export interface SseConnectionOptions {
  /** `GET /ws/sse` with the client's query and `client_key`. */
  url: string
  sendUrl: string
  /** Query parameters set on the stream and every send, read each time (the latest token). */
  params?: () => Record<string, string> | undefined
  fetch: FetchLike
  headers?: HeadersOption
  /** Used when given and no `headers` are (EventSource cannot send headers); else the stream is read with fetch. */
  EventSource?: EventSourceConstructor
  /** How long until the stream's first frame (ms). */
  connectTimeout: number
}

/**
 * Read Server-Sent Events from text chunks: each complete event's `data:`
 * lines, joined. Comments, `id:` and `retry:` are not needed here (the
 * client resumes by rejoining with `since`, not with `Last-Event-ID`).
 */
export class SseParser {
  private buffer = ''

  constructor (private readonly event: (data: string) => void) {}

  push (chunk: string): void {
    this.buffer += chunk.includes('\r') ? chunk.replace(/\r\n?/g, '\n') : chunk
    let end: number
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith('data:')) data.push(line.slice(line.charCodeAt(5) === 32 ? 6 : 5))
      }
      if (data.length > 0) this.event(data.join('\n'))
    }
  }
}

/** One SSE stream (`GET /ws/sse`) and its sends (`POST /ws/send`): reports open, frames and the one close. */
export function openSse (options: SseConnectionOptions, context: ConnectionContext): Connection {
  return started(new SseConnection(options, context))
}

class SseConnection extends HttpConnection {
  readonly transport = 'sse'
  private source: EventSourceLike | undefined
  private readonly connectTimer: unknown

  constructor (private readonly options: SseConnectionOptions, context: ConnectionContext) {
    super({ ...options, sendTimeout: options.connectTimeout }, context, 'sse')
    this.connectTimer = this.timers.set(() => { this.finish({ code: 1006, reason: 'sse connect timeout', opened: false }) }, options.connectTimeout)
  }

  start (): void {
    const EventSourceClass = this.options.EventSource
    if (EventSourceClass !== undefined && this.options.headers === undefined) {
      const source = new EventSourceClass(this.http.withParams(this.options.url))
      this.source = source
      source.onmessage = (event: { data: string }) => { this.data(event.data) }
      // A failed connection, or the end of the stream: EventSource would reconnect by itself; the client does.
      source.onerror = () => { this.finish({ code: 1006, reason: 'sse stream failed', opened: this.opened }) }
      return
    }
    this.read().catch((error) => { this.finish({ code: 1006, reason: 'sse stream failed', opened: this.opened, error: error as Error }) })
  }

  close (): void {
    if (!this.done) this.stop()
  }

  protected override stop (): void {
    super.stop()
    this.timers.clear(this.connectTimer)
    this.source?.close()
  }

  /** One frame: the first, `session.opened`, opens the connection; the rest go to the client. */
  private data (text: string): void {
    if (this.done) return
    if (this.opened) {
      this.handlers.frame(text)
      return
    }
    let frame: { type?: unknown, payload?: { session_id?: unknown } } | null = null
    try {
      frame = JSON.parse(text)
    } catch {}
    if (frame?.type !== 'session.opened' || typeof frame.payload?.session_id !== 'string') {
      this.finish({ code: 1002, reason: 'sse stream without session.opened', opened: false })
      return
    }
    this.http.sessionId = frame.payload.session_id
    this.opened = true
    this.timers.clear(this.connectTimer)
    this.handlers.open()
  }

  /** The stream read with fetch (Node, or a browser with `headers`). */
  private async read (): Promise<void> {
    let response: ResponseLike
    try {
      response = await this.http.open(this.options.url, 'text/event-stream')
    } catch (error) {
      this.finish({ code: 1006, reason: 'sse stream could not be opened', opened: false, error: error as Error })
      return
    }
    if (this.done) return
    if (response.status !== 200 || response.body === undefined || response.body === null) {
      const error = await errorOf(response)
      this.finish({ code: 1006, reason: error.message, opened: false, status: response.status, retryAfterMs: retryAfterOf(response), error })
      return
    }
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    const parser = new SseParser((data) => { this.data(data) })
    for (;;) {
      const { done, value } = await reader.read()
      if (this.done) {
        reader.cancel().catch(() => {})
        return
      }
      if (done) break
      parser.push(decoder.decode(value, { stream: true }))
    }
    this.finish({ code: 1006, reason: 'sse stream ended', opened: this.opened })
  }
}
