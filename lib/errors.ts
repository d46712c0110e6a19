import createError, { type FastifyErrorConstructor } from '@fastify/error'
import { CloseCodes, ErrorCodes, errorReasonOf, errorTable, httpStatusOf, type ErrorCode, type ErrorName, type ErrorReason } from '../schemas/protocol.js'

export { CloseCodes, ErrorCodes, errorReasonOf, httpStatusOf, type ErrorCode, type ErrorReason }

/**
 * One class per code of the table in `schemas/protocol.ts`, built with
 * `@fastify/error`: the HTTP status lives in the error, so a thrown error
 * renders as the same code and status on every route, and as the same code
 * in a WebSocket error frame. Codes whose message is written at the throw
 * site (a schema violation, a rate) are thrown with `codedError`.
 */
const classes = Object.fromEntries(
  Object.entries(errorTable).map(([name, entry]) => [name, createError(entry.code, entry.message, entry.status)])
) as Record<ErrorName, FastifyErrorConstructor>

export const UnknownTypeError = classes.UNKNOWN_TYPE
export const UnauthorizedError = classes.UNAUTHORIZED
export const TokenExpiredError = classes.TOKEN_EXPIRED
export const ForbiddenError = classes.FORBIDDEN
export const NotInRoomError = classes.NOT_IN_ROOM
export const SessionNotFoundError = classes.SESSION_NOT_FOUND
export const MessageNotFoundError = classes.MESSAGE_NOT_FOUND
export const SessionBusyError = classes.SESSION_BUSY
export const UpgradeRequiredError = classes.UPGRADE_REQUIRED
export const InternalError = classes.INTERNAL
export const ShuttingDownError = classes.SHUTTING_DOWN
export const InvalidOptionError = classes.INVALID_OPTION
export const InvalidEnvError = classes.INVALID_ENV
export const StoreOpenError = classes.STORE_OPEN
export const StoreUnavailableError = classes.STORE_UNAVAILABLE

const classByCode = new Map<string, FastifyErrorConstructor>(
  Object.entries(errorTable).map(([name, entry]) => [entry.code, classes[name as ErrorName]])
)

/** A coded error as vix-realtime throws it: `code`, `statusCode`, and where it applies the JSON `path` of the bad field. */
export interface VixError extends Error {
  code: ErrorCode
  statusCode: number
  path?: string
  /** Seconds for a `Retry-After` header (503 and 429 answers). */
  retryAfter?: number
}

/** Is this one of ours (a `VIX_ERR_*` code)? */
export function isVixError (error: unknown): error is VixError {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('VIX_ERR_') && classByCode.has(code)
}

/**
 * The error of `code` with an already written message (and the `path` of the
 * bad field): for messages computed at the throw site, such as a schema violation.
 *
 * @example
 * throw codedError(ErrorCodes.INVALID_MESSAGE, '/payload/text: Expected string', { path: '/payload/text' })
 */
export function codedError (code: ErrorCode, message: string, extra: { path?: string, retryAfter?: number } = {}): VixError {
  const ErrorClass = classByCode.get(code) as FastifyErrorConstructor
  const error = new ErrorClass() as VixError
  error.message = message
  if (extra.path !== undefined) error.path = extra.path
  if (extra.retryAfter !== undefined) error.retryAfter = extra.retryAfter
  return error
}
