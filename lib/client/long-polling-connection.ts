import type { Connection, ConnectionContext, ConnectionClosed } from './connection.js'
import { ClientErrorCodes, VixClientError, codeOf } from './errors.js'

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
  sendUrl: string
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
  const { timers, handlers } = context
  let done = false
  let opened = false
  let sessionId: string | undefined
  let ack: number | undefined
  let failures = 0
  let retryTimer: unknown
  const controllers = new Set<AbortController>()
  const outbox: QueuedSend[] = []
  let sending = false

  // A function, so loops see `done` change across awaits.
  const stopped = (): boolean => done
  const fail = (error: unknown): void => {
    finish({ code: 1006, reason: 'long polling failed', opened, error: error as Error })
  }
  const finish = (info: ConnectionClosed): void => {
    if (done) return
    stop()
    handlers.close(info)
  }
  const stop = (): void => {
    done = true
    timers.clear(retryTimer)
    for (const controller of controllers) controller.abort()
    controllers.clear()
    outbox.length = 0
  }

  async function request (method: string, url: string, body: string | undefined, timeoutMs: number): Promise<ResponseLike> {
    const controller = new AbortController()
    controllers.add(controller)
    const timer = timers.set(() => { controller.abort() }, timeoutMs)
    try {
      const extra = typeof options.headers === 'function' ? await options.headers() : options.headers
      const headers: Record<string, string> = { accept: 'application/json', ...extra }
      if (body !== undefined) headers['content-type'] = 'application/json'
      return await options.fetch(url, { method, headers, body, signal: controller.signal })
    } finally {
      timers.clear(timer)
      controllers.delete(controller)
    }
  }

  /**
   * Tell the server the session is over (`DELETE` of the poll URL), so it
   * leaves its rooms at once instead of after `sessionTtl`: a page closing,
   * a switch back to WebSocket. Best effort: nothing waits for it.
   */
  async function end (id: string): Promise<void> {
    try {
      const extra = typeof options.headers === 'function' ? await options.headers() : options.headers
      await options.fetch(withQuery(options.pollUrl, { session_id: id }), { method: 'DELETE', headers: { accept: 'application/json', ...extra }, signal: AbortSignal.timeout(options.pollGrace), keepalive: true })
    } catch {}
  }

  function deliver (body: PollBody): void {
    if (typeof body.next === 'number') ack = body.next
    // Before the frames: the client rejoins with the last id it saw before the gap,
    // so the replay covers what was dropped (and duplicates of this batch are dropped).
    if (typeof body.dropped === 'number' && body.dropped > 0) handlers.dropped(body.dropped)
    const messages = Array.isArray(body.messages) ? body.messages : []
    for (const message of messages) {
      if (done) return
      handlers.frame(JSON.stringify(message))
    }
  }

  async function create (): Promise<void> {
    let response: ResponseLike
    try {
      response = await request('GET', options.pollUrl, undefined, options.pollGrace)
    } catch (error) {
      finish({ code: 1006, reason: 'long-polling session could not be created', opened: false, error: error as Error })
      return
    }
    if (done) return
    if (response.status !== 200) {
      const error = await errorOf(response)
      finish({ code: 1006, reason: error.message, opened: false, status: response.status, retryAfterMs: retryAfterOf(response), error })
      return
    }
    let body: PollBody = {}
    try {
      body = (await response.json()) as PollBody
    } catch {
      // Handled below as an answer without a session id.
    }
    if (done) return
    if (body === null || typeof body.session_id !== 'string') {
      finish({ code: 1002, reason: 'poll session answer without session_id', opened: false })
      return
    }
    sessionId = body.session_id
    opened = true
    handlers.open()
    deliver(body)
    poll().catch(fail)
  }

  async function poll (): Promise<void> {
    while (!stopped()) {
      const params: Record<string, string> = { session_id: sessionId as string, wait: String(options.wait) }
      if (ack !== undefined) params.ack = String(ack)
      let response: ResponseLike
      let body: PollBody
      try {
        response = await request('GET', withQuery(options.pollUrl, params), undefined, options.wait + options.pollGrace)
        if (done) return
        if (response.status === 404) {
          finish({ code: 4404, reason: 'long-polling session not found', opened, sessionLost: true, error: await errorOf(response) })
          return
        }
        if (response.status === 503) {
          finish({ code: 1001, reason: 'server unavailable', opened, status: 503, retryAfterMs: retryAfterOf(response) })
          return
        }
        if (response.status !== 200) throw await errorOf(response)
        body = (await response.json()) as PollBody
      } catch (error) {
        if (done) return
        // The session outlives a failed poll on the server: retry it with the same
        // ack so nothing is lost, and only give up after a few tries.
        if (++failures > options.pollRetries) {
          finish({ code: 1006, reason: 'long polling failed', opened, error: error as Error })
          return
        }
        await new Promise<void>((resolve) => { retryTimer = timers.set(resolve, options.retryDelay * failures) })
        continue
      }
      if (done) return
      failures = 0
      deliver(body)
    }
  }

  async function pump (): Promise<void> {
    if (sending) return
    sending = true
    while (!stopped() && outbox.length > 0) {
      const item = outbox[0]
      try {
        const response = await request('POST', withQuery(options.sendUrl, { session_id: sessionId as string }), item.body, options.pollGrace)
        if (done) break
        if (response.status === 404) {
          finish({ code: 4404, reason: 'long-polling session not found', opened, sessionLost: true })
          break
        }
        outbox.shift()
        if (response.status === 202 || response.status === 200) {
          if (item.id !== undefined) handlers.accepted(item.id, await acceptedOf(response))
        } else {
          handlers.rejected(item.id, await errorOf(response, item.id))
        }
      } catch (error) {
        if (done) break
        // Unknown whether it arrived: reconnect; messages with an id are resent
        // by the client and the server's store makes that idempotent.
        finish({ code: 1006, reason: 'long-polling send failed', opened, error: error as Error })
      }
    }
    sending = false
  }

  create().catch(fail)

  return {
    transport: 'long-polling',
    send (data, id) {
      if (done) return
      if (typeof data !== 'string') {
        handlers.rejected(id, new VixClientError(ClientErrorCodes.UNSUPPORTED, 'Binary frames cannot be sent over long polling', { id }))
        return
      }
      outbox.push(id === undefined ? { body: data } : { body: data, id })
      pump().catch(fail)
    },
    close () {
      if (done) return
      const id = sessionId
      stop()
      if (id !== undefined) end(id).catch(() => {})
    }
  }
}
