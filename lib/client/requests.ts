import type { Connection, CurrentConnection } from './connection.js'
import { ClientErrorCodes, VixClientError } from './errors.js'
import { newClientId } from './id.js'
import { Pending } from './pending.js'
import type { VixMessage } from './protocol.js'
import { outgoingText } from './publishes.js'
import type { TimerSet } from './timers.js'

/** Options of `VixClient.request`. */
export interface RequestOptions {
  /** Give up after this many ms (default: the client's `timeout`): rejects with `VIX_ERR_CLIENT_TIMEOUT`. */
  timeout?: number
  /** Abort waiting: rejects with `VIX_ERR_CLIENT_ABORTED` (the server may still run it). */
  signal?: AbortSignal
}

interface WaitingRequest {
  id: string
  /** The frame as first sent: a resend carries the same id, so the server answers it from its reply cache. */
  text: string
  replied: Pending<unknown>
  /** Removes the abort listener of its signal, if any. */
  forget: () => void
}

/**
 * Requests waiting for their reply (the ack's `payload.reply`), by id: sent
 * at once when the client is open, queued otherwise, and sent again with
 * their id on each new connection until a reply, an error frame, their
 * timeout or their signal settles them. The server runs an id once per
 * sender, so a resend after a reconnect is answered, never run twice.
 *
 * @example
 * const requests = new Requests(timers, { timeout: 10_000, maxMessageSize: 65_536 }, current)
 * const reply = requests.request('room.members', { room: 'general' }, {})
 * requests.replied(ackFrame.id, ackFrame) // `reply` resolves with ackFrame.payload.reply
 */
export class Requests {
  private readonly waiting = new Map<string, WaitingRequest>()

  constructor (
    private readonly timers: TimerSet,
    private readonly options: { timeout: number, maxMessageSize: number },
    private readonly current: CurrentConnection
  ) {}

  /** Is `id` a request waiting for its reply? (A long-polling 202 does not answer it: its ack frame does.) */
  has (id: string): boolean {
    return this.waiting.has(id)
  }

  request (type: string, payload: Record<string, unknown>, options: RequestOptions): Promise<unknown> {
    const id = newClientId()
    const { signal } = options
    if (signal?.aborted === true) return Promise.reject(aborted(type, id))
    const text = outgoingText({ id, type, payload }, this.options.maxMessageSize)
    const timeout = options.timeout ?? this.options.timeout
    const replied = new Pending<unknown>(this.timers, {
      ms: timeout,
      expired: () => {
        this.forget(id)
        return new VixClientError(ClientErrorCodes.TIMEOUT, `No reply to "${type}" within ${timeout} ms (the server may still have run it)`, { id })
      }
    })
    const onAbort = (): void => {
      if (this.forget(id)) replied.reject(aborted(type, id))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    this.waiting.set(id, { id, text, replied, forget: () => { signal?.removeEventListener('abort', onAbort) } })
    if (this.current.open) this.current.connection?.send(text, id)
    return replied.promise
  }

  /** Send every waiting request again on a new connection, with its id, in the order they were made. */
  resend (connection: Connection): void {
    for (const request of this.waiting.values()) connection.send(request.text, request.id)
  }

  /** The ack of `id` arrived: true when it was a request (it resolves with the ack's `payload.reply`). */
  replied (id: string, frame: VixMessage): boolean {
    const request = this.waiting.get(id)
    if (request === undefined) return false
    this.forget(id)
    request.replied.resolve((frame.payload as { reply?: unknown }).reply)
    return true
  }

  /** The server refused `id`: true when it was a request waiting for its reply. */
  failed (id: string, error: VixClientError): boolean {
    const request = this.waiting.get(id)
    if (request === undefined) return false
    this.forget(id)
    request.replied.reject(error)
    return true
  }

  /** The client closes: every waiting request rejects, and none is resent. */
  close (closed: () => VixClientError): void {
    const waiting = [...this.waiting.values()]
    for (const request of waiting) this.forget(request.id)
    for (const request of waiting) request.replied.reject(closed())
  }

  private forget (id: string): boolean {
    const request = this.waiting.get(id)
    if (request === undefined) return false
    this.waiting.delete(id)
    request.forget()
    return true
  }
}

function aborted (type: string, id: string): VixClientError {
  return new VixClientError(ClientErrorCodes.ABORTED, `The request "${type}" was aborted before its reply`, { id })
}
