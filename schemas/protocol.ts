/**
 * The wire constants of the protocol, with no dependency: every error code
 * with its HTTP status and message template, and the close codes. `lib/errors.ts`
 * builds the error classes from this table; the docs read it for their examples.
 */
export const errorTable = {
  INVALID_MESSAGE: { code: 'VIX_ERR_INVALID_MESSAGE', status: 400, message: '%s' },
  INVALID_REQUEST: { code: 'VIX_ERR_INVALID_REQUEST', status: 400, message: '%s' },
  UNKNOWN_TYPE: { code: 'VIX_ERR_UNKNOWN_TYPE', status: 400, message: 'Unknown message type "%s"' },
  UNAUTHORIZED: { code: 'VIX_ERR_UNAUTHORIZED', status: 401, message: 'Authentication failed: %s' },
  FORBIDDEN: { code: 'VIX_ERR_FORBIDDEN', status: 403, message: 'Forbidden: %s' },
  NOT_IN_ROOM: { code: 'VIX_ERR_NOT_IN_ROOM', status: 403, message: 'Not in room "%s": join it before publishing to it' },
  SESSION_NOT_FOUND: { code: 'VIX_ERR_SESSION_NOT_FOUND', status: 404, message: 'Session not found or expired' },
  MESSAGE_NOT_FOUND: { code: 'VIX_ERR_MESSAGE_NOT_FOUND', status: 404, message: 'No message with id "%s" in room "%s" (unknown or pruned)' },
  SESSION_BUSY: { code: 'VIX_ERR_SESSION_BUSY', status: 409, message: 'Another poll is already waiting on this session' },
  PAYLOAD_TOO_LARGE: { code: 'VIX_ERR_PAYLOAD_TOO_LARGE', status: 413, message: 'Message larger than %s bytes' },
  UPGRADE_REQUIRED: { code: 'VIX_ERR_UPGRADE_REQUIRED', status: 426, message: 'This endpoint speaks WebSocket: send an Upgrade request' },
  RATE_LIMITED: { code: 'VIX_ERR_RATE_LIMITED', status: 429, message: 'Rate limit exceeded: %s' },
  LIMIT_EXCEEDED: { code: 'VIX_ERR_LIMIT_EXCEEDED', status: 429, message: 'Limit exceeded: %s' },
  INTERNAL: { code: 'VIX_ERR_INTERNAL', status: 500, message: 'Internal error' },
  SERVER_FULL: { code: 'VIX_ERR_SERVER_FULL', status: 503, message: 'Server is full (%s connections): retry later or on another node' },
  SHUTTING_DOWN: { code: 'VIX_ERR_SHUTTING_DOWN', status: 503, message: 'Server is shutting down, retry on another node or later' },
  INVALID_OPTION: { code: 'VIX_ERR_INVALID_OPTION', status: 500, message: 'Invalid option "%s": %s' },
  INVALID_ENV: { code: 'VIX_ERR_INVALID_ENV', status: 500, message: 'Invalid environment variable %s=%s: %s' },
  STORE_OPEN: { code: 'VIX_ERR_STORE_OPEN', status: 500, message: 'Cannot open message store at "%s": %s' },
  STORE_UNAVAILABLE: { code: 'VIX_ERR_STORE_UNAVAILABLE', status: 503, message: 'Message store unavailable, nothing was stored: %s' },
  NOT_READY: { code: 'VIX_ERR_NOT_READY', status: 503, message: 'Not ready: %s' },
  DEPENDENCY_UNAVAILABLE: { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', status: 503, message: '%s unreachable (%s): %s' },
  STREAM_BROKEN: { code: 'VIX_ERR_STREAM_BROKEN', status: 503, message: 'The live stream of room "%s" broke on this node: rejoin it with since' },
  CLIENT_SCRIPT_MISSING: { code: 'VIX_ERR_CLIENT_SCRIPT_MISSING', status: 503, message: 'The browser client is not built (%s missing): run npm run build' }
} as const

export type ErrorName = keyof typeof errorTable
export type ErrorCode = typeof errorTable[ErrorName]['code']

/** Every error code vix-realtime produces, by name. */
export const ErrorCodes = Object.fromEntries(
  Object.entries(errorTable).map(([name, entry]) => [name, entry.code])
) as { readonly [N in ErrorName]: typeof errorTable[N]['code'] }

const statusByCode = new Map<string, number>(Object.values(errorTable).map((entry) => [entry.code, entry.status]))

/** The HTTP status that goes with an error code (500 for a code not in the table). */
export function httpStatusOf (code: string): number {
  return statusByCode.get(code) ?? 500
}

/** WebSocket close codes used by the server (RFC 6455 §7.4.1). */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  OVERLOADED: 1013
} as const
