import type { PreparedFrame } from '../prepared-frame.js'
import type { Session, Transport } from '../session.js'
import { uncorkAtTickEnd } from '../tick-cork.js'
import { encodeCursor } from './cursor.js'

/** The writable side of an SSE response (a Node `ServerResponse` fits). */
export interface SseSink {
  write: (chunk: Buffer) => boolean
  end: () => void
  destroy: () => void
  readonly writableLength: number
  once: (event: 'close', listener: () => void) => unknown
}

/** What a room's `room.join` ack said, while the stream was opening. */
export interface JoinOutcome {
  recovered: boolean
  replayed: number
  pos: string | null
}

/** What a frame means to the cursor: the room and position of a stored event, or of a join ack. */
interface FrameMeta {
  room?: string
  pos?: string
  join?: JoinOutcome
}

const NONE: FrameMeta = {}
const HEARTBEAT = Buffer.from(':\n\n')
/** A prepared frame (a fan-out) is read and encoded once for all its recipients. */
const prepared = new WeakMap<PreparedFrame, { meta: FrameMeta, data: string, bytes: Buffer }>()

/** `data:` lines of one frame: a line break inside the text (a raw frame) starts another `data:` line. */
function dataOf (text: string): string {
  const lines = text.includes('\n') || text.includes('\r') ? text.replace(/\r\n|\r|\n/g, '\ndata: ') : text
  return `data: ${lines}\n\n`
}

/**
 * The room and position a frame gives the cursor. Only frames that may
 * carry one are parsed: a stored event (`"pos":"…"`) or a join ack.
 */
function metaOf (text: string): FrameMeta {
  if (!text.includes('"pos":') || text.charCodeAt(0) !== 123) return NONE
  let frame: { kind?: unknown, type?: unknown, room?: unknown, pos?: unknown, payload?: { recovered?: unknown, replayed?: unknown, pos?: unknown } }
  try {
    frame = JSON.parse(text)
  } catch {
    return NONE
  }
  if (typeof frame.room !== 'string') return NONE
  if (frame.kind === 'ack' && frame.type === 'room.join') {
    const payload = frame.payload ?? {}
    const pos = typeof payload.pos === 'string' ? payload.pos : null
    const join = { recovered: payload.recovered === true, replayed: typeof payload.replayed === 'number' ? payload.replayed : 0, pos }
    return pos === null ? { room: frame.room, join } : { room: frame.room, pos, join }
  }
  if (frame.kind === 'event' && typeof frame.pos === 'string') return { room: frame.room, pos: frame.pos }
  return NONE
}

/** A binary frame as the JSON system frame long polling also uses. */
function binaryFrame (data: Buffer): string {
  return `{"kind":"system","type":"binary","ts":${JSON.stringify(new Date().toISOString())},"payload":{"data":"${data.toString('base64')}"}}`
}

/**
 * One Server-Sent Events stream: the transport of its hub session. Every
 * frame is one event of `data:` JSON; a stored event of a room the session
 * is in, and a `room.join` ack, also carry an `id:`, the cursor of every
 * room's position (see `encodeCursor`), so `Last-Event-ID` resumes them all.
 * While the stream opens (its joins and their replays), frames are held, so
 * the first frame can say what the resume recovered.
 */
export class SseStream implements Transport {
  readonly name = 'sse'
  session!: Session
  /** Position of the last event (or join ack) of each room the stream carried. */
  readonly positions = new Map<string, string>()
  /** Join acks seen while opening, by room. */
  readonly joins = new Map<string, JoinOutcome>()
  private held: Buffer[] | null = []
  /** This tick's chunks, written together at its end. */
  private pending: Buffer[] = []
  private ended = false

  constructor (private readonly sink: SseSink) {}

  /** Open: write `first`, then every held frame, and from now on write at once. */
  start (first: string): void {
    const held = this.held ?? []
    this.held = null
    this.write(Buffer.concat([Buffer.from(first), ...held]))
  }

  send (data: string | Buffer): void {
    const text = typeof data === 'string' ? data : binaryFrame(data)
    // A raw text reply that is not a JSON object is carried as a JSON string, as over long polling.
    const json = text.charCodeAt(0) === 123 && text.charCodeAt(text.length - 1) === 125 ? text : JSON.stringify(text)
    this.write(Buffer.from(this.idLine(metaOf(json)) + dataOf(json)))
  }

  sendPrepared (frame: PreparedFrame): void {
    let entry = prepared.get(frame)
    if (entry === undefined) {
      const data = dataOf(frame.text)
      entry = { meta: metaOf(frame.text), data, bytes: Buffer.from(data) }
      prepared.set(frame, entry)
    }
    const id = this.idLine(entry.meta)
    // Without an id the bytes are shared by every recipient.
    this.write(id === '' ? entry.bytes : Buffer.from(id + entry.data))
  }

  /** The cursor as an `id:` line, when the frame moves a room of this session ('' otherwise). */
  private idLine (meta: FrameMeta): string {
    const room = meta.room
    if (room === undefined || !this.session.rooms.has(room)) return ''
    if (meta.join !== undefined && this.held !== null) this.joins.set(room, meta.join)
    if (meta.pos !== undefined) this.positions.set(room, meta.pos)
    return `id: ${encodeCursor(this.session.rooms, this.positions)}\n`
  }

  /** A comment line, which EventSource ignores: keeps proxies and the client's liveness check happy. */
  heartbeat (): void {
    if (this.held === null) this.write(HEARTBEAT)
  }

  /** Held while opening; else gathered until the end of the tick and written as one chunk. */
  private write (chunk: Buffer): void {
    if (this.ended) return
    if (this.held !== null) {
      this.held.push(chunk)
      return
    }
    if (this.pending.length === 0) uncorkAtTickEnd(this)
    this.pending.push(chunk)
  }

  /** End of the tick: what this tick gathered leaves in one write. */
  uncork (): void {
    const pending = this.pending
    if (pending.length === 0 || this.ended) return
    this.pending = []
    this.sink.write(pending.length === 1 ? pending[0] : Buffer.concat(pending))
  }

  bufferedAmount (): number {
    return this.sink.writableLength
  }

  /** End the stream: `last` (a `retry:` line, a last frame) is written first. */
  close (): void {
    this.end()
  }

  end (last = ''): void {
    if (this.ended) return
    if (last !== '') this.write(Buffer.from(last))
    this.uncork()
    this.ended = true
    this.sink.end()
  }

  /** Cut the response (a stream already ended is left to finish its last write). */
  terminate (): void {
    if (this.ended) return
    this.ended = true
    this.sink.destroy()
  }
}
