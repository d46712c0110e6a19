import type { Connection } from './connection.js'
import { retryAfterOf } from './http-channel.js'
import { HttpConnection, started, type HttpContext } from './http-connection.js'
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
  private buffer_ = ''

  constructor (private readonly event_: (data: string) => void) {}

  push (chunk: string): void {
    this.buffer_ += chunk.includes('\r') ? chunk.replace(/\r\n?/g, '\n') : chunk
    let end: number
    while ((end = this.buffer_.indexOf('\n\n')) !== -1) {
      const block = this.buffer_.slice(0, end)
      this.buffer_ = this.buffer_.slice(end + 2)
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith('data:')) data.push(line.slice(line.charCodeAt(5) === 32 ? 6 : 5))
      }
      if (data.length > 0) this.event_(data.join('\n'))
    }
  }
}

/** One SSE stream (`GET /ws/sse`) and its sends (`POST /ws/send`): reports open, frames and the one close. */
export function openSse (options: SseConnectionOptions, context: HttpContext): Connection {
  return started(new SseConnection(options, context))
}

class SseConnection extends HttpConnection {
  readonly transport = 'sse'
  private source_: EventSourceLike | undefined
  private readonly connectTimer_: unknown

  constructor (private readonly options_: SseConnectionOptions, context: HttpContext) {
    super({ ...options_, sendTimeout: options_.connectTimeout }, context, 'sse')
    this.connectTimer_ = this.timers_.set(() => { this.finish_({ code: 1006, reason: 'sse connect timeout', opened: false }) }, options_.connectTimeout)
  }

  start (): void {
    const EventSourceClass = this.options_.EventSource
    if (EventSourceClass !== undefined && this.options_.headers === undefined) {
      const source = new EventSourceClass(this.http_.withParams(this.options_.url))
      this.source_ = source
      source.onmessage = (event: { data: string }) => { this.data_(event.data) }
      // A failed connection, or the end of the stream: EventSource would reconnect by itself; the client does.
      source.onerror = () => { this.finish_({ code: 1006, reason: 'sse stream failed', opened: this.opened_ }) }
      return
    }
    this.read_().catch((error) => { this.finish_({ code: 1006, reason: 'sse stream failed', opened: this.opened_, error: error as Error }) })
  }

  close (): void {
    if (!this.done_) this.stop_()
  }

  protected override stop_ (): void {
    super.stop_()
    this.timers_.clear(this.connectTimer_)
    this.source_?.close()
  }

  /** One frame: the first, `session.opened`, opens the connection; the rest go to the client. */
  private data_ (text: string): void {
    if (this.done_) return
    if (this.opened_) {
      this.handlers_.frame(text)
      return
    }
    let frame: { type?: unknown, payload?: { session_id?: unknown } } | null = null
    try {
      frame = JSON.parse(text)
    } catch {}
    if (frame?.type !== 'session.opened' || typeof frame.payload?.session_id !== 'string') {
      this.finish_({ code: 1002, reason: 'sse stream without session.opened', opened: false })
      return
    }
    this.http_.sessionId = frame.payload.session_id
    this.opened_ = true
    this.timers_.clear(this.connectTimer_)
    this.handlers_.open()
  }

  /** The stream read with fetch (Node, or a browser with `headers`). */
  private async read_ (): Promise<void> {
    let response: ResponseLike
    try {
      response = await this.http_.open(this.options_.url, 'text/event-stream')
    } catch (error) {
      this.finish_({ code: 1006, reason: 'sse stream could not be opened', opened: false, error: error as Error })
      return
    }
    if (this.done_) return
    if (response.status !== 200 || response.body === undefined || response.body === null) {
      const error = await this.http_.errorOf(response)
      this.finish_({ code: 1006, reason: error.message, opened: false, status: response.status, retryAfterMs: retryAfterOf(response), error })
      return
    }
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    const parser = new SseParser((data) => { this.data_(data) })
    for (;;) {
      const { done, value } = await reader.read()
      if (this.done_) {
        reader.cancel().catch(() => {})
        return
      }
      if (done) break
      parser.push(decoder.decode(value, { stream: true }))
    }
    this.finish_({ code: 1006, reason: 'sse stream ended', opened: this.opened_ })
  }
}
