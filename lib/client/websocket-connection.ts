import type { Connection, ConnectionContext, ConnectionClosed } from './connection.js'

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
  const { timers, handlers } = context
  const socket = options.webSocketOptions === undefined
    ? new options.WebSocket(options.url)
    : new options.WebSocket(options.url, undefined, options.webSocketOptions)
  socket.binaryType = 'arraybuffer'
  let opened = false
  let done = false
  let lastError: unknown

  const finish = (info: ConnectionClosed): void => {
    if (done) return
    done = true
    timers.clear(connectTimer)
    detach()
    handlers.close(info)
  }
  const detach = (): void => {
    socket.onopen = null
    socket.onmessage = null
    socket.onclose = null
    // `ws` throws on an 'error' with no listener (a close while connecting emits one).
    socket.onerror = () => {}
  }
  // A proxy that black-holes the upgrade would otherwise leave us waiting forever.
  const connectTimer = timers.set(() => {
    finish({ code: 1006, reason: 'connect timeout', opened: false })
    safeClose()
  }, options.connectTimeout)
  const safeClose = (code?: number, reason?: string): void => {
    try {
      socket.close(code, reason)
    } catch {
      // close() on a socket still connecting may throw in some implementations; it is going away anyway.
    }
  }

  socket.onopen = () => {
    opened = true
    timers.clear(connectTimer)
    handlers.open()
  }
  socket.onmessage = (event: { data: string | ArrayBuffer }) => { handlers.frame(event.data) }
  socket.onerror = (event: { error?: unknown, message?: unknown }) => { lastError = event.error ?? event }
  socket.onclose = (event: { code: number, reason: string }) => {
    const info: ConnectionClosed = { code: event.code, reason: event.reason, opened }
    const status = refusedStatus(lastError)
    if (status !== undefined) info.status = status
    if (lastError instanceof Error) info.error = lastError
    finish(info)
  }

  return {
    transport: 'websocket',
    send (data) {
      if (socket.readyState === OPEN) socket.send(data)
    },
    close (code, reason) {
      if (done) return
      done = true
      timers.clear(connectTimer)
      detach()
      safeClose(code, reason)
    }
  }
}
