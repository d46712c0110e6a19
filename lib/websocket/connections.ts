import type WebSocket from 'ws'
import { CloseCodes } from '../errors.js'
import type { ErrorReason, Logger, ReceiveOptions } from '../hub/types.js'
import type { ConnectionSlot } from '../limits/limits.js'
import type { Session, Transport } from '../session.js'
import { WebSocketTransport } from './transport.js'

const BINARY = { binary: true }

/** Expected ways for a peer to vanish: logged at debug, not error. */
const EXPECTED_DISCONNECTS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT'])

/** What the WebSocket connections need of the hub: sessions opened, fed and closed; errors counted and handed on. */
export interface WebSocketParts {
  openSession: (transport: Transport, identity: unknown, id?: string, slot?: ConnectionSlot, senderKey?: string, expiresAt?: number) => Session
  closeSession: (session: Session, code: number, reason?: string) => void
  /** Never throws: failures become error frames. */
  receive: (session: Session, data: string | Buffer, options?: ReceiveOptions) => void
  report: (reason: ErrorReason) => void
  emitError: (session: Session | null, error: Error) => void
  logger: Logger
}

export interface ConnectionsOptions {
  pingInterval: number
  idleTimeout: number
  /** Clock, replaceable in tests. */
  now?: () => number
}

/**
 * Live WebSocket connections of one server: wires each socket to a hub
 * session and runs one heartbeat timer for all of them (a ping every
 * `pingInterval`; a peer silent for `idleTimeout` is terminated).
 */
export class WebSocketConnections {
  private readonly tracked = new Map<WebSocket, WebSocketTransport>()
  private readonly now: () => number
  private timer: NodeJS.Timeout | undefined
  private emptyWaiters: Array<() => void> = []
  // One set of listeners for every socket (ws calls them with the socket as
  // `this`): an idle connection holds no closures of its own.
  private readonly onMessage: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void
  private readonly onPong: (this: WebSocket) => void
  private readonly onError: (this: WebSocket, error: NodeJS.ErrnoException) => void
  private readonly onClose: (this: WebSocket, code: number, reason: Buffer) => void

  constructor (private readonly parts: WebSocketParts, private readonly options: ConnectionsOptions) {
    this.now = options.now ?? Date.now
    const connections = this
    this.onMessage = function (data, isBinary) {
      const entry = connections.tracked.get(this)
      if (entry === undefined) return
      entry.lastSeen = connections.now()
      // receive() never throws: failures become error frames.
      if (isBinary) parts.receive(entry.session, toBuffer(data), BINARY)
      else parts.receive(entry.session, data.toString())
    }
    this.onPong = function () {
      const entry = connections.tracked.get(this)
      if (entry !== undefined) entry.lastSeen = connections.now()
    }
    this.onError = function (error) {
      const entry = connections.tracked.get(this)
      if (entry !== undefined) connections.onSocketError(entry.session, error)
    }
    this.onClose = function (code, reason) {
      const entry = connections.tracked.get(this)
      if (entry === undefined) return
      connections.tracked.delete(this)
      parts.closeSession(entry.session, code, reason.toString())
      if (connections.tracked.size === 0) connections.wakeEmptyWaiters()
    }
  }

  get size (): number {
    return this.tracked.size
  }

  sockets (): IterableIterator<WebSocket> {
    return this.tracked.keys()
  }

  /**
   * Adopt an upgraded socket. Listeners are attached synchronously, before
   * any await, so no frame is lost.
   */
  attach (socket: WebSocket, identity: unknown, slot?: ConnectionSlot, senderKey?: string, expiresAt?: number): Session {
    const transport = new WebSocketTransport(socket, this.now())
    // Tracked before the session opens: a frame sent from an open hook is already coalesced like any other.
    this.tracked.set(socket, transport)
    const session = this.parts.openSession(transport, identity, undefined, slot, senderKey, expiresAt)
    transport.session = session
    socket.on('message', this.onMessage)
    socket.on('pong', this.onPong)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
    this.ensureTimer()
    return session
  }

  private onSocketError (session: Session, error: NodeJS.ErrnoException): void {
    if (error.code !== undefined && EXPECTED_DISCONNECTS.has(error.code)) {
      this.parts.logger.debug({ err: error, sessionId: session.id }, 'vix-realtime: peer disconnected')
    } else {
      this.parts.logger.warn({ err: error, sessionId: session.id }, 'vix-realtime: socket error')
      // ws closes the socket with 1009 itself when a frame exceeds maxPayload.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.parts.report('too_large')
    }
    this.parts.emitError(session, error)
  }

  private ensureTimer (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { this.heartbeat() }, this.options.pingInterval)
    this.timer.unref()
  }

  /** One heartbeat round: terminate the silent, ping the rest. */
  heartbeat (): void {
    const now = this.now()
    for (const entry of this.tracked.values()) {
      if (now - entry.lastSeen > this.options.idleTimeout) {
        this.parts.logger.debug({ sessionId: entry.session.id }, 'vix-realtime: idle peer terminated')
        entry.socket.terminate()
      } else if (entry.socket.readyState === entry.socket.OPEN) {
        entry.socket.ping()
      }
    }
  }

  /** Close every socket with `code` (the close handshake follows). */
  closeAll (code: number = CloseCodes.GOING_AWAY, reason = 'server going away'): void {
    for (const { session } of this.tracked.values()) session.close(code, reason)
  }

  /** Resolve once every socket has closed, or at `deadline` (ms epoch), whichever comes first. */
  async whenClosed (deadline: number): Promise<boolean> {
    if (this.tracked.size === 0) return true
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { resolve(this.tracked.size === 0) }, Math.max(0, deadline - Date.now()))
      timer.unref()
      this.emptyWaiters.push(() => { clearTimeout(timer); resolve(true) })
    })
  }

  private wakeEmptyWaiters (): void {
    const waiters = this.emptyWaiters
    this.emptyWaiters = []
    for (const wake of waiters) wake()
  }

  /** Drop every socket still open, without a handshake. */
  terminateAll (): void {
    for (const socket of this.tracked.keys()) socket.terminate()
  }

  stopTimer (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}

function toBuffer (data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}
