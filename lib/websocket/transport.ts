import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import type { PreparedFrame } from '../prepared-frame.js'
import type { Session, Transport } from '../session.js'
import { uncorkAtTickEnd } from '../tick-cork.js'
import { textFrame } from './text-frame.js'

/**
 * The private parts of a ws `WebSocket` the fast path uses: the socket under
 * it (to cork) and its sender's `sendFrame` (to write a pre-built frame), as
 * engine.io does. Tested against the pinned ws range (test/ws-private-api.test.ts).
 */
interface WsInternals {
  _socket?: Duplex | null
  _sender?: { sendFrame: (list: Buffer[], cb?: () => void) => void } | null
}

const OPEN = 1

/**
 * A hub session's transport over a ws WebSocket. When no extension
 * (permessage-deflate) was negotiated, a frame is written whole through ws's
 * sender: a prepared frame as its pre-built bytes, a text as one buffer of
 * header and payload (`textFrame`); else with `socket.send` (ws compresses
 * it). Writes are corked until the end of the tick. Also what a connection
 * keeps per socket (its session and when the peer was last heard).
 */
export class WebSocketTransport implements Transport {
  readonly name = 'websocket'
  session!: Session
  lastSeen: number
  private corked = false
  /** Bytes the peer had not taken when this tick's first write was corked. */
  private before = 0
  /** No extension negotiated: ws would send the frame bytes as they are. Fixed at the upgrade. */
  private readonly raw: boolean

  constructor (readonly socket: WebSocket, now: number) {
    this.lastSeen = now
    this.raw = socket.extensions === ''
  }

  send (data: string | Buffer): void {
    this.cork()
    if (typeof data === 'string' && this.raw && this.socket.readyState === OPEN) {
      ;(this.socket as unknown as WsInternals)._sender?.sendFrame([textFrame(data)])
      return
    }
    this.socket.send(data)
  }

  sendPrepared (frame: PreparedFrame): void {
    const socket = this.socket
    if (!this.raw || socket.readyState !== OPEN) {
      // Deflate on, or closing (ws then refuses the send as it always did).
      this.send(frame.text)
      return
    }
    this.cork()
    ;(socket as unknown as WsInternals)._sender?.sendFrame([frame.wsFrame])
  }

  /**
   * Bytes the peer has not taken. While corked, what it had not taken before
   * this tick: the frames of the current tick have not been offered to it
   * yet, so they do not make it a slow consumer (uncorked, the kernel would
   * have taken them); it is judged on the next tick.
   */
  bufferedAmount (): number {
    return this.corked ? this.before : this.socket.bufferedAmount
  }

  close (code: number, reason: string): void {
    this.socket.close(code, reason)
  }

  terminate (): void {
    this.socket.terminate()
  }

  private cork (): void {
    if (this.corked) return
    const raw = (this.socket as unknown as WsInternals)._socket
    // No socket under it (not yet, no longer, or a stand-in): written as it comes.
    if (raw === null || raw === undefined || raw.destroyed) return
    this.before = this.socket.bufferedAmount
    raw.cork()
    this.corked = true
    uncorkAtTickEnd(this)
  }

  /** Called once per tick for a corked socket. */
  uncork (): void {
    this.corked = false
    ;(this.socket as unknown as WsInternals)._socket?.uncork()
  }
}
