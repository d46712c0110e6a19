import { CloseCodes, type ErrorCode } from '../errors.js'
import { errorFrame, systemFrame } from '../frames.js'
import type { DispatchResult } from '../hub/types.js'
import type { ConnectionSlot } from '../limits/limits.js'
import type { Session, Transport } from '../session.js'
import { decodeCursor } from './cursor.js'
import { SseStream, type SseSink } from './stream.js'

/** What the SSE streams need of the hub: sessions opened and closed, frames received as a client's, identities compared. */
export interface SseParts {
  openSession: (transport: Transport, identity: unknown, id?: string, slot?: ConnectionSlot, senderKey?: string, expiresAt?: number) => Session
  closeSession: (session: Session, code: number, reason?: string) => void
  /** A frame of the session, through its inbox, as `POST /ws/send` sends it; a failure is the result. */
  receiveRequest: (session: Session, text: string) => Promise<DispatchResult>
  /** Comparable form of an identity (the `identityKey` option). */
  identityKey: (identity: unknown) => string | undefined
}

export interface SseStreamsOptions {
  /** A comment line on every stream this often (ms; 0: never). */
  heartbeat: number
  /** The `retry:` EventSource waits before reconnecting (ms). */
  retry: number
}

/** What a stream opens with: the rooms of `?rooms=`, and the cursor (`Last-Event-ID`) of a reconnect. */
export interface SseOpen {
  identity: unknown
  slot?: ConnectionSlot
  senderKey?: string
  /** When the token `authenticate` accepted expires (ms since the epoch): the session is closed past it unless refreshed. */
  expiresAt?: number
  rooms: readonly string[]
  lastEventId?: string
}

/** How one room of a `Last-Event-ID` was resumed, in the stream's first frame. */
export interface RoomResume {
  room: string
  since: string | null
  recovered: boolean
  replayed: number
  /** Where the live stream of the room continues (null: nothing stored, or the join failed). */
  pos: string | null
  /** The join was refused: its error code (the error frame follows). */
  code?: ErrorCode
}

/**
 * The SSE streams of one server. Each is a hub session whose transport
 * writes events to an HTTP response; it joins the rooms of `?rooms=` and of
 * its cursor through the session's inbox, exactly as `room.join` frames with
 * `since` (the store's replay, then live, joined by position), before its
 * first frame is written.
 *
 * @example
 * const streams = new SseStreams(sseParts(hub), { heartbeat: 15_000, retry: 2000 })
 * const stream = await streams.open(reply.raw, { identity, rooms: ['general'], lastEventId: 'general@41.Xb3k' })
 */
export class SseStreams {
  private readonly streams = new Map<string, SseStream>()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly parts: SseParts, private readonly options: SseStreamsOptions) {}

  /** Streams open. */
  get size (): number {
    return this.streams.size
  }

  /**
   * Open a stream on `sink`: a session, its rooms joined (a cursor's with
   * `since`), then `retry:` and the first frame, `session.opened` with the
   * session id and, after a `Last-Event-ID`, what was and was not recovered;
   * then what the joins sent (replays, acks, errors) and the live stream.
   * The response closing ends the session.
   */
  async open (sink: SseSink, open: SseOpen): Promise<SseStream> {
    const stream = new SseStream(sink)
    const session = this.parts.openSession(stream, open.identity, undefined, open.slot, open.senderKey, open.expiresAt)
    stream.session = session
    this.streams.set(session.id, stream)
    this.ensureHeartbeat()
    sink.once('close', () => { this.closed(stream, CloseCodes.GOING_AWAY) })
    const cursor = open.lastEventId === undefined ? undefined : decodeCursor(open.lastEventId)
    const targets = new Map<string, string | undefined>(cursor ?? [])
    for (const room of open.rooms) if (!targets.has(room)) targets.set(room, undefined)
    const refused = new Map<string, ErrorCode>()
    for (const [room, since] of targets) {
      if (session.closed) break
      const payload = since === undefined ? { room } : { room, since }
      const result = await this.parts.receiveRequest(session, JSON.stringify({ type: 'room.join', payload }))
      if (!result.ok) {
        refused.set(room, result.code)
        stream.send(JSON.stringify(errorFrame(result.code, result.message, { path: result.path })))
      }
    }
    const payload: Record<string, unknown> = { session_id: session.id }
    if (open.lastEventId !== undefined) {
      const rooms: RoomResume[] = []
      for (const [room, since] of cursor ?? []) rooms.push(this.resumeOf(stream, room, since, refused.get(room)))
      payload.resume = { cursor: cursor === null ? 'malformed' : 'ok', recovered: cursor !== null && rooms.every((room) => room.recovered), rooms }
    }
    stream.start(`retry: ${this.options.retry}\n` + `data: ${JSON.stringify(systemFrame('session.opened', payload))}\n\n`)
    return stream
  }

  private resumeOf (stream: SseStream, room: string, since: string | undefined, code: ErrorCode | undefined): RoomResume {
    const join = stream.joins.get(room)
    const resume: RoomResume = { room, since: since ?? null, recovered: since !== undefined && join?.recovered === true, replayed: join?.replayed ?? 0, pos: join?.pos ?? null }
    if (code !== undefined) resume.code = code
    return resume
  }

  /**
   * The stream of session `id`, when it exists and belongs to `identity`
   * (another identity's is reported exactly like a missing one).
   */
  get (id: string, identity: unknown): SseStream | undefined {
    const stream = this.streams.get(id)
    if (stream === undefined || stream.session.identityKey !== this.parts.identityKey(identity)) return undefined
    return stream
  }

  /** The response ended (the client went away, or the stream was closed): the session ends, out of every room. */
  private closed (stream: SseStream, code: number): void {
    if (!this.streams.delete(stream.session.id)) return
    stream.terminate()
    this.parts.closeSession(stream.session, stream.session.closeCode ?? code, 'sse stream ended')
    if (this.streams.size === 0) this.stopHeartbeat()
  }

  private ensureHeartbeat (): void {
    if (this.timer !== undefined || this.options.heartbeat === 0) return
    this.timer = setInterval(() => { for (const stream of this.streams.values()) stream.heartbeat() }, this.options.heartbeat)
    this.timer.unref()
  }

  private stopHeartbeat (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /**
   * Shutdown: every stream is sent `frame` (`server.going_away`) and a
   * `retry:` of `retryAfter` ms, then ended; its session closes 1001.
   */
  requestStop (frame: string, retryAfter: number): void {
    for (const stream of [...this.streams.values()]) {
      stream.end(`retry: ${retryAfter}\ndata: ${frame}\n\n`)
      this.closed(stream, CloseCodes.GOING_AWAY)
    }
  }

  /** Shutdown, last phase: any stream left is cut. */
  close (): void {
    for (const stream of [...this.streams.values()]) this.closed(stream, CloseCodes.GOING_AWAY)
    this.stopHeartbeat()
  }
}
