import { ClientErrorCodes, VixClientError } from './errors.js'
import { newClientId } from './id.js'
import { Pending } from './pending.js'
import type { VixMessage } from './protocol.js'
import { outgoingText } from './publishes.js'
import { WaitingMessages } from './waiting.js'

/** Options of `VixClient.request`. */
export interface RequestOptions {
  /** Give up after this many ms (default: the client's `timeout`): rejects with `VIX_ERR_CLIENT_TIMEOUT`. */
  timeout?: number
  /** Abort waiting: rejects with `VIX_ERR_CLIENT_ABORTED` (the server may still run it). */
  signal?: AbortSignal
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
export class Requests extends WaitingMessages<unknown> {
  request (type: string, payload: Record<string, unknown>, options: RequestOptions): Promise<unknown> {
    const id = newClientId()
    const { signal } = options
    if (signal?.aborted === true) return Promise.reject(aborted(type, id))
    const text = outgoingText({ id, type, payload }, this.options_.maxMessageSize)
    const timeout = options.timeout ?? this.options_.timeout
    // The clock runs from each send: queued while offline, the message waits for the connection.
    const answered = new Pending<unknown>(this.timers_, {
      ms: timeout,
      armed: false,
      expired: () => {
        this.take_(id)
        return new VixClientError(ClientErrorCodes.TIMEOUT, `No reply to "${type}" within ${timeout} ms (the server may still have run it)`, { id })
      }
    })
    const onAbort = (): void => { this.failed(id, aborted(type, id)) }
    signal?.addEventListener('abort', onAbort, { once: true })
    return this.send_({ id, text_: text, answered_: answered, forget_: () => { signal?.removeEventListener('abort', onAbort) } })
  }

  /** The ack of `id` arrived: true when it was a request (it resolves with the ack's `payload.reply`). */
  replied (id: string, frame: VixMessage): boolean {
    const request = this.take_(id)
    request?.answered_.resolve((frame.payload as { reply?: unknown }).reply)
    return request !== undefined
  }
}

function aborted (type: string, id: string): VixClientError {
  return new VixClientError(ClientErrorCodes.ABORTED, `The request "${type}" was aborted before its reply`, { id })
}
