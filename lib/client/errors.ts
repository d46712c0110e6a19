import type { ErrorCode } from '../../schemas/protocol.js'

/**
 * Codes the client produces itself. Server codes (`VIX_ERR_FORBIDDEN`, ...)
 * travel unchanged from error frames and HTTP error bodies; the
 * `VIX_ERR_CLIENT_*` codes name what only the client can observe, and the last
 * few are server codes the client raises on its own, before anything is sent,
 * so that one check on `code` serves both. They live here, not in
 * `lib/errors.ts`, because that module builds Fastify errors and must stay out
 * of the browser bundle.
 *
 * @example
 * if (error.code === ClientErrorCodes.TIMEOUT) retryLater()
 */
export const ClientErrorCodes = {
  /** No ack (or error frame) arrived within the request timeout. */
  TIMEOUT: 'VIX_ERR_CLIENT_TIMEOUT',
  /** `close()` was called while the request waited. */
  CLOSED: 'VIX_ERR_CLIENT_CLOSED',
  /** `leave()` was called while the join waited, or a request's `signal` aborted before its reply. */
  ABORTED: 'VIX_ERR_CLIENT_ABORTED',
  /** `reconnect.maxAttempts` reconnection attempts failed. */
  RECONNECT_FAILED: 'VIX_ERR_CLIENT_RECONNECT_FAILED',
  /** The transport cannot carry this (binary frames over long polling). */
  UNSUPPORTED: 'VIX_ERR_CLIENT_UNSUPPORTED',
  /** An HTTP answer without a `VIX_ERR_*` code, or a network failure. */
  HTTP: 'VIX_ERR_CLIENT_HTTP',
  /** The server refused the WebSocket upgrade or the connection failed. */
  CONNECT: 'VIX_ERR_CLIENT_CONNECT',
  /** A publish the server would refuse: its id is already waiting for an ack. */
  INVALID_MESSAGE: 'VIX_ERR_INVALID_MESSAGE',
  /** A publish larger than `maxMessageSize`, refused before it is sent. */
  PAYLOAD_TOO_LARGE: 'VIX_ERR_PAYLOAD_TOO_LARGE',
  /** A client option that is missing or out of range (thrown by the constructor). */
  INVALID_OPTION: 'VIX_ERR_INVALID_OPTION',
  /** A listener of the client's events threw: the thrown value is the error's `cause`. */
  LISTENER: 'VIX_ERR_CLIENT_LISTENER',
  /** The code of an error frame that carries none. */
  INTERNAL: 'VIX_ERR_INTERNAL'
} as const

export type ClientErrorCode = typeof ClientErrorCodes[keyof typeof ClientErrorCodes]

/**
 * Every `code` a {@link VixClientError} can have: a server code of the one
 * error table (`VIX_ERR_FORBIDDEN`, ...) or one of {@link ClientErrorCodes}.
 * Imported as a type only: the table stays out of the browser bundle.
 */
export type VixClientErrorCode = ClientErrorCode | ErrorCode

const serverCode = /^VIX_ERR_[A-Z0-9_]+$/

/**
 * `value` when it is a `VIX_ERR_*` code, else `fallback`: what an error frame
 * or an HTTP body says is only trusted as far as its shape (a proxy's JSON
 * error has other codes).
 *
 * @example
 * codeOf(body.code, ClientErrorCodes.HTTP) // 'VIX_ERR_FORBIDDEN', or 'VIX_ERR_CLIENT_HTTP' for { code: 'E42' }
 */
export function codeOf (value: unknown, fallback: VixClientErrorCode): VixClientErrorCode {
  return typeof value === 'string' && serverCode.test(value) ? value as VixClientErrorCode : fallback
}

/** Details an error may carry. */
export interface VixClientErrorDetails {
  /** What caused it (the value a listener threw). */
  cause?: unknown
  /** JSON pointer to the offending field (from the server's error frame). */
  path?: string
  /** HTTP status, for long-polling and refused upgrades. */
  status?: number
  /** The request's message id. */
  id?: string
  /** The room the request was about. */
  room?: string
}

/**
 * Every error the client rejects with or emits: a `VIX_ERR_*` `code` (the
 * server's, or one of {@link ClientErrorCodes}) and what else is known.
 *
 * @example
 * try {
 *   await client.publish('general', 'chat.message', { text: 'hi' })
 * } catch (error) {
 *   if (error instanceof VixClientError && error.code === 'VIX_ERR_NOT_IN_ROOM') await client.join('general')
 * }
 */
export class VixClientError extends Error {
  readonly code: VixClientErrorCode
  declare readonly path?: string
  declare readonly status?: number
  declare readonly id?: string
  declare readonly room?: string

  constructor (code: VixClientErrorCode, message: string, details: VixClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'VixClientError'
    this.code = code
    // Only the details known: an absent one is no property at all.
    for (const key of ['path', 'status', 'id', 'room'] as const) if (details[key] !== undefined) (this as Record<typeof key, unknown>)[key] = details[key]
  }
}
