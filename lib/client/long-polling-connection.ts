import type { Connection, ConnectionClosed, ConnectionContext, ConnectionHandlers } from './connection.js'
import { ClientErrorCodes, VixClientError, codeOf } from './errors.js'
import type { TimerSet } from './timers.js'

/** The part of a fetch `Response` the client reads. */
export interface ResponseLike {
  readonly status: number
  readonly headers: { get: (name: string) => string | null }
  json: () => Promise<unknown>
}

/** The part of `fetch` the client uses; the global `fetch` of browsers and Node 20 fits. */
export type FetchLike = (url: string, init: {
  method: string
  headers: Record<string, string>
  body?: string
  signal: AbortSignal
  /** Set on the request that ends the session as the client closes: it may outlive a closing page. */
  keepalive?: boolean
}) => Promise<ResponseLike>

/** Extra request headers (a token...), or a function called before every request so a token can be refreshed. */
export type HeadersOption = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>)

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
interface ErrorBody { code?: unknown, message?: unknown }
interface QueuedSend { body: string, id?: string }

/** `url` with `params` set in its query (replacing any of the same name); `url` itself is not changed. */
export function withQuery (url: string | URL, params: Record<string, string> | undefined): string {
  const target = new URL(url)
  for (const [key, value] of Object.entries(params ?? {})) target.searchParams.set(key, value)
  return target.toString()
}

/** `Retry-After` in seconds, as ms; absent or unparsable → undefined. */
function retryAfterOf (response: ResponseLike): number | undefined {
  const header = response.headers.get('retry-after')
  if (header === null || !/^\d+$/.test(header.trim())) return undefined
  return Number(header) * 1000
}

/** What a 202 of `POST /ws/send` says about a stored message: `{id, pos?, duplicate?}` (a body it cannot read says nothing). */
async function acceptedOf (response: ResponseLike): Promise<{ pos?: string, duplicate?: boolean }> {
  let body: { pos?: unknown, duplicate?: unknown } | null
  try {
    body = (await response.json()) as { pos?: unknown, duplicate?: unknown } | null
  } catch {
    body = null
  }
  const accepted: { pos?: string, duplicate?: boolean } = {}
  if (typeof body?.pos === 'string') accepted.pos = body.pos
  if (body?.duplicate === true) accepted.duplicate = true
  return accepted
}

async function errorOf (response: ResponseLike, id?: string): Promise<VixClientError> {
  let body: ErrorBody = {}
  try {
    body = (await response.json()) as ErrorBody ?? {}
  } catch {
    // A proxy's HTML error page: keep the status.
  }
  const code = codeOf(body.code, ClientErrorCodes.HTTP)
  const message = typeof body.message === 'string' ? body.message : `HTTP ${response.status}`
  return new VixClientError(code, message, { status: response.status, id })
}

/**
 * One long-polling session (DESIGN §3): create it, then poll in a loop,
 * delivering frames in order and acknowledging them with `next`; sends are
 * POSTed one at a time so the server sees them in the order they were made.
 */
export function openLongPolling (options: LongPollingConnectionOptions, context: ConnectionContext): Connection {
  const session = new LongPollingSession(options, context)
  session.start()
  return session
}

/**
 * The session's three strands — the poll loop, the send queue and the close —
 * share one state: the session id, the `next` to acknowledge, and `done`,
 * after which no handler is called and every request in flight is aborted.
 */
class LongPollingSession implements Connection {
  readonly transport = 'long-polling'
  private done = false
  private opened = false
  private sessionId: string | undefined
  /** The `next` of the last batch delivered: sent as `ack` by the next poll. */
  private ack: number | undefined
  /** Failed polls in a row. */
  private failures = 0
  private retryTimer: unknown
  private readonly controllers = new Set<AbortController>()
  /** Sends waiting for the one in flight: a plain array drained by `drainOutbox`. */
  private readonly outbox: QueuedSend[] = []
  private sending = false
  private readonly timers: TimerSet
  private readonly handlers: ConnectionHandlers

  constructor (private readonly options: LongPollingConnectionOptions, context: ConnectionContext) {
    this.timers = context.timers
    this.handlers = context.handlers
  }

  start (): void {
    this.create().catch((error) => { this.fail(error) })
  }

  send (data: string | ArrayBuffer | ArrayBufferView, id?: string): void {
    if (this.done) return
    if (typeof data !== 'string') {
      this.handlers.rejected(id, new VixClientError(ClientErrorCodes.UNSUPPORTED, 'Binary frames cannot be sent over long polling', { id }))
      return
    }
    this.outbox.push(id === undefined ? { body: data } : { body: data, id })
    this.drainOutbox().catch((error) => { this.fail(error) })
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

  private finish (info: ConnectionClosed): void {
    if (this.done) return
    this.stop()
    this.handlers.close(info)
  }

  private stop (): void {
    this.done = true
    this.timers.clear(this.retryTimer)
    for (const controller of this.controllers) controller.abort()
    this.controllers.clear()
    this.outbox.length = 0
  }

  private async request (method: string, url: string, body: string | undefined, timeoutMs: number): Promise<ResponseLike> {
    const controller = new AbortController()
    this.controllers.add(controller)
    const timer = this.timers.set(() => { controller.abort() }, timeoutMs)
    try {
      // Awaited only when a function: with fixed headers the request goes out in the same tick.
      const extra = typeof this.options.headers === 'function' ? await this.options.headers() : this.options.headers
      const headers: Record<string, string> = { accept: 'application/json', ...extra }
      if (body !== undefined) headers['content-type'] = 'application/json'
      const params = this.options.params?.()
      return await this.options.fetch(params === undefined ? url : withQuery(url, params), { method, headers, body, signal: controller.signal })
    } finally {
      this.timers.clear(timer)
      this.controllers.delete(controller)
    }
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
      response = await this.request('GET', this.options.createUrl ?? this.options.pollUrl, undefined, this.options.pollGrace)
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
        response = await this.request('GET', withQuery(this.options.pollUrl, params), undefined, this.options.wait + this.options.pollGrace)
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

  /** POST the queued sends one at a time, in order. */
  private async drainOutbox (): Promise<void> {
    if (this.sending) return
    this.sending = true
    while (!this.done && this.outbox.length > 0) {
      const item = this.outbox[0]
      try {
        const response = await this.request('POST', withQuery(this.options.sendUrl, { session_id: this.sessionId as string }), item.body, this.options.pollGrace)
        if (this.done) break
        if (response.status === 404) {
          this.finish({ code: 4404, reason: 'long-polling session not found', opened: this.opened, sessionLost: true })
          break
        }
        this.outbox.shift()
        if (response.status === 202 || response.status === 200) {
          if (item.id !== undefined) this.handlers.accepted(item.id, await acceptedOf(response))
        } else {
          this.handlers.rejected(item.id, await errorOf(response, item.id))
        }
      } catch (error) {
        if (this.done) break
        // Unknown whether it arrived: reconnect; messages with an id are resent
        // by the client and the server's store makes that idempotent.
        this.finish({ code: 1006, reason: 'long-polling send failed', opened: this.opened, error: error as Error })
      }
    }
    this.sending = false
  }
}
