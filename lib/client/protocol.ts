/**
 * The wire shapes as the client sees them (DESIGN §2). Declared here rather
 * than imported from `schemas/` so the browser bundle needs no TypeBox.
 */

export type FrameKind = 'event' | 'ack' | 'error' | 'system'

/** A frame from the server: an event, an ack, an error or a system notice. */
export interface VixMessage<P = Record<string, unknown>> {
  id?: string
  kind: FrameKind
  room?: string
  type: string
  ts: string
  payload: P
  /** Who sent it, as the server sees it (the server's `senderInfo`): trust this, never a name in the payload. Absent when the server names no sender. */
  from?: Record<string, unknown>
  /**
   * The event's position in its room, `"<offset>.<tag>"` (stored rooms only):
   * the client checks continuity with it, and it is a valid `since`.
   */
  pos?: string
}

/** What the server answers a `room.join` with. */
export interface JoinAck {
  room: string
  /** True when everything after `since` was replayed; false: fetch `/ws/history` if you need the gap. */
  recovered: boolean
  replayed: number
  /** The room's latest stored message id (null without a store or when empty). */
  latestId: string | null
  /**
   * Where this session's stream of the room continues (the last replayed
   * event's position, `since`'s when nothing was replayed, the room's head
   * otherwise); null when the room has no stored message. Absent from servers
   * that send no positions.
   */
  pos?: string | null
}

/** What a `publish()` resolves with once the server acknowledged the message. */
export interface PublishAck {
  id: string
  type: string
  room?: string
  /** The stored message's position in its room (stored rooms only; the original's for a duplicate). */
  pos?: string
  /** True when the server already had a message with this id from this sender: not delivered again. */
  duplicate?: boolean
}

/** A typed message as the client sends it. */
export interface OutgoingMessage {
  id?: string
  room?: string
  type: string
  payload?: Record<string, unknown>
}

/** Parse a text frame: a typed frame when it is a JSON object with a string `type`, else null (a raw frame). */
export function parseFrame (text: string): VixMessage | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null
  const frame = value as Partial<VixMessage>
  if (typeof frame.type !== 'string') return null
  if (frame.payload === null || typeof frame.payload !== 'object') frame.payload = {}
  return frame as VixMessage
}
