import { ErrorCodes, codedError } from '../errors.js'
import type { SenderInfo } from '../frames.js'
import type { Session } from '../session.js'

/** The most bytes a message's `from` may take as JSON (UTF-8): it travels with every copy of the message and is stored with it. */
export const MAX_SENDER_BYTES = 1024

/** `value` as the JSON text of a `from`, or why it cannot be one. */
function senderJson (value: unknown): { json: string } | { problem: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}` }
  }
  let json: unknown
  try {
    json = JSON.stringify(value)
  } catch (error) {
    return { problem: `not serializable as JSON (${(error as Error).message})` }
  }
  // An object whose toJSON answers something else is not an object on the wire.
  if (typeof json !== 'string' || !json.startsWith('{')) return { problem: 'expected a JSON object, got something that serializes otherwise' }
  const bytes = Buffer.byteLength(json)
  if (bytes > MAX_SENDER_BYTES) return { problem: `${bytes} bytes as JSON, more than ${MAX_SENDER_BYTES}` }
  return { json }
}

/**
 * The `from` server code gave `publish`, checked: a JSON object of at most
 * `MAX_SENDER_BYTES`, else `VIX_ERR_INVALID_MESSAGE` at `/from`. Passed
 * through JSON once, so local sessions, other nodes and the store all see the
 * same object.
 */
export function publishedSender (from: unknown): SenderInfo {
  const checked = senderJson(from)
  if ('problem' in checked) throw codedError(ErrorCodes.INVALID_MESSAGE, `/from: ${checked.problem}`, { path: '/from' })
  return JSON.parse(checked.json)
}

/**
 * What the hub's `senderInfo` makes public about `session`, checked like a
 * published `from` and refused when it reveals the session id (a long-poll
 * session id is the session's secret). `undefined`: nothing (no `from`).
 * A throw, or a result that cannot be a `from`, is the application's bug:
 * it throws a plain error, which the dispatcher logs and answers with
 * `VIX_ERR_INTERNAL`; the message is not published.
 */
export function sessionSender (senderInfo: (session: Session) => SenderInfo | undefined, session: Session): SenderInfo | undefined {
  let info: unknown
  try {
    info = senderInfo(session)
  } catch (error) {
    // The logger prints the cause's message and stack after this one.
    throw new Error('senderInfo failed', { cause: error })
  }
  if (info === undefined) return undefined
  const checked = senderJson(info)
  if ('problem' in checked) throw new Error(`senderInfo returned no usable sender: ${checked.problem}`)
  if (checked.json.includes(session.id)) throw new Error('senderInfo returned the session id: it is the session\'s secret and must not reach other clients')
  return JSON.parse(checked.json)
}

/**
 * The scope a message's id is unique in (idempotency is per room, sender
 * and id): a session's identity (`id:` and its `identityKey`), or for an
 * anonymous one the session itself (a digest of its id, which is a secret);
 * `server` for code's own publishes, `http` for server-side HTTP publishes.
 */
export function senderScope (source: { session: Session } | 'http' | 'server'): string {
  return typeof source === 'object' ? source.session.senderScope : source
}
