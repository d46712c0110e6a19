import createError from '@fastify/error'

/**
 * Every error code vix-realtime produces. The same codes travel in WebSocket
 * error frames, long-polling responses and HTTP error bodies, so a client
 * handles one table whatever the transport.
 */
export const ErrorCodes = {
  INVALID_MESSAGE: 'VIX_ERR_INVALID_MESSAGE',
  INVALID_REQUEST: 'VIX_ERR_INVALID_REQUEST',
  FORBIDDEN: 'VIX_ERR_FORBIDDEN',
  UNAUTHORIZED: 'VIX_ERR_UNAUTHORIZED',
  NOT_IN_ROOM: 'VIX_ERR_NOT_IN_ROOM',
  UNKNOWN_TYPE: 'VIX_ERR_UNKNOWN_TYPE',
  RATE_LIMITED: 'VIX_ERR_RATE_LIMITED',
  SESSION_NOT_FOUND: 'VIX_ERR_SESSION_NOT_FOUND',
  SESSION_BUSY: 'VIX_ERR_SESSION_BUSY',
  PAYLOAD_TOO_LARGE: 'VIX_ERR_PAYLOAD_TOO_LARGE',
  UPGRADE_REQUIRED: 'VIX_ERR_UPGRADE_REQUIRED',
  SHUTTING_DOWN: 'VIX_ERR_SHUTTING_DOWN',
  INTERNAL: 'VIX_ERR_INTERNAL',
  INVALID_OPTION: 'VIX_ERR_INVALID_OPTION',
  INVALID_ENV: 'VIX_ERR_INVALID_ENV',
  STORE_OPEN: 'VIX_ERR_STORE_OPEN',
  MESSAGE_NOT_FOUND: 'VIX_ERR_MESSAGE_NOT_FOUND'
} as const

export type ErrorCode = typeof ErrorCodes[keyof typeof ErrorCodes]

export const InvalidMessageError = createError(ErrorCodes.INVALID_MESSAGE, 'Invalid message: %s', 400)
export const InvalidRequestError = createError(ErrorCodes.INVALID_REQUEST, 'Invalid request: %s', 400)
export const ForbiddenError = createError(ErrorCodes.FORBIDDEN, 'Forbidden: %s', 403)
export const UnauthorizedError = createError(ErrorCodes.UNAUTHORIZED, 'Authentication failed: %s', 401)
export const NotInRoomError = createError(ErrorCodes.NOT_IN_ROOM, 'Not in room "%s": join it before publishing to it', 403)
export const UnknownTypeError = createError(ErrorCodes.UNKNOWN_TYPE, 'Unknown message type "%s"', 400)
export const RateLimitedError = createError(ErrorCodes.RATE_LIMITED, 'Rate limit exceeded: %s', 429)
export const SessionNotFoundError = createError(ErrorCodes.SESSION_NOT_FOUND, 'Session not found or expired', 404)
export const SessionBusyError = createError(ErrorCodes.SESSION_BUSY, 'Another poll is already waiting on this session', 409)
export const PayloadTooLargeError = createError(ErrorCodes.PAYLOAD_TOO_LARGE, 'Message larger than %s bytes', 413)
export const UpgradeRequiredError = createError(ErrorCodes.UPGRADE_REQUIRED, 'This endpoint speaks WebSocket: send an Upgrade request', 426)
export const ShuttingDownError = createError(ErrorCodes.SHUTTING_DOWN, 'Server is shutting down, retry on another node or later', 503)
export const InternalError = createError(ErrorCodes.INTERNAL, 'Internal error', 500)
export const InvalidOptionError = createError(ErrorCodes.INVALID_OPTION, 'Invalid option "%s": %s', 500)
export const InvalidEnvError = createError(ErrorCodes.INVALID_ENV, 'Invalid environment variable %s=%s: %s', 500)
export const StoreOpenError = createError(ErrorCodes.STORE_OPEN, 'Cannot open message store at "%s": %s', 500)
export const MessageNotFoundError = createError(ErrorCodes.MESSAGE_NOT_FOUND, 'No message with id "%s" in room "%s" (unknown or pruned)', 404)

/** WebSocket close codes used by the server (RFC 6455 §7.4.1). */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  OVERLOADED: 1013
} as const

const statusByCode: Record<ErrorCode, number> = {
  VIX_ERR_INVALID_MESSAGE: 400,
  VIX_ERR_INVALID_REQUEST: 400,
  VIX_ERR_FORBIDDEN: 403,
  VIX_ERR_UNAUTHORIZED: 401,
  VIX_ERR_NOT_IN_ROOM: 403,
  VIX_ERR_UNKNOWN_TYPE: 400,
  VIX_ERR_RATE_LIMITED: 429,
  VIX_ERR_SESSION_NOT_FOUND: 404,
  VIX_ERR_SESSION_BUSY: 409,
  VIX_ERR_PAYLOAD_TOO_LARGE: 413,
  VIX_ERR_UPGRADE_REQUIRED: 426,
  VIX_ERR_SHUTTING_DOWN: 503,
  VIX_ERR_INTERNAL: 500,
  VIX_ERR_INVALID_OPTION: 500,
  VIX_ERR_INVALID_ENV: 500,
  VIX_ERR_STORE_OPEN: 500,
  VIX_ERR_MESSAGE_NOT_FOUND: 404
}

/** The HTTP status that goes with an error code (for frames turned into HTTP answers). */
export function httpStatusOf (code: ErrorCode): number {
  return statusByCode[code]
}
