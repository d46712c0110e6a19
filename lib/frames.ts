import { randomUUID } from 'node:crypto'
import type { MessageKindValue } from '../schemas/message.js'
import type { ErrorCode } from './errors.js'

/**
 * Who sent a message, as the server sees it: what the hub's `senderInfo`
 * makes public about a session, or what server code's `publish` names.
 * Never taken from a client's frame.
 */
export type SenderInfo = Record<string, unknown>

/** A message as the server holds and sends it. */
export interface RealtimeMessage {
  id?: string
  kind: MessageKindValue
  room?: string
  type: string
  ts: string
  payload: Record<string, unknown>
  /** The sender as the server sees it (absent: none was given, e.g. no `senderInfo` option). */
  from?: SenderInfo
  /** The room position of a stored message, in its wire form (`lib/position.ts`): absent for messages that are not stored. */
  pos?: string
}

/** A message as code hands it to `publish`: only `type` is required. */
export interface PublishInput {
  id?: string
  room?: string
  type: string
  payload?: Record<string, unknown>
  /** The sender to show with it: a JSON object of at most 1 KiB (see `HubOptions.senderInfo`). */
  from?: SenderInfo
}

/** A server-generated message id: unique across restarts and nodes. */
export function newMessageId (): string {
  return randomUUID()
}

let isoMs = Number.NaN
let iso = ''

/** The current time in ISO 8601 (a frame's `ts`), formatted once per millisecond: a burst of frames shares it. */
export function isoNow (): string {
  const now = Date.now()
  if (now !== isoMs) {
    isoMs = now
    iso = new Date(now).toISOString()
  }
  return iso
}

/** Stamp an event: keep a client id, else make one; server time; payload defaults to `{}`. */
export function stampEvent (input: PublishInput): RealtimeMessage {
  const msg: RealtimeMessage = {
    id: input.id ?? newMessageId(),
    kind: 'event',
    type: input.type,
    ts: isoNow(),
    payload: input.payload ?? {}
  }
  if (input.room !== undefined) msg.room = input.room
  if (input.from !== undefined) msg.from = input.from
  return msg
}

export function errorFrame (code: ErrorCode, message: string, extra: { id?: string, path?: string } = {}): RealtimeMessage {
  const payload: Record<string, unknown> = { code, message }
  if (extra.path !== undefined) payload.path = extra.path
  const frame: RealtimeMessage = { kind: 'error', type: 'error', ts: isoNow(), payload }
  if (extra.id !== undefined) frame.id = extra.id
  return frame
}

export function ackFrame (type: string, fields: { id?: string, room?: string }, payload: Record<string, unknown> = {}): RealtimeMessage {
  const frame: RealtimeMessage = { kind: 'ack', type, ts: isoNow(), payload }
  if (fields.id !== undefined) frame.id = fields.id
  if (fields.room !== undefined) frame.room = fields.room
  return frame
}

export function systemFrame (type: string, payload: Record<string, unknown> = {}): RealtimeMessage {
  return { kind: 'system', type, ts: isoNow(), payload }
}

/** The frame every client gets on shutdown, whatever its transport: reconnect after `retryAfterMs` (plus jitter). */
export function goingAwayFrame (retryAfterMs: number): RealtimeMessage {
  return systemFrame('server.going_away', { retryAfterMs })
}

/** The frame that tells a member its live stream of `room` broke on this node: rejoin it with `since` (`pos`: the last position delivered to it in order). */
export function interruptedFrame (room: string, pos: string | null): RealtimeMessage {
  const frame = systemFrame('room.interrupted', { room, code: 'VIX_ERR_STREAM_BROKEN' satisfies ErrorCode, message: `The live stream of room "${room}" broke on this node: rejoin it with since`, pos })
  frame.room = room
  return frame
}
