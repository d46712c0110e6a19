import type { WebSocket } from 'ws'
import { CloseCodes } from '../errors.js'
import type { Hub } from '../hub.js'
import type { ConnectionSlot } from '../limits/limits.js'
import type { Session, Transport } from '../session.js'

const BINARY = { binary: true }

/** Expected ways for a peer to vanish: logged at debug, not error. */
const EXPECTED_DISCONNECTS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT'])

export interface ConnectionsOptions {
  pingInterval: number
  idleTimeout: number
  /** Clock, replaceable in tests. */
  now?: () => number
}

interface Tracked { session: Session, socket: WebSocket, lastSeen: number }

/**
 * Live WebSocket connections of one server: wires each socket to a hub
 * session and runs one heartbeat timer for all of them (a ping every
 * `pingInterval`; a peer silent for `idleTimeout` is terminated).
 */
export class WebSocketConnections {
  private readonly tracked = new Map<WebSocket, Tracked>()
  private readonly now: () => number
  private timer: NodeJS.Timeout | undefined
  private emptyWaiters: Array<() => void> = []

  constructor (private readonly hub: Hub, private readonly options: ConnectionsOptions) {
    this.now = options.now ?? Date.now
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
  attach (socket: WebSocket, identity: unknown, slot?: ConnectionSlot): Session {
    const transport: Transport = {
      name: 'websocket',
      send: (data) => { socket.send(data) },
      bufferedAmount: () => socket.bufferedAmount,
      close: (code, reason) => { socket.close(code, reason) },
      terminate: () => { socket.terminate() }
    }
    const session = this.hub.openSession(transport, identity, undefined, slot)
    const entry: Tracked = { session, socket, lastSeen: this.now() }
    this.tracked.set(socket, entry)
    socket.on('message', (data, isBinary) => {
      entry.lastSeen = this.now()
      // receive() never throws: failures become error frames.
      if (isBinary) this.hub.receive(session, toBuffer(data), BINARY)
      else this.hub.receive(session, data.toString())
    })
    socket.on('pong', () => { entry.lastSeen = this.now() })
    socket.on('error', (error: NodeJS.ErrnoException) => { this.onSocketError(session, error) })
    socket.on('close', (code, reason) => {
      this.tracked.delete(socket)
      this.hub.closeSession(session, code, reason.toString())
      if (this.tracked.size === 0) this.wakeEmptyWaiters()
    })
    this.ensureTimer()
    return session
  }

  private onSocketError (session: Session, error: NodeJS.ErrnoException): void {
    if (error.code !== undefined && EXPECTED_DISCONNECTS.has(error.code)) {
      this.hub.logger.debug({ err: error, sessionId: session.id }, 'vix-realtime: peer disconnected')
    } else {
      this.hub.logger.warn({ err: error, sessionId: session.id }, 'vix-realtime: socket error')
      // ws closes the socket with 1009 itself when a frame exceeds maxPayload.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.hub.report('too_large')
    }
    this.hub.emitError(session, error)
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
        this.hub.logger.debug({ sessionId: entry.session.id }, 'vix-realtime: idle peer terminated')
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
