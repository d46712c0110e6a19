/**
 * A room position as the client sees it on the wire: `"<offset>.<tag>"`,
 * e.g. `"42.Xb3k"` — the decimal offset of the event in its room (1, 2, ...
 * in commit order) and 4 base64url characters naming the store's epoch.
 * Parsed here without the server's `lib/position.ts`, which needs node:crypto
 * (the client bundle is browser code).
 */
export interface Position {
  /** 1, 2, ... per room; 0 only for "before the first event" (never sent, never on the wire). */
  offset: number
  /** The epoch's 4-character tag: a different tag is a different history (a new epoch). */
  tag: string
}

const POSITION = /^([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{4})$/

/**
 * A wire position, or null when `value` is not one (absent, or a message id).
 *
 * @example
 * parsePosition('42.Xb3k') // { offset: 42, tag: 'Xb3k' }
 * parsePosition('m-41')    // null
 */
export function parsePosition (value: unknown): Position | null {
  if (typeof value !== 'string') return null
  const match = POSITION.exec(value)
  if (match === null) return null
  const offset = Number(match[1])
  if (!Number.isSafeInteger(offset)) return null
  return { offset, tag: match[2] as string }
}

/**
 * The wire form of a position; null for offset 0 (no event yet), which has none.
 *
 * @example
 * formatPosition({ offset: 42, tag: 'Xb3k' }) // '42.Xb3k'
 */
export function formatPosition (position: Position): string | null {
  return position.offset >= 1 ? `${position.offset}.${position.tag}` : null
}
