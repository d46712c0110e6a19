import { createHash } from 'node:crypto'

/**
 * A room position as it travels on the wire: `"<offset>.<tag>"`, e.g.
 * `"42.Xb3k"`. `offset` is the decimal room offset (1, 2, ... in commit
 * order); `tag` is 4 base64url characters derived from the room's epoch, so
 * an event frame grows by `,"pos":"42.Xb3k"` (at most 24 bytes up to offset
 * 9,999,999,999) instead of carrying a UUID. A client keeps the `pos` of the
 * last event it has of a room and sends it back as `since`.
 */
export interface WirePosition {
  offset: number
  /** The epoch's 4-character tag (`epochTag`). */
  tag: string
}

const TAG_LENGTH = 4
const POSITION = /^([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{4})$/
const tags = new Map<string, string>()

/** The short form of an epoch on the wire (cached: a room's epoch rarely changes). */
export function epochTag (epoch: string): string {
  let tag = tags.get(epoch)
  if (tag === undefined) {
    tag = createHash('sha256').update(epoch).digest('base64url').slice(0, TAG_LENGTH)
    if (tags.size > 10_000) tags.clear()
    tags.set(epoch, tag)
  }
  return tag
}

/** `{offset, epoch}` as its wire form. */
export function encodePosition (offset: number, epoch: string): string {
  return `${offset}.${epochTag(epoch)}`
}

/** A wire position, or null when `text` is not one (it may then be a message id). */
export function decodePosition (text: string): WirePosition | null {
  const match = POSITION.exec(text)
  if (match === null) return null
  const offset = Number(match[1])
  if (!Number.isSafeInteger(offset)) return null
  return { offset, tag: match[2] as string }
}

/** True when the wire position belongs to `epoch`. */
export function sameEpoch (position: WirePosition, epoch: string): boolean {
  return position.tag === epochTag(epoch)
}
