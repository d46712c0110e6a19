import { createHash, timingSafeEqual } from 'node:crypto'
import { ForbiddenError, UnauthorizedError } from '../errors.js'
import type { InboundMessage } from '../hub/types.js'
import type { ServerPublishOptions } from './options.js'

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/** The request fields the policy reads. */
export interface PublishRequest { headers: Record<string, string | string[] | undefined> }

/**
 * Who may publish over HTTP without a session. Off unless configured: a
 * server-side publish reaches every member of a room (or every session), so
 * an open one lets anyone speak for the server.
 *
 * @example
 * const policy = new ServerPublishPolicy({ key: process.env.VIX_PUBLISH_KEY })
 * policy.checkKey(request) // throws 401 / 403
 */
export class ServerPublishPolicy {
  private readonly keyDigest: Buffer | undefined

  constructor (private readonly options: ServerPublishOptions | undefined) {
    this.keyDigest = options?.key === undefined ? undefined : digest(options.key)
  }

  /** Before the body is read: off → 403; a key configured and not presented → 401. */
  checkKey (request: PublishRequest): void {
    if (this.options === undefined) {
      throw new ForbiddenError('server-side publish is off: POST with a session_id, or configure longPolling.serverPublish')
    }
    if (this.keyDigest === undefined) return
    const header = request.headers.authorization
    const presented = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7).trim() : undefined
    // Compare digests: equal length always, and no early exit on the first differing byte.
    if (presented === undefined || !timingSafeEqual(digest(presented), this.keyDigest)) {
      throw new UnauthorizedError('server-side publish needs Authorization: Bearer <key>')
    }
  }

  /** After the message is decoded: the `authorize` callback, when there is one; false or a throw → 403. */
  async checkMessage (request: unknown, message: InboundMessage): Promise<void> {
    const authorize = this.options?.authorize
    if (authorize === undefined) return
    let allowed = false
    try {
      allowed = await authorize(request, message)
    } catch {}
    if (!allowed) throw new ForbiddenError(`server-side publish of "${message.type}" refused by serverPublish.authorize`)
  }
}
