import type { JoinAck, OutgoingMessage, VixMessage } from '../client/protocol.js'
import type { TestClose, TestLink } from './link.js'
import { realDelay, realTimers } from './timers.js'

export type TestTransport = 'websocket' | 'polling'

/** Picks the frame a test waits for. */
export type FramePredicate = (frame: VixMessage) => boolean

/** A refused join or request: the server's error frame. */
export class TestClientError extends Error {
  constructor (readonly frame: VixMessage<{ code?: string, message?: string, path?: string }>) {
    super(`${frame.payload.code ?? 'error'}: ${frame.payload.message ?? ''}`)
    this.name = 'TestClientError'
  }

  get code (): string | undefined {
    return this.frame.payload.code
  }
}

/** Between two polls of a waiting long-poll client (real ms). */
const POLL_PAUSE = 2

let counter = 0

/**
 * One in-process session: what it sends goes through the app's routes and
 * hub as a real client's would; every frame the server sends it is kept, in
 * order, and handed out once by `next`.
 */
export class TestClient {
  /** Every frame received so far, in order (read or not). */
  readonly frames: VixMessage[] = []
  /** Resolves when the connection ends (a WebSocket close code; long polling: see `TestClose`). */
  readonly closed: Promise<TestClose>
  private unread: VixMessage[] = []
  /** Waits (`next`, `expectNothing`) to wake at the next frame or the end. */
  private readonly waiters = new Set<() => void>()
  private ended: TestClose | undefined
  private resolveClosed!: (close: TestClose) => void
  private link!: TestLink
  private readonly prefix = `t${(++counter).toString(36)}-`
  private sequence = 0

  constructor (readonly transport: TestTransport, readonly timeout: number) {
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve })
  }

  /** @internal wires the transport (called by `connect`). */
  attach (link: TestLink): void {
    this.link = link
  }

  /** @internal a frame from the server. */
  receive (frame: VixMessage): void {
    this.frames.push(frame)
    this.unread.push(frame)
    this.wakeAll()
  }

  /** @internal the connection ended. */
  end (close: TestClose): void {
    if (this.ended !== undefined) return
    this.ended = close
    this.resolveClosed(close)
    this.wakeAll()
  }

  /** True once the connection ended. */
  get isClosed (): boolean {
    return this.ended !== undefined
  }

  /** A fresh message id (unique per client). */
  newId (): string {
    return `${this.prefix}${++this.sequence}`
  }

  /** Send one frame: a message (serialized as JSON) or raw text. Over long polling it resolves once `POST /ws/send` answered; an HTTP refusal becomes an error frame. */
  async send (frame: OutgoingMessage | Record<string, unknown> | string): Promise<void> {
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame)
    const id = typeof frame === 'object' && typeof frame.id === 'string' ? frame.id : undefined
    await this.link.send(text, id)
  }

  /** Join `room` (with `since`, replay what was missed first) and resolve with the ack; rejects with the error frame when refused. */
  async join (room: string, since?: string): Promise<VixMessage<JoinAck>> {
    const id = this.newId()
    await this.send({ id, type: 'room.join', payload: since === undefined ? { room } : { room, since } })
    return await this.answer<JoinAck>(id)
  }

  /** Leave `room` and resolve with the ack. */
  async leave (room: string): Promise<VixMessage> {
    const id = this.newId()
    await this.send({ id, type: 'room.leave', payload: { room } })
    return await this.answer(id)
  }

  /** Publish to a room (a relay type) with an id and resolve with its ack (`payload.pos`, `payload.duplicate`); rejects with the error frame when refused. */
  async publish (room: string, type: string, payload: Record<string, unknown> = {}, id = this.newId()): Promise<VixMessage<{ pos?: string, duplicate?: boolean }>> {
    await this.send({ id, room, type, payload })
    return await this.answer(id)
  }

  /** Send a request (a type registered with a `reply` schema) and resolve with the handler's reply; rejects with the error frame when it failed. */
  async request<R = unknown> (type: string, payload: Record<string, unknown> = {}, id = this.newId()): Promise<R> {
    await this.send({ id, type, payload })
    const ack = await this.answer(id)
    return ack.payload.reply as R
  }

  /**
   * The first unread frame matching `predicate` (any frame without one),
   * waiting up to `timeout` real ms for it; it is then read, and earlier
   * unread frames that did not match stay unread.
   */
  async next (predicate: FramePredicate = () => true, timeout = this.timeout): Promise<VixMessage> {
    const deadline = realTimers.now() + timeout
    for (;;) {
      const index = this.unread.findIndex(predicate)
      if (index !== -1) return this.unread.splice(index, 1)[0]
      const remaining = deadline - realTimers.now()
      if (remaining <= 0 || this.ended !== undefined) {
        const why = this.ended === undefined ? `within ${timeout} ms` : `before the connection closed (${this.ended.code})`
        throw new Error(`vix-realtime/testing: no matching frame ${why}; unread: ${JSON.stringify(this.unread)}`)
      }
      await this.arrival(remaining)
    }
  }

  /** Resolve after `ms` real ms when no unread frame (matching `predicate`) arrived meanwhile; reject with the frame otherwise. */
  async expectNothing (ms: number, predicate: FramePredicate = () => true): Promise<void> {
    const deadline = realTimers.now() + ms
    for (;;) {
      const found = this.unread.find(predicate)
      if (found !== undefined) throw new Error(`vix-realtime/testing: expected no frame, got ${JSON.stringify(found)}`)
      const remaining = deadline - realTimers.now()
      if (remaining <= 0) return
      await this.arrival(remaining)
    }
  }

  /** Close the connection (a WebSocket close 1000; long polling: `DELETE /ws/poll`) and resolve once it ended. */
  async close (): Promise<TestClose> {
    if (this.ended === undefined) await this.link.close()
    return await this.closed
  }

  /** The ack (or error frame) answering the frame sent with `id`. */
  private async answer<P = Record<string, unknown>> (id: string): Promise<VixMessage<P>> {
    const frame = await this.next((f) => f.id === id && (f.kind === 'ack' || f.kind === 'error'))
    if (frame.kind === 'error') throw new TestClientError(frame)
    return frame as unknown as VixMessage<P>
  }

  /** Wait for the next frame or the end, at most `ms`: a WebSocket is pushed to; a long-poll client polls (once, then pauses) meanwhile. */
  private async arrival (ms: number): Promise<void> {
    if (this.transport === 'polling') {
      const before = this.frames.length
      await this.link.pull()
      if (this.frames.length === before && this.ended === undefined) await realDelay(Math.min(POLL_PAUSE, ms))
      return
    }
    await new Promise<void>((resolve) => {
      const wake = (): void => { realTimers.clearTimeout(timer); this.waiters.delete(wake); resolve() }
      const timer = realTimers.setTimeout(wake, ms)
      this.waiters.add(wake)
    })
  }

  private wakeAll (): void {
    for (const wake of [...this.waiters]) wake()
  }
}
