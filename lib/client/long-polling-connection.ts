import type { Connection } from './connection.js'
import { retryAfterOf } from './http-channel.js'
import { HttpConnection, started, type HttpContext } from './http-connection.js'
import type { FetchLike, HeadersOption, ResponseLike } from './http-types.js'

export type { FetchLike, HeadersOption, ResponseLike }

export interface LongPollingConnectionOptions {
  pollUrl: string
  /** The poll URL that creates the session: `pollUrl` with the client's `client_key` (default `pollUrl`). */
  createUrl?: string
  sendUrl: string
  /** Query parameters set on every request, read each time (the latest token). */
  params?: () => Record<string, string> | undefined
  fetch: FetchLike
  headers?: HeadersOption
  /** How long the server may hold a poll (ms). */
  wait: number
  /** Extra time on top of `wait` before a silent poll is abandoned (ms). */
  pollGrace: number
  /** Consecutive failed polls (network, 5xx) retried on the same session before giving up. */
  pollRetries: number
  retryDelay: number
}

interface PollBody { session_id?: unknown, messages?: unknown, next?: unknown, dropped?: unknown }

/**
 * One long-polling session (DESIGN §3): create it, then poll in a loop,
 * delivering frames in order and acknowledging them with `next`; sends are
 * POSTed one at a time so the server sees them in the order they were made.
 */
export function openLongPolling (options: LongPollingConnectionOptions, context: HttpContext): Connection {
  return started(new LongPollingSession(options, context))
}

/**
 * The session's three strands — the poll loop, the send queue and the close —
 * share one state: the session id, the `next` to acknowledge, and `done`,
 * after which no handler is called and every request in flight is aborted.
 */
class LongPollingSession extends HttpConnection {
  readonly transport = 'long-polling'
  private sessionId_: string | undefined
  /** The `next` of the last batch delivered: sent as `ack` by the next poll. */
  private ack_: number | undefined
  /** Failed polls in a row. */
  private failures_ = 0
  private retryTimer_: unknown

  constructor (private readonly options_: LongPollingConnectionOptions, context: HttpContext) {
    super({ ...options_, sendTimeout: options_.pollGrace }, context, 'long-polling')
  }

  start (): void {
    this.create_().catch((error) => { this.fail_(error) })
  }

  close (): void {
    if (this.done_) return
    const id = this.sessionId_
    this.stop_()
    if (id !== undefined) this.end_(id).catch(() => {})
  }

  private fail_ (error: unknown): void {
    this.finish_({ code: 1006, reason: 'long polling failed', opened: this.opened_, error: error as Error })
  }

  protected override stop_ (): void {
    super.stop_()
    this.timers_.clear(this.retryTimer_)
  }

  private async request_ (method: string, url: string, timeoutMs: number): Promise<ResponseLike> {
    return await this.http_.request(method, url, undefined, timeoutMs)
  }

  /**
   * Tell the server the session is over (`DELETE` of the poll URL), so it
   * leaves its rooms at once instead of after `sessionTtl`: a page closing,
   * a switch back to WebSocket. Best effort: nothing waits for it.
   */
  private async end_ (id: string): Promise<void> {
    try {
      const extra = typeof this.options_.headers === 'function' ? await this.options_.headers() : this.options_.headers
      await this.options_.fetch(this.http_.parts.withQuery(this.options_.pollUrl, { ...this.options_.params?.(), session_id: id }), { method: 'DELETE', headers: { accept: 'application/json', ...extra }, signal: AbortSignal.timeout(this.options_.pollGrace), keepalive: true })
    } catch {}
  }

  private deliver_ (body: PollBody): void {
    if (typeof body.next === 'number') this.ack_ = body.next
    // Before the frames: the client rejoins with the last id it saw before the gap,
    // so the replay covers what was dropped (and duplicates of this batch are dropped).
    if (typeof body.dropped === 'number' && body.dropped > 0) this.handlers_.dropped(body.dropped)
    const messages = Array.isArray(body.messages) ? body.messages : []
    for (const message of messages) {
      if (this.done_) return
      this.handlers_.frame(JSON.stringify(message))
    }
  }

  /** Create the session (its answer may already carry frames), then start polling. */
  private async create_ (): Promise<void> {
    let response: ResponseLike
    try {
      response = await this.request_('GET', this.options_.createUrl ?? this.options_.pollUrl, this.options_.pollGrace)
    } catch (error) {
      this.finish_({ code: 1006, reason: 'long-polling session could not be created', opened: false, error: error as Error })
      return
    }
    if (this.done_) return
    if (response.status !== 200) {
      const error = await this.http_.errorOf(response)
      this.finish_({ code: 1006, reason: error.message, opened: false, status: response.status, retryAfterMs: retryAfterOf(response), error })
      return
    }
    let body: PollBody = {}
    try {
      body = (await response.json()) as PollBody
    } catch {
      // Handled below as an answer without a session id.
    }
    if (this.done_) return
    if (body === null || typeof body.session_id !== 'string') {
      this.finish_({ code: 1002, reason: 'poll session answer without session_id', opened: false })
      return
    }
    this.sessionId_ = body.session_id
    this.http_.sessionId = body.session_id
    this.opened_ = true
    this.handlers_.open()
    this.deliver_(body)
    this.poll_().catch((error) => { this.fail_(error) })
  }

  /** Poll until the session ends, delivering each batch in order and acknowledging it with the next poll. */
  private async poll_ (): Promise<void> {
    while (!this.done_) {
      const params: Record<string, string> = { session_id: this.sessionId_ as string, wait: String(this.options_.wait) }
      if (this.ack_ !== undefined) params.ack = String(this.ack_)
      let response: ResponseLike
      let body: PollBody
      try {
        response = await this.request_('GET', this.http_.parts.withQuery(this.options_.pollUrl, params), this.options_.wait + this.options_.pollGrace)
        if (this.done_) return
        if (response.status === 404) {
          this.finish_({ code: 4404, reason: 'long-polling session not found', opened: this.opened_, sessionLost: true, error: await this.http_.errorOf(response) })
          return
        }
        if (response.status === 503) {
          this.finish_({ code: 1001, reason: 'server unavailable', opened: this.opened_, status: 503, retryAfterMs: retryAfterOf(response) })
          return
        }
        if (response.status !== 200) throw await this.http_.errorOf(response)
        body = (await response.json()) as PollBody
      } catch (error) {
        if (this.done_) return
        // The session outlives a failed poll on the server: retry it with the same
        // ack so nothing is lost, and only give up after a few tries.
        if (++this.failures_ > this.options_.pollRetries) {
          this.finish_({ code: 1006, reason: 'long polling failed', opened: this.opened_, error: error as Error })
          return
        }
        await new Promise<void>((resolve) => { this.retryTimer_ = this.timers_.set(resolve, this.options_.retryDelay * this.failures_) })
        continue
      }
      if (this.done_) return
      this.failures_ = 0
      this.deliver_(body)
    }
  }
}
