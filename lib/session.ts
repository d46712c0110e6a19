import { createHash, randomBytes } from 'node:crypto'
import type { Envelope } from './broker/types.js'
import type { RealtimeMessage } from './frames.js'
import { CloseCodes } from './errors.js'
import type { PreparedFrame } from './prepared-frame.js'

/**
 * What a session needs from its transport. A WebSocket and a long-poll
 * queue both implement it, so the hub never knows which one it talks to.
 */
export interface Transport {
  readonly name: 'websocket' | 'long-polling' | (string & {})
  /** Queue one serialized frame. */
  send (data: string | Buffer): void
  /** Bytes queued but not yet written to the peer (0 when the transport bounds itself). */
  bufferedAmount (): number
  close (code: number, reason: string): void
  /** Drop the connection without a close handshake. */
  terminate (): void
  /** Frames held for the peer (long-polling queue length); absent for streaming transports. */
  queued?: () => number
  /**
   * Queue a frame prepared once for many recipients (a fan-out); the
   * transport may write its pre-built bytes. Absent: `send(frame.text)`.
   */
  sendPrepared?: (frame: PreparedFrame) => void
}

/**
 * Sits between a room's live deliveries and one member (the message store
 * installs one per membership of a stored room): holds them back while the
 * room is replayed to the member, then drops what it already has.
 * `admit` returns false for a frame it buffered or dropped.
 */
export interface DeliveryGate {
  admit (envelope: Envelope, frame: PreparedFrame): boolean
}

/**
 * Types the application declares once, by declaration merging, so that
 * `authenticate`, `session.identity`, `authorizeJoin`, `authorizePublish`,
 * handlers and presence callbacks are typed without casts. Undeclared, an
 * identity is `unknown`.
 *
 * @example
 * declare module 'vix-realtime' {
 *   interface VixRealtimeTypes { identity: { user: string, admin: boolean } }
 * }
 */
export interface VixRealtimeTypes {}

/** Who a session is: `VixRealtimeTypes['identity']` when the app declared it, else `unknown`. */
export type Identity = VixRealtimeTypes extends { identity: infer I } ? I : unknown

/** A secret as it may be stored: 132 bits of its SHA-256, URL-safe. */
function digest (secret: string): string {
  return createHash('sha256').update(secret).digest('base64url').slice(0, 22)
}

/** A client's sender key: 16 to 128 URL-safe characters (the client sends 22, 128 random bits). */
export const SENDER_KEY = /^[A-Za-z0-9_-]{16,128}$/

/** A session id: 128 bits from a CSPRNG, URL-safe. */
export function newSessionId (): string {
  return randomBytes(16).toString('base64url')
}

export interface SessionOptions {
  id?: string
  identity?: Identity
  identityKey?: string
  /** When the identity's token expires (ms since the epoch): `authenticate` returned `{ identity, expiresAt }`. */
  expiresAt?: number
  /** The client's secret sender key (`client_key`, see `checkSenderKey`): an anonymous client's resends across sessions are one sender's. */
  senderKey?: string
  /** Close the session 1013 when the transport has more than this many bytes queued. */
  maxBufferedAmount: number
  onSlowConsumer?: (session: Session) => void
}

/**
 * One connected client, whatever its transport: an id, the identity from
 * `authenticate`, the rooms it joined and a way to send it frames.
 */
export class Session {
  readonly id: string
  readonly transport: Transport
  /** Rooms this session is in. Maintained by the hub; read-only for users. */
  readonly rooms = new Set<string>()
  /** Delivery gates by room; a live room delivery passes its room's gate first. */
  readonly gates = new Map<string, DeliveryGate>()
  /** Comparable form of `identity` (the hub's `identityKey`): who is the same client across sessions. */
  readonly identityKey: string | undefined
  /** When its token expires (ms since the epoch), or undefined when it never does; moved on by each `auth.refresh`. */
  get expiresAt (): number | undefined { return this.tokenExpiresAt }
  /** Who it is: from `authenticate`, replaced by each accepted `auth.refresh` (the identity key stays the same). */
  get identity (): Identity { return this.currentIdentity }
  /** Free slot for application state. */
  data: Record<string, unknown> = {}
  closed = false
  closeCode: number | undefined
  private readonly maxBufferedAmount: number
  private readonly onSlowConsumer: ((session: Session) => void) | undefined
  private scope: string | undefined
  private readonly senderKey: string | undefined
  private currentIdentity: Identity
  private tokenExpiresAt: number | undefined

  constructor (transport: Transport, options: SessionOptions) {
    this.id = options.id ?? newSessionId()
    this.currentIdentity = options.identity
    this.tokenExpiresAt = options.expiresAt
    this.identityKey = options.identityKey
    this.senderKey = options.senderKey
    this.transport = transport
    this.maxBufferedAmount = options.maxBufferedAmount
    this.onSlowConsumer = options.onSlowConsumer
  }

  /**
   * Whose ids this session's messages are unique among (idempotency is per
   * room, sender and id): its identity when it has one; else the client's
   * sender key, so an anonymous client that resends an unacked message on a
   * new session is still the same sender; else the session itself. Keys and
   * session ids are secrets: only a digest is stored.
   */
  get senderScope (): string {
    this.scope ??= this.identityKey !== undefined
      ? `id:${this.identityKey}`
      : this.senderKey !== undefined ? `key:${digest(this.senderKey)}` : `session:${digest(this.id)}`
    return this.scope
  }

  /** A refreshed token's identity and expiry (the hub checks the identity key is the same first). */
  renew (identity: Identity, expiresAt: number | undefined): void {
    this.currentIdentity = identity
    this.tokenExpiresAt = expiresAt
  }

  /** Send a frame object (serialized here). */
  send (frame: RealtimeMessage): boolean {
    return this.sendSerialized(JSON.stringify(frame))
  }

  /**
   * Deliver a live message (`frame` is its envelope's message, prepared once
   * for every recipient): through its room's gate when there is one, else straight on.
   */
  deliver (envelope: Envelope, frame: PreparedFrame): boolean {
    if (envelope.room !== undefined && this.gates.size !== 0) {
      const gate = this.gates.get(envelope.room)
      if (gate !== undefined && !gate.admit(envelope, frame)) return false
    }
    return this.sendPrepared(frame)
  }

  /** `sendSerialized` for a frame prepared once for many recipients: the transport may write its pre-built bytes. */
  sendPrepared (frame: PreparedFrame): boolean {
    if (!this.writable()) return false
    const transport = this.transport
    if (transport.sendPrepared !== undefined) transport.sendPrepared(frame)
    else transport.send(frame.text)
    return true
  }

  /**
   * Send an already serialized frame. A broadcast serializes once and calls this
   * per recipient. A peer that cannot keep up is closed 1013 instead of growing
   * the server's memory without bound.
   */
  sendSerialized (data: string | Buffer): boolean {
    if (!this.writable()) return false
    this.transport.send(data)
    return true
  }

  /** Open and keeping up: else false, and a peer over `maxBufferedAmount` is closed 1013. */
  private writable (): boolean {
    if (this.closed) return false
    if (this.transport.bufferedAmount() > this.maxBufferedAmount) {
      this.onSlowConsumer?.(this)
      this.close(CloseCodes.OVERLOADED, 'slow consumer')
      return false
    }
    return true
  }

  close (code: number = CloseCodes.NORMAL, reason = ''): void {
    if (this.closed) return
    this.closed = true
    this.closeCode = code
    this.transport.close(code, reason)
  }
}
