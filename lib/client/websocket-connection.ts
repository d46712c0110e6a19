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
  private readonly socket: WebSocketLike
  private readonly timers: TimerSet
  private readonly handlers: ConnectionHandlers
  private readonly connectTimer: unknown
  private opened = false
  private done = false
  /** The last `error` event, read by the `close` that follows it. */
  private lastError: unknown

  constructor (options: WebSocketConnectionOptions, context: ConnectionContext) {
    this.timers = context.timers
    this.handlers = context.handlers
    this.socket = options.webSocketOptions === undefined
      ? new options.WebSocket(options.url)
      : new options.WebSocket(options.url, undefined, options.webSocketOptions)
    this.socket.binaryType = 'arraybuffer'
    // A proxy that black-holes the upgrade would otherwise leave us waiting forever.
    this.connectTimer = this.timers.set(() => {
      this.finish({ code: 1006, reason: 'connect timeout', opened: false })
      this.safeClose()
    }, options.connectTimeout)
    this.listen()
  }

  send (data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.socket.readyState === OPEN) this.socket.send(data)
  }

  close (code: number, reason: string): void {
    if (this.done) return
    this.done = true
    this.timers.clear(this.connectTimer)
    this.detach()
    this.safeClose(code, reason)
  }

  /** Attached before the constructor returns, so no event is missed. */
  private listen (): void {
    const { socket } = this
    socket.onopen = () => {
      this.opened = true
      this.timers.clear(this.connectTimer)
      this.handlers.open()
    }
    socket.onmessage = (event: { data: string | ArrayBuffer }) => { this.handlers.frame(event.data) }
    socket.onerror = (event: { error?: unknown, message?: unknown }) => { this.lastError = event.error ?? event }
    socket.onclose = (event: { code: number, reason: string }) => {
      const info: ConnectionClosed = { code: event.code, reason: event.reason, opened: this.opened }
      const status = refusedStatus(this.lastError)
      if (status !== undefined) info.status = status
      if (this.lastError instanceof Error) info.error = this.lastError
      this.finish(info)
    }
  }

  private finish (info: ConnectionClosed): void {
    if (this.done) return
    this.done = true
    this.timers.clear(this.connectTimer)
    this.detach()
    this.handlers.close(info)
  }

  private detach (): void {
    const { socket } = this
    socket.onopen = null
    socket.onmessage = null
    socket.onclose = null
    // `ws` throws on an 'error' with no listener (a close while connecting emits one).
    socket.onerror = () => {}
  }

  private safeClose (code?: number, reason?: string): void {
    try {
      this.socket.close(code, reason)
    } catch {
      // close() on a socket still connecting may throw in some implementations; it is going away anyway.
    }
  }
}
