import type { Connection, ConnectionClosed, ConnectionContext, ConnectionHandlers, TransportName } from './connection.js'
import { HttpChannel, type HttpChannelOptions } from './http-channel.js'
import type { ClientParts } from './parts.js'
import type { TimerSet } from './timers.js'

/** A connection's context on an HTTP transport: with the parts of the client it is handed (see `ClientParts`). */
export interface HttpContext extends ConnectionContext {
  parts: ClientParts
}

/**
 * What the HTTP transports (long polling, SSE) share: an `HttpChannel` for
 * their requests and sends, and `done`, after which no handler is called
 * and every request in flight is aborted. `finish` reports the one close.
 */
export abstract class HttpConnection implements Connection {
  abstract readonly transport: TransportName
  protected done_ = false
  protected opened_ = false
  protected readonly http_: HttpChannel
  protected readonly timers_: TimerSet
  protected readonly handlers_: ConnectionHandlers

  constructor (options: HttpChannelOptions, context: HttpContext, what: TransportName) {
    this.timers_ = context.timers
    this.handlers_ = context.handlers
    this.http_ = new HttpChannel(options, context.parts, context.timers, context.handlers, (info) => { this.finish_({ ...info, opened: this.opened_ }) }, what)
  }

  send (data: string | ArrayBuffer | ArrayBufferView, id?: string): void {
    if (!this.done_) this.http_.send(data, id)
  }

  abstract close (code: number, reason: string): void

  protected finish_ (info: ConnectionClosed): void {
    if (this.done_) return
    this.stop_()
    this.handlers_.close(info)
  }

  /** No handler after this; every request aborted. */
  protected stop_ (): void {
    this.done_ = true
    this.http_.stop()
  }
}

/** `connection`, started (its first request sent). */
export function started<T extends HttpConnection & { start: () => void }> (connection: T): T {
  connection.start()
  return connection
}
