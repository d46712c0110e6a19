import type { PositionedMessage, StorableMessage } from './types.js'

/** The columns of a stored message that SQLite and PostgreSQL keep alike (JSON as text, `from_json` NULL without a sender). */
export interface MessageColumns {
  id: string
  room: string
  kind: string
  type: string
  ts: string
  payload_json: string
  from_json: string | null
}

/** The message columns in the order both stores select them (`SELECT ${MESSAGE_COLUMNS} FROM ...`). */
export const MESSAGE_COLUMNS = 'id, room, "offset", kind, type, ts, payload_json, from_json'

/** A row selected with `MESSAGE_COLUMNS`: SQLite reads the offset as a number, pg a bigint as a string. */
export interface PositionedRow extends MessageColumns {
  offset: number | string
}

/** An append waiting in a store's group commit. */
export interface PendingAppend {
  message: StorableMessage
  sender: string
}

/** A stored row as the message it was: `from` only when one was stored, so a message without one reads back without the key. */
export function messageOfRow (row: MessageColumns): StorableMessage {
  const message: StorableMessage = { id: row.id, kind: row.kind as StorableMessage['kind'], room: row.room, type: row.type, ts: row.ts, payload: JSON.parse(row.payload_json) }
  if (row.from_json !== null) message.from = JSON.parse(row.from_json)
  return message
}

/** The `from_json` column of a message. */
export function fromColumn (message: StorableMessage): string | null {
  return message.from === undefined ? null : JSON.stringify(message.from)
}

/**
 * The sender scope of a row stored before scopes existed (or by an older
 * build that does not name one): the column's default. No caller appends
 * under it, so no new message is a duplicate of such a row.
 */
export const LEGACY_SENDER = 'legacy'

/** A row selected with `MESSAGE_COLUMNS` as the message and its offset. */
export function toPositioned (row: PositionedRow): PositionedMessage {
  return { offset: Number(row.offset), message: messageOfRow(row) }
}
