import type { ConnectionClosed, ConnectionHandlers } from './connection.js'
import { ClientErrorCodes, VixClientError, codeOf } from './errors.js'
import type { FetchLike, HeadersOption, ResponseLike } from './http-types.js'
import type { TimerSet } from './timers.js'

interface ErrorBody { code?: unknown, message?: unknown }
interface QueuedSend { body: string, id?: string }

/** `url` with `params` set in its query (replacing any of the same name); `url` itself is not changed. */
export function withQuery (url: string | URL, params: Record<string, string> | undefined): string {
  const target = new URL(url)
  for (const [key, value] of Object.entries(params ?? {})) target.searchParams.set(key, value)
  return target.toString()
}

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

/** The coded error of an HTTP answer (a proxy's HTML page keeps its status). */
export async function errorOf (response: ResponseLike, id?: string): Promise<VixClientError> {
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
  private stopped = false
  private readonly controllers = new Set<AbortController>()
  /** Sends waiting for the one in flight: a plain array drained by `drain`. */
  private readonly outbox: QueuedSend[] = []
  private sending = false

  constructor (
    private readonly options: HttpChannelOptions,
    private readonly timers: TimerSet,
    private readonly handlers: Pick<ConnectionHandlers, 'accepted' | 'rejected'>,
    private readonly lost: (info: Omit<ConnectionClosed, 'opened'>) => void,
    /** The transport's name in reasons and errors: `long-polling`, `sse`. */
    private readonly what: string
  ) {}

  /** One request with the client's headers, aborted after `timeoutMs` or when the channel stops. */
  async request (method: string, url: string, body: string | undefined, timeoutMs: number, accept = 'application/json'): Promise<ResponseLike> {
    const controller = new AbortController()
    this.controllers.add(controller)
    const timer = this.timers.set(() => { controller.abort() }, timeoutMs)
    try {
      // Awaited only when a function: with fixed headers the request goes out in the same tick.
      const extra = typeof this.options.headers === 'function' ? await this.options.headers() : this.options.headers
      const headers: Record<string, string> = { accept, ...extra }
      if (body !== undefined) headers['content-type'] = 'application/json'
      return await this.options.fetch(this.withParams(url), { method, headers, body, signal: controller.signal })
    } finally {
      this.timers.clear(timer)
      this.controllers.delete(controller)
    }
  }

  /** A request that stays open (a stream): aborted only when the channel stops. */
  async open (url: string, accept: string): Promise<ResponseLike> {
    const controller = new AbortController()
    this.controllers.add(controller)
    const extra = typeof this.options.headers === 'function' ? await this.options.headers() : this.options.headers
    return await this.options.fetch(this.withParams(url), { method: 'GET', headers: { accept, ...extra }, signal: controller.signal })
  }

  /** `url` with the current `params` (unchanged without them). */
  withParams (url: string): string {
    const params = this.options.params?.()
    return params === undefined ? url : withQuery(url, params)
  }

  send (data: string | ArrayBuffer | ArrayBufferView, id?: string): void {
    if (this.stopped) return
    if (typeof data !== 'string') {
      this.handlers.rejected(id, new VixClientError(ClientErrorCodes.UNSUPPORTED, `Binary frames cannot be sent over ${this.what === 'sse' ? 'SSE' : 'long polling'}`, { id }))
      return
    }
    this.outbox.push(id === undefined ? { body: data } : { body: data, id })
    this.drain().catch((error) => { this.lost({ code: 1006, reason: `${this.what} send failed`, error: error as Error }) })
  }

  /** Abort every request and drop the sends not made. */
  stop (): void {
    this.stopped = true
    for (const controller of this.controllers) controller.abort()
    this.controllers.clear()
    this.outbox.length = 0
  }

  /** POST the queued sends one at a time, in order. */
  private async drain (): Promise<void> {
    if (this.sending) return
    this.sending = true
    while (!this.stopped && this.outbox.length > 0) {
      const item = this.outbox[0]
      try {
        const response = await this.request('POST', withQuery(this.options.sendUrl, { session_id: this.sessionId as string }), item.body, this.options.sendTimeout)
        if (this.stopped) break
        if (response.status === 404) {
          this.lost({ code: 4404, reason: `${this.what} session not found`, sessionLost: true })
          break
        }
        this.outbox.shift()
        if (response.status === 202 || response.status === 200) {
          if (item.id !== undefined) this.handlers.accepted(item.id, await acceptedOf(response))
        } else {
          this.handlers.rejected(item.id, await errorOf(response, item.id))
        }
      } catch (error) {
        if (this.stopped) break
        // Unknown whether it arrived: reconnect; messages with an id are resent
        // by the client and the server's store makes that idempotent.
        this.lost({ code: 1006, reason: `${this.what} send failed`, error: error as Error })
      }
    }
    this.sending = false
  }
}
