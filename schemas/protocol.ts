/**
 * Every value of the `reason` label of `vix_ws_errors_total`: a fixed set, so the
 * series count stays bounded. Besides the codes of the table, two closes that come
 * with no error frame are counted: `slow_consumer` (1013) and `too_large` (1009).
 */
export const errorReasons = [
  'invalid_message', 'too_large', 'rate_limited', 'limit_exceeded', 'slow_consumer', 'unauthorized', 'forbidden', 'unavailable', 'internal'
] as const

/** What an error is counted as (see `docs/metrics.md`). */
export type ErrorReason = typeof errorReasons[number]

/**
 * The wire constants of the protocol, with no dependency: every error code
 * with its HTTP status, message template and metric reason (what both
 * transports count it as), and the close codes. `lib/errors.ts` builds the
 * error classes from this table; the docs read it for their examples.
 * A boot-only code (`INVALID_OPTION`, `INVALID_ENV`, `STORE_OPEN`) reaches a
 * client only when a handler throws it, so it counts as `internal`.
 */
export const errorTable = {
  INVALID_MESSAGE: { code: 'VIX_ERR_INVALID_MESSAGE', status: 400, message: '%s', reason: 'invalid_message' },
  INVALID_REQUEST: { code: 'VIX_ERR_INVALID_REQUEST', status: 400, message: '%s', reason: 'invalid_message' },
  UNKNOWN_TYPE: { code: 'VIX_ERR_UNKNOWN_TYPE', status: 400, message: 'Unknown message type "%s"', reason: 'invalid_message' },
  UNAUTHORIZED: { code: 'VIX_ERR_UNAUTHORIZED', status: 401, message: 'Authentication failed: %s', reason: 'unauthorized' },
  TOKEN_EXPIRED: { code: 'VIX_ERR_TOKEN_EXPIRED', status: 401, message: 'The token expired: fetch a new one', reason: 'unauthorized' },
  FORBIDDEN: { code: 'VIX_ERR_FORBIDDEN', status: 403, message: 'Forbidden: %s', reason: 'forbidden' },
  NOT_IN_ROOM: { code: 'VIX_ERR_NOT_IN_ROOM', status: 403, message: 'Not in room "%s": join it before publishing to it', reason: 'forbidden' },
  SESSION_NOT_FOUND: { code: 'VIX_ERR_SESSION_NOT_FOUND', status: 404, message: 'Session not found or expired', reason: 'invalid_message' },
  MESSAGE_NOT_FOUND: { code: 'VIX_ERR_MESSAGE_NOT_FOUND', status: 404, message: 'No message with id "%s" in room "%s" (unknown or pruned)', reason: 'invalid_message' },
  SESSION_BUSY: { code: 'VIX_ERR_SESSION_BUSY', status: 409, message: 'Another poll is already waiting on this session', reason: 'invalid_message' },
  PAYLOAD_TOO_LARGE: { code: 'VIX_ERR_PAYLOAD_TOO_LARGE', status: 413, message: 'Message larger than %s bytes', reason: 'too_large' },
  UPGRADE_REQUIRED: { code: 'VIX_ERR_UPGRADE_REQUIRED', status: 426, message: 'This endpoint speaks WebSocket: send an Upgrade request', reason: 'invalid_message' },
  RATE_LIMITED: { code: 'VIX_ERR_RATE_LIMITED', status: 429, message: 'Rate limit exceeded: %s', reason: 'rate_limited' },
  LIMIT_EXCEEDED: { code: 'VIX_ERR_LIMIT_EXCEEDED', status: 429, message: 'Limit exceeded: %s', reason: 'limit_exceeded' },
  INTERNAL: { code: 'VIX_ERR_INTERNAL', status: 500, message: 'Internal error', reason: 'internal' },
  INVALID_REPLY: { code: 'VIX_ERR_INVALID_REPLY', status: 500, message: 'The reply to "%s" does not match its reply schema: %s', reason: 'internal' },
  SERVER_FULL: { code: 'VIX_ERR_SERVER_FULL', status: 503, message: 'Server is full (%s connections): retry later or on another node', reason: 'limit_exceeded' },
  SHUTTING_DOWN: { code: 'VIX_ERR_SHUTTING_DOWN', status: 503, message: 'Server is shutting down, retry on another node or later', reason: 'unavailable' },
  INVALID_OPTION: { code: 'VIX_ERR_INVALID_OPTION', status: 500, message: 'Invalid option "%s": %s', reason: 'internal' },
  INVALID_ENV: { code: 'VIX_ERR_INVALID_ENV', status: 500, message: 'Invalid environment variable %s=%s: %s', reason: 'internal' },
  STORE_OPEN: { code: 'VIX_ERR_STORE_OPEN', status: 500, message: 'Cannot open message store at "%s": %s', reason: 'internal' },
  STORE_UNAVAILABLE: { code: 'VIX_ERR_STORE_UNAVAILABLE', status: 503, message: 'Message store unavailable, nothing was stored: %s', reason: 'unavailable' },
  NOT_READY: { code: 'VIX_ERR_NOT_READY', status: 503, message: 'Not ready: %s', reason: 'unavailable' },
  DEPENDENCY_UNAVAILABLE: { code: 'VIX_ERR_DEPENDENCY_UNAVAILABLE', status: 503, message: '%s unreachable (%s): %s', reason: 'unavailable' },
  STREAM_BROKEN: { code: 'VIX_ERR_STREAM_BROKEN', status: 503, message: 'The live stream of room "%s" broke on this node: rejoin it with since', reason: 'unavailable' },
  CLIENT_SCRIPT_MISSING: { code: 'VIX_ERR_CLIENT_SCRIPT_MISSING', status: 503, message: 'The browser client is not built (%s missing): run npm run build', reason: 'unavailable' }
} as const satisfies Record<string, { code: string, status: number, message: string, reason: ErrorReason }>

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

const reasonByCode = new Map<string, ErrorReason>(Object.values(errorTable).map((entry) => [entry.code, entry.reason]))

/** The metric reason an error code is counted as (`internal` for a code not in the table). */
export function errorReasonOf (code: string): ErrorReason {
  return reasonByCode.get(code) ?? 'internal'
}

/** WebSocket close codes used by the server (RFC 6455 §7.4.1). */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  OVERLOADED: 1013,
  /** `app.realtime.disconnect` without a code of its own (preceded by `session.closed`). */
  DISCONNECTED: 4000,
  /** The token expired and no `auth.refresh` renewed it within `tokenGrace` (`VIX_ERR_TOKEN_EXPIRED`). */
  TOKEN_EXPIRED: 4001
} as const
