import type { ConnectionClosed, ConnectionHandlers } from './connection.js'
import type { VixClientError } from './errors.js'
import type { FetchLike, HeadersOption, ResponseLike } from './http-types.js'
import type { ClientParts } from './parts.js'
import type { TimerSet } from './timers.js'

interface ErrorBody { code?: unknown, message?: unknown }
interface QueuedSend { body: string, id?: string }

/** `Retry-After` in seconds, as ms; absent or unparsable → undefined. */
export function retryAfterOf (response: ResponseLike): number | undefined {
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

export interface HttpChannelOptions {
  sendUrl: string
  fetch: FetchLike
  headers?: HeadersOption
  /** How long one send may take (ms). */
  sendTimeout: number
  /** Query parameters set on every request when it is made (the latest token of `getToken`). */
  params?: () => Record<string, string> | undefined
}

/**
 * The HTTP side of a session that sends over `POST /ws/send` (long polling,
 * SSE): its requests (aborted together when it stops) and its sends, POSTed
 * one at a time so the server sees them in the order they were made.
 * `lost` is told when a send shows the session is gone or the network failed.
 */
export class HttpChannel {
  /** The session sends go to, once known. */
  sessionId: string | undefined
  private stopped_ = false
  private readonly controllers_ = new Set<AbortController>()
  /** Sends waiting for the one in flight: a plain array drained by `drain`. */
  private readonly outbox_: QueuedSend[] = []
  private sending_ = false

  constructor (
    private readonly options_: HttpChannelOptions,
    /** The client's error class and URL helper (see `ClientParts`). */
    readonly parts: ClientParts,
    private readonly timers_: TimerSet,
    private readonly handlers_: Pick<ConnectionHandlers, 'accepted' | 'rejected'>,
    private readonly lost_: (info: Omit<ConnectionClosed, 'opened'>) => void,
    /** The transport's name in reasons and errors: `long-polling`, `sse`. */
    private readonly what_: string
  ) {}

  /** One request with the client's headers, aborted after `timeoutMs` or when the channel stops. */
  async request (method: string, url: string, body: string | undefined, timeoutMs: number, accept = 'application/json'): Promise<ResponseLike> {
    const controller = new AbortController()
    this.controllers_.add(controller)
    const timer = this.timers_.set(() => { controller.abort() }, timeoutMs)
    try {
      // Awaited only when a function: with fixed headers the request goes out in the same tick.
      const extra = typeof this.options_.headers === 'function' ? await this.options_.headers() : this.options_.headers
      const headers: Record<string, string> = { accept, ...extra }
      if (body !== undefined) headers['content-type'] = 'application/json'
      return await this.options_.fetch(this.withParams(url), { method, headers, body, signal: controller.signal })
    } finally {
      this.timers_.clear(timer)
      this.controllers_.delete(controller)
    }
  }

  /** A request that stays open (a stream): aborted only when the channel stops. */
  async open (url: string, accept: string): Promise<ResponseLike> {
    const controller = new AbortController()
    this.controllers_.add(controller)
    const extra = typeof this.options_.headers === 'function' ? await this.options_.headers() : this.options_.headers
    return await this.options_.fetch(this.withParams(url), { method: 'GET', headers: { accept, ...extra }, signal: controller.signal })
  }

  /** `url` with the current `params` (unchanged without them). */
  withParams (url: string): string {
    const params = this.options_.params?.()
    return params === undefined ? url : this.parts.withQuery(url, params)
  }

  /** The coded error of an HTTP answer (a proxy's HTML page keeps its status). */
  async errorOf (response: ResponseLike, id?: string): Promise<VixClientError> {
    let body: ErrorBody = {}
    try {
      body = (await response.json()) as ErrorBody ?? {}
    } catch {
      // A proxy's HTML error page: keep the status.
    }
    const { VixClientError, ClientErrorCodes, codeOf } = this.parts
    const message = typeof body.message === 'string' ? body.message : `HTTP ${response.status}`
    return new VixClientError(codeOf(body.code, ClientErrorCodes.HTTP), message, { status: response.status, id })
  }

  send (data: string | ArrayBuffer | ArrayBufferView, id?: string): void {
    if (this.stopped_) return
    if (typeof data !== 'string') {
      const { VixClientError, ClientErrorCodes } = this.parts
      this.handlers_.rejected(id, new VixClientError(ClientErrorCodes.UNSUPPORTED, `Binary frames cannot be sent over ${this.what_ === 'sse' ? 'SSE' : 'long polling'}`, { id }))
      return
    }
    this.outbox_.push(id === undefined ? { body: data } : { body: data, id })
    this.drain_().catch((error) => { this.lost_({ code: 1006, reason: `${this.what_} send failed`, error: error as Error }) })
  }

  /** Abort every request and drop the sends not made. */
  stop (): void {
    this.stopped_ = true
    for (const controller of this.controllers_) controller.abort()
    this.controllers_.clear()
    this.outbox_.length = 0
  }

  /** POST the queued sends one at a time, in order. */
  private async drain_ (): Promise<void> {
    if (this.sending_) return
    this.sending_ = true
    while (!this.stopped_ && this.outbox_.length > 0) {
      const item = this.outbox_[0]
      try {
        const response = await this.request('POST', this.parts.withQuery(this.options_.sendUrl, { session_id: this.sessionId as string }), item.body, this.options_.sendTimeout)
        if (this.stopped_) break
        if (response.status === 404) {
          this.lost_({ code: 4404, reason: `${this.what_} session not found`, sessionLost: true })
          break
        }
        this.outbox_.shift()
        if (response.status === 202 || response.status === 200) {
          if (item.id !== undefined) this.handlers_.accepted(item.id, await acceptedOf(response))
        } else {
          this.handlers_.rejected(item.id, await this.errorOf(response, item.id))
        }
      } catch (error) {
        if (this.stopped_) break
        // Unknown whether it arrived: reconnect; messages with an id are resent
        // by the client and the server's store makes that idempotent.
        this.lost_({ code: 1006, reason: `${this.what_} send failed`, error: error as Error })
      }
    }
    this.sending_ = false
  }
}
