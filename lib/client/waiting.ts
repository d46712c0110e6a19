import type { Connection, CurrentConnection } from './connection.js'
import type { VixClientError } from './errors.js'
import type { Pending } from './pending.js'
import type { TimerSet } from './timers.js'

/** A message sent with an id and waiting for the server's answer to it. */
export interface WaitingMessage<T> {
  id: string
  /** The frame as first sent: a resend carries the same id, so the server can answer a copy it already had. */
  text_: string
  answered_: Pending<T>
  /** Runs once it stops waiting, however it ends. */
  forget_?: () => void
}

/**
 * Messages waiting for their answer, by id (publishes for their ack,
 * requests for their reply): sent at once when the client is open, queued
 * otherwise, and resent with their ids on every new connection until an
 * answer, an error frame, their timeout or `close()` settles them.
 */
export class WaitingMessages<T, M extends WaitingMessage<T> = WaitingMessage<T>> {
  private readonly waiting_ = new Map<string, M>()

  constructor (
    protected readonly timers_: TimerSet,
    protected readonly options_: { timeout: number, maxMessageSize: number },
    private readonly current_: CurrentConnection
  ) {}

  /** Is `id` waiting here? */
  has (id: string): boolean {
    return this.waiting_.has(id)
  }

  /** Send every waiting message again on a new connection, in the order they were first sent; each one's timeout runs again from now. */
  resend (connection: Connection): void {
    for (const message of this.waiting_.values()) {
      connection.send(message.text_, message.id)
      message.answered_.arm()
    }
  }

  /** The connection is gone: no timeout runs while the messages wait for the next one. */
  paused (): void {
    for (const message of this.waiting_.values()) message.answered_.disarm()
  }

  /** The server refused `id`: true when it was waiting here. */
  failed (id: string, error: VixClientError): boolean {
    const message = this.take_(id)
    message?.answered_.reject(error)
    return message !== undefined
  }

  /** The client closes: every waiting message rejects, and none is resent. */
  close (closed: () => VixClientError): void {
    const waiting = [...this.waiting_.keys()].map((id) => this.take_(id) as M)
    for (const message of waiting) message.answered_.reject(closed())
  }

  /** Wait for `message`'s answer, sending it now when the client is open. */
  protected send_ (message: M): Promise<T> {
    this.waiting_.set(message.id, message)
    const connection = this.current_.open ? this.current_.connection : null
    if (connection !== null) {
      connection.send(message.text_, message.id)
      message.answered_.arm()
    }
    return message.answered_.promise
  }

  /** Stop waiting for `id`; the message, when it was waiting. */
  protected take_ (id: string): M | undefined {
    const message = this.waiting_.get(id)
    if (message === undefined) return undefined
    this.waiting_.delete(id)
    message.forget_?.()
    return message
  }
}
