import type { Connection, ConnectionClosed, ConnectionContext, ConnectionHandlers } from './connection.js'
import type { TimerSet } from './timers.js'

/**
 * The part of the WebSocket API the client uses. The browser's `WebSocket`
 * and the `ws` package's class (Node) both fit.
 */
export interface WebSocketLike {
  readonly readyState: number
  binaryType: string
  send: (data: string | ArrayBuffer | ArrayBufferView) => void
  close: (code?: number, reason?: string) => void
  onopen: ((event: any) => void) | null
  onmessage: ((event: any) => void) | null
  onclose: ((event: any) => void) | null
  onerror: ((event: any) => void) | null
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `import WebSocket from 'ws'` in Node 20. */
export type WebSocketConstructor = new (url: string, ...rest: any[]) => WebSocketLike

const OPEN = 1

/** `ws` reports a refused upgrade as an error "Unexpected server response: 426"; browsers say nothing. */
function refusedStatus (error: unknown): number | undefined {
  const message = (error as { message?: unknown } | undefined)?.message
  if (typeof message !== 'string') return undefined
  const match = /Unexpected server response: (\d{3})/.exec(message)
  return match === null ? undefined : Number(match[1])
}

export interface WebSocketConnectionOptions {
  url: string
  WebSocket: WebSocketConstructor
  /** Third constructor argument (the `ws` package's options: headers, agent...). */
  webSocketOptions?: unknown
  connectTimeout: number
}

/** One WebSocket: reports open, frames and the one close. */
export function openWebSocket (options: WebSocketConnectionOptions, context: ConnectionContext): Connection {
  return new WebSocketConnection(options, context)
}

class WebSocketConnection implements Connection {
  readonly transport = 'websocket'
  private readonly socket_: WebSocketLike
  private readonly timers_: TimerSet
  private readonly handlers_: ConnectionHandlers
  private readonly connectTimer_: unknown
  private opened_ = false
  private done_ = false
  /** The last `error` event, read by the `close` that follows it. */
  private lastError_: unknown

  constructor (options: WebSocketConnectionOptions, context: ConnectionContext) {
    this.timers_ = context.timers
    this.handlers_ = context.handlers
    this.socket_ = options.webSocketOptions === undefined
      ? new options.WebSocket(options.url)
      : new options.WebSocket(options.url, undefined, options.webSocketOptions)
    this.socket_.binaryType = 'arraybuffer'
    // A proxy that black-holes the upgrade would otherwise leave us waiting forever.
    this.connectTimer_ = this.timers_.set(() => {
      this.finish_({ code: 1006, reason: 'connect timeout', opened: false })
      this.safeClose_()
    }, options.connectTimeout)
    this.listen_()
  }

  send (data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.socket_.readyState === OPEN) this.socket_.send(data)
  }

  close (code: number, reason: string): void {
    if (this.done_) return
    this.done_ = true
    this.timers_.clear(this.connectTimer_)
    this.detach_()
    this.safeClose_(code, reason)
  }

  /** Attached before the constructor returns, so no event is missed. */
  private listen_ (): void {
    const { socket_: socket } = this
    socket.onopen = () => {
      this.opened_ = true
      this.timers_.clear(this.connectTimer_)
      this.handlers_.open()
    }
    socket.onmessage = (event: { data: string | ArrayBuffer }) => { this.handlers_.frame(event.data) }
    socket.onerror = (event: { error?: unknown, message?: unknown }) => { this.lastError_ = event.error ?? event }
    socket.onclose = (event: { code: number, reason: string }) => {
      const info: ConnectionClosed = { code: event.code, reason: event.reason, opened: this.opened_ }
      const status = refusedStatus(this.lastError_)
      if (status !== undefined) info.status = status
      if (this.lastError_ instanceof Error) info.error = this.lastError_
      this.finish_(info)
    }
  }

  private finish_ (info: ConnectionClosed): void {
    if (this.done_) return
    this.done_ = true
    this.timers_.clear(this.connectTimer_)
    this.detach_()
    this.handlers_.close(info)
  }

  private detach_ (): void {
    const { socket_: socket } = this
    socket.onopen = null
    socket.onmessage = null
    socket.onclose = null
    // `ws` throws on an 'error' with no listener (a close while connecting emits one).
    socket.onerror = () => {}
  }

  private safeClose_ (code?: number, reason?: string): void {
    try {
      this.socket_.close(code, reason)
    } catch {
      // close() on a socket still connecting may throw in some implementations; it is going away anyway.
    }
  }
}
