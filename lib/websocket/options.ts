import { checkBoolean, checkInteger, checkOptionKeys, checkPath, checkStringList, type OptionShape } from '../options.js'

/** WebSocket transport options (times in milliseconds). */
export interface WebSocketOptions {
  /** Route of the upgrade endpoint. */
  path?: string
  /** Largest frame accepted, in bytes, after inflation when deflate is on; larger closes the client 1009. */
  maxMessageSize?: number
  /** A peer silent (no pong, no frame) for this long is terminated. */
  idleTimeout?: number
  /** Interval between server pings. */
  pingInterval?: number
  /** Negotiate permessage-deflate. */
  perMessageDeflate?: boolean
  /** Answer client pings automatically. */
  autoPingPong?: boolean
  /** Origins allowed to upgrade (exact match, e.g. `https://app.example.com`); unset allows any. */
  allowedOrigins?: string[]
}

export const websocketDefaults = {
  path: '/ws',
  maxMessageSize: 65536,
  idleTimeout: 60_000,
  pingInterval: 30_000,
  perMessageDeflate: false,
  autoPingPong: true
} as const

/** The keys of `WebSocketOptions`: any other fails boot. */
export const websocketOptionShape = { path: true, maxMessageSize: true, idleTimeout: true, pingInterval: true, perMessageDeflate: true, autoPingPong: true, allowedOrigins: true } as const satisfies OptionShape & Record<keyof WebSocketOptions, true>

export type ResolvedWebSocketOptions = Required<Omit<WebSocketOptions, 'allowedOrigins'>> & { allowedOrigins: ReadonlySet<string> | undefined }

/** Resolve defaults in one spread and check every option; a bad one throws `VIX_ERR_INVALID_OPTION`. */
export function resolveWebSocketOptions (options: WebSocketOptions): ResolvedWebSocketOptions {
  checkOptionKeys(options, websocketOptionShape)
  const resolved = { ...websocketDefaults, ...options }
  checkPath('path', resolved.path)
  checkInteger('maxMessageSize', resolved.maxMessageSize, 1)
  checkInteger('idleTimeout', resolved.idleTimeout, 1)
  checkInteger('pingInterval', resolved.pingInterval, 1)
  checkBoolean('perMessageDeflate', resolved.perMessageDeflate)
  checkBoolean('autoPingPong', resolved.autoPingPong)
  const allowed = resolved.allowedOrigins === undefined ? undefined : new Set(checkStringList('allowedOrigins', resolved.allowedOrigins))
  return { ...resolved, allowedOrigins: allowed }
}
