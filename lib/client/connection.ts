import type { TimerSet } from './timers.js'
import type { VixClientError } from './errors.js'

export type TransportName = 'websocket' | 'sse' | 'long-polling'

/** Why a connection ended (reported once, and never after the client closed it). */
export interface ConnectionClosed {
  code: number
  reason: string
  /** Did it ever open? A connection that never opened is a failed attempt. */
  opened: boolean
  /** HTTP status of a refused WebSocket upgrade or poll-session creation, when known. */
  status?: number
  /** The server forgot the session (long polling 404): reconnect at once. */
  sessionLost?: boolean
  /** The server asked to wait this long (Retry-After on a 503). */
  retryAfterMs?: number
  error?: Error
}

/** What a connection reports to the client. */
export interface ConnectionHandlers {
  open: () => void
  frame: (data: string | ArrayBuffer) => void
  close: (info: ConnectionClosed) => void
  /** A send the transport confirmed itself (long polling: 202, whose body may carry the stored position). */
  accepted: (id: string, ack?: { pos?: string, duplicate?: boolean }) => void
  /** A send the transport refused (long polling: an HTTP error for that message). */
  rejected: (id: string | undefined, error: VixClientError) => void
  /** The server dropped `count` frames of this session (long-polling overflow). */
  dropped: (count: number) => void
}

/** One attempt to talk to the server: a WebSocket, an SSE stream, or one long-polling session. */
export interface Connection {
  readonly transport: TransportName
  /** Send one frame; `id` is the message id when it has one (to route a refusal). */
  send: (data: string | ArrayBuffer | ArrayBufferView, id?: string) => void
  /** Stop: no handler is called after this. */
  close: (code: number, reason: string) => void
}

export interface ConnectionContext {
  timers: TimerSet
  handlers: ConnectionHandlers
}

/** The client's connection as rooms and publishes see it, to decide whether a request goes out now or waits for the next open. */
export interface CurrentConnection {
  /** Is the client open? In a `close` listener it still is, with no connection. */
  readonly open: boolean
  readonly connection: Connection | null
}
