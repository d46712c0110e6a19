import { decodePosition } from '../position.js'

/**
 * An SSE event id: where a stream is in each of its rooms. Rooms in the
 * order the session joined them, separated by `,`; each is its name
 * URI-encoded (so `,` and `@` inside a name never clash), then `@` and the
 * wire position of the last event of that room the stream carried (or the
 * position its join ack named), or nothing when the room has no position
 * yet. `general@42.Xb3k,news@7.Qx9z,lobby`.
 */
export type Cursor = Map<string, string | undefined>

/** Longest cursor read back (a `Last-Event-ID` over it is malformed). */
export const MAX_CURSOR_LENGTH = 8192

/** The cursor of `rooms`, with the positions known for them. */
export function encodeCursor (rooms: Iterable<string>, positions: ReadonlyMap<string, string>): string {
  let cursor = ''
  for (const room of rooms) {
    if (cursor !== '') cursor += ','
    cursor += encodeURIComponent(room)
    const pos = positions.get(room)
    if (pos !== undefined) cursor += '@' + pos
  }
  return cursor
}

/**
 * The rooms and positions of a cursor, or null when `text` is not one: too
 * long, a room that does not decode, or a position that is not a wire position.
 *
 * @example
 * decodeCursor('general@42.Xb3k,lobby') // Map { 'general' => '42.Xb3k', 'lobby' => undefined }
 * decodeCursor('general@nope')          // null
 */
export function decodeCursor (text: string): Cursor | null {
  if (text.length > MAX_CURSOR_LENGTH) return null
  const cursor: Cursor = new Map()
  if (text === '') return cursor
  for (const entry of text.split(',')) {
    const at = entry.indexOf('@')
    const name = at === -1 ? entry : entry.slice(0, at)
    const pos = at === -1 ? undefined : entry.slice(at + 1)
    let room: string
    try {
      room = decodeURIComponent(name)
    } catch {
      return null
    }
    if (room === '' || room.length > 128) return null
    if (pos !== undefined && decodePosition(pos) === null) return null
    cursor.set(room, pos)
  }
  return cursor
}
