import type { Connection, ConnectionClosed, ConnectionContext, ConnectionHandlers, TransportName } from './connection.js'
import { HttpChannel, type HttpChannelOptions } from './http-channel.js'
import type { TimerSet } from './timers.js'

/**
 * What the HTTP transports (long polling, SSE) share: an `HttpChannel` for
 * their requests and sends, and `done`, after which no handler is called
 * and every request in flight is aborted. `finish` reports the one close.
 */
export abstract class HttpConnection implements Connection {
  abstract readonly transport: TransportName
  protected done = false
  protected opened = false
  protected readonly http: HttpChannel
  protected readonly timers: TimerSet
  protected readonly handlers: ConnectionHandlers

  constructor (options: HttpChannelOptions, context: ConnectionContext, what: TransportName) {
    this.timers = context.timers
    this.handlers = context.handlers
    this.http = new HttpChannel(options, context.timers, context.handlers, (info) => { this.finish({ ...info, opened: this.opened }) }, what)
  }

  send (data: string | ArrayBuffer | ArrayBufferView, id?: string): void {
    if (!this.done) this.http.send(data, id)
  }

  abstract close (code: number, reason: string): void

  protected finish (info: ConnectionClosed): void {
    if (this.done) return
    this.stop()
    this.handlers.close(info)
  }

  /** No handler after this; every request aborted. */
  protected stop (): void {
    this.done = true
    this.http.stop()
  }
}

/** `connection`, started (its first request sent). */
export function started<T extends HttpConnection & { start: () => void }> (connection: T): T {
  connection.start()
  return connection
}
