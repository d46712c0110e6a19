import type { Connection, ConnectionContext } from './connection.js'
import { errorOf, retryAfterOf, withQuery } from './http-channel.js'
import { HttpConnection, started } from './http-connection.js'
import type { FetchLike, HeadersOption, ResponseLike } from './http-types.js'

export { withQuery }
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
export function openLongPolling (options: LongPollingConnectionOptions, context: ConnectionContext): Connection {
  return started(new LongPollingSession(options, context))
}

/**
 * The session's three strands — the poll loop, the send queue and the close —
 * share one state: the session id, the `next` to acknowledge, and `done`,
 * after which no handler is called and every request in flight is aborted.
 */
class LongPollingSession extends HttpConnection {
  readonly transport = 'long-polling'
  private sessionId: string | undefined
  /** The `next` of the last batch delivered: sent as `ack` by the next poll. */
  private ack: number | undefined
  /** Failed polls in a row. */
  private failures = 0
  private retryTimer: unknown

  constructor (private readonly options: LongPollingConnectionOptions, context: ConnectionContext) {
    super({ ...options, sendTimeout: options.pollGrace }, context, 'long-polling')
  }

  start (): void {
    this.create().catch((error) => { this.fail(error) })
  }

  close (): void {
    if (this.done) return
    const id = this.sessionId
    this.stop()
    if (id !== undefined) this.end(id).catch(() => {})
  }

  private fail (error: unknown): void {
    this.finish({ code: 1006, reason: 'long polling failed', opened: this.opened, error: error as Error })
  }

  protected override stop (): void {
    super.stop()
    this.timers.clear(this.retryTimer)
  }

  private async request (method: string, url: string, timeoutMs: number): Promise<ResponseLike> {
    return await this.http.request(method, url, undefined, timeoutMs)
  }

  /**
   * Tell the server the session is over (`DELETE` of the poll URL), so it
   * leaves its rooms at once instead of after `sessionTtl`: a page closing,
   * a switch back to WebSocket. Best effort: nothing waits for it.
   */
  private async end (id: string): Promise<void> {
    try {
      const extra = typeof this.options.headers === 'function' ? await this.options.headers() : this.options.headers
      await this.options.fetch(withQuery(this.options.pollUrl, { ...this.options.params?.(), session_id: id }), { method: 'DELETE', headers: { accept: 'application/json', ...extra }, signal: AbortSignal.timeout(this.options.pollGrace), keepalive: true })
    } catch {}
  }

  private deliver (body: PollBody): void {
    if (typeof body.next === 'number') this.ack = body.next
    // Before the frames: the client rejoins with the last id it saw before the gap,
    // so the replay covers what was dropped (and duplicates of this batch are dropped).
    if (typeof body.dropped === 'number' && body.dropped > 0) this.handlers.dropped(body.dropped)
    const messages = Array.isArray(body.messages) ? body.messages : []
    for (const message of messages) {
      if (this.done) return
      this.handlers.frame(JSON.stringify(message))
    }
  }

  /** Create the session (its answer may already carry frames), then start polling. */
  private async create (): Promise<void> {
    let response: ResponseLike
    try {
      response = await this.request('GET', this.options.createUrl ?? this.options.pollUrl, this.options.pollGrace)
    } catch (error) {
      this.finish({ code: 1006, reason: 'long-polling session could not be created', opened: false, error: error as Error })
      return
    }
    if (this.done) return
    if (response.status !== 200) {
      const error = await errorOf(response)
      this.finish({ code: 1006, reason: error.message, opened: false, status: response.status, retryAfterMs: retryAfterOf(response), error })
      return
    }
    let body: PollBody = {}
    try {
      body = (await response.json()) as PollBody
    } catch {
      // Handled below as an answer without a session id.
    }
    if (this.done) return
    if (body === null || typeof body.session_id !== 'string') {
      this.finish({ code: 1002, reason: 'poll session answer without session_id', opened: false })
      return
    }
    this.sessionId = body.session_id
    this.http.sessionId = body.session_id
    this.opened = true
    this.handlers.open()
    this.deliver(body)
    this.poll().catch((error) => { this.fail(error) })
  }

  /** Poll until the session ends, delivering each batch in order and acknowledging it with the next poll. */
  private async poll (): Promise<void> {
    while (!this.done) {
      const params: Record<string, string> = { session_id: this.sessionId as string, wait: String(this.options.wait) }
      if (this.ack !== undefined) params.ack = String(this.ack)
      let response: ResponseLike
      let body: PollBody
      try {
        response = await this.request('GET', withQuery(this.options.pollUrl, params), this.options.wait + this.options.pollGrace)
        if (this.done) return
        if (response.status === 404) {
          this.finish({ code: 4404, reason: 'long-polling session not found', opened: this.opened, sessionLost: true, error: await errorOf(response) })
          return
        }
        if (response.status === 503) {
          this.finish({ code: 1001, reason: 'server unavailable', opened: this.opened, status: 503, retryAfterMs: retryAfterOf(response) })
          return
        }
        if (response.status !== 200) throw await errorOf(response)
        body = (await response.json()) as PollBody
      } catch (error) {
        if (this.done) return
        // The session outlives a failed poll on the server: retry it with the same
        // ack so nothing is lost, and only give up after a few tries.
        if (++this.failures > this.options.pollRetries) {
          this.finish({ code: 1006, reason: 'long polling failed', opened: this.opened, error: error as Error })
          return
        }
        await new Promise<void>((resolve) => { this.retryTimer = this.timers.set(resolve, this.options.retryDelay * this.failures) })
        continue
      }
      if (this.done) return
      this.failures = 0
      this.deliver(body)
    }
  }
}
