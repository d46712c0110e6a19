import type { Static, TSchema } from '@sinclair/typebox'
import type { JsonMessageInput } from '../../schemas/message.js'
import type { ErrorReason } from '../../schemas/protocol.js'
import type { ErrorCode } from '../errors.js'
import type { RealtimeMessage } from '../frames.js'
import type { LimitName } from '../limits/limits.js'
import type { Rate } from '../limits/token-bucket.js'
import type { Session } from '../session.js'

/** A validated message as handlers receive it: `payload` is always an object. */
export interface InboundMessage<P = Record<string, unknown>> {
  id?: string
  room?: string
  type: string
  payload: P
}

export type TypedHandler<P = Record<string, unknown>> = (session: Session, message: InboundMessage<P>) => unknown
/** A request's handler: what it returns (or resolves with) is the reply, sent in the request's ack (`payload.reply`). */
export type RequestHandler<P = Record<string, unknown>, R = unknown> = (session: Session, message: InboundMessage<P>) => R | Promise<R>
export type RawHandler = (session: Session, data: string | Buffer, info: { binary: boolean, typed: boolean }) => unknown
export type OpenHandler = (session: Session) => unknown
export type CloseHandler = (session: Session, code: number, reason: string) => unknown
export type ErrorHandler = (session: Session | null, error: Error) => unknown
/** Sessions that should get a room message besides the room's members (see `Hub.addRecipientResolver`). */
export type RecipientResolver = (message: RealtimeMessage) => Iterable<Session> | undefined

/** Options of `Hub.on`: the payload schema (validated, documented), per-type limits and a description for the docs. */
export interface TypeOptions<S extends TSchema = TSchema> {
  schema?: S
  description?: string
  /** Largest frame of this type, in bytes (UTF-8); a larger one gets `VIX_ERR_PAYLOAD_TOO_LARGE` (HTTP 413). */
  maxSize?: number
  /** Frames of this type per session: `{ rate, burst }`; past it `VIX_ERR_RATE_LIMITED` (HTTP 429). */
  rate?: Rate
}

/**
 * Options of `on` for a request type: its messages must carry an `id`, the
 * handler's return value is the reply (in the ack's `payload.reply`), checked
 * against `reply` unless `NODE_ENV` is `production`, and a repeated id is
 * answered from the reply cache instead of running the handler again.
 */
export interface RequestOptions<S extends TSchema = TSchema, R extends TSchema = TSchema> extends TypeOptions<S> {
  reply: R
}

/** Reasons counted by observers: declared beside the error table, which gives each code its reason. */
export type { ErrorReason }

/** Hooks for metrics and other passive watchers. Every method is optional and must not throw. */
export interface HubObserver {
  sessionOpened?: (session: Session) => void
  sessionClosed?: (session: Session, code: number) => void
  messageInbound?: (session: Session) => void
  messagesOutbound?: (count: number) => void
  error?: (reason: ErrorReason) => void
  published?: (message: RealtimeMessage, seconds: number) => void
  longPollSessionCreated?: () => void
  longPollPolled?: () => void
  longPollEnqueued?: (count: number) => void
  longPollDrained?: (count: number) => void
  longPollDropped?: (count: number) => void
  /** `count` messages were appended to the store, each in `seconds` from the append call to its commit (the group-commit wait included). */
  storeAppended?: (count: number, seconds: number) => void
  /** A broker call or connection failed (publish, subscribe, a dropped connection). */
  brokerError?: () => void
  /** The broker's connection went down (false) or is up again (true). */
  brokerConnection?: (connected: boolean) => void
  /** Messages another node published were missing here and were read from the store (a gap repaired). */
  gapRepaired?: (messages: number) => void
  /** A commit of a message published in a transaction was announced to this node (a PostgreSQL notification). */
  transactionNotified?: () => void
  /** A message published in a transaction reached this node's members, `seconds` after this node heard of its commit. */
  transactionDelivered?: (seconds: number) => void
  /** The LISTEN connection came back: this node caught up by position on what it may have missed. */
  transactionRepaired?: () => void
  /** A room's live stream broke on this node (a hole the store could not fill in time): `sessions` members were sent `room.interrupted`. */
  streamInterrupted?: (sessions: number) => void
  /** Something was refused by a limit (`limits` hub option, the inbox bound, a type's `maxSize` / `rate`). */
  limitRejected?: (limit: LimitName) => void
  /** `frames` presence diff frames were sent (one per recipient of a coalesced diff). */
  presenceDiffs?: (frames: number) => void
}

export interface Logger {
  debug: (obj: unknown, msg?: string) => void
  info?: (obj: unknown, msg?: string) => void
  warn: (obj: unknown, msg?: string) => void
  error: (obj: unknown, msg?: string) => void
}

/** A typed-message catalogue entry: what OpenAPI documents. */
export interface CatalogueEntry { type: string, relay: boolean, schema?: TSchema, description?: string, maxSize?: number, rate?: Required<Rate>, /** A request type's reply schema. */ reply?: TSchema }

/** A processed frame: its message's id, and for a stored relay its position (`pos`) and whether its sender had already stored it (`duplicate`). */
export interface DispatchOk { ok: true, id?: string, pos?: string, duplicate?: boolean }
/** A refused or failed frame: the code and message of its error frame (or HTTP answer). */
export interface DispatchError { ok: false, code: ErrorCode, message: string, path?: string, id?: string, retryAfter?: number }
export type DispatchResult = DispatchOk | DispatchError

/** Result of joining a room with recovery (the `room.join` ack's payload). */
export interface RecoveryResult {
  recovered: boolean
  replayed: number
  latestId: string | null
  /** The wire position after which the session's live stream of the room continues (null: nothing stored, or no store). */
  pos: string | null
}

/** A validated envelope as handlers receive it: `payload` defaulted, `kind` and `ts` dropped. */
export function inboundMessageOf (input: JsonMessageInput): InboundMessage {
  const message: InboundMessage = { type: input.type, payload: input.payload ?? {} }
  if (input.id !== undefined) message.id = input.id
  if (input.room !== undefined) message.room = input.room
  return message
}

export type PayloadOf<S extends TSchema> = Static<S>

/** How a frame arrived: `binary` for a binary WebSocket frame (raw handlers get a Buffer). */
export interface ReceiveOptions { binary?: boolean }
