import type { Connection, TransportName } from './connection.js'
import type { HttpContext } from './http-connection.js'
import { openLongPolling } from './long-polling-connection.js'
import type { ResolvedOptions } from './options.js'
import { openSse } from './sse-connection.js'

export { changeTransport, upgradeProbe } from './fallback.js'

/**
 * Open one connection over SSE or long polling. This module and the ones it
 * imports are the HTTP transports, which most pages never use: the client
 * loads it with `import()` when it first needs one (see `openTransport`), so
 * the browser bundle's WebSocket path does not download it (a chunk of its own).
 * It imports no code of the client's (only types): what it needs comes in `context.parts`.
 * So is the fallback: the choice of the next transport, and the way back to WebSocket.
 */
export function openHttpTransport (transport: Exclude<TransportName, 'websocket'>, options: ResolvedOptions, context: HttpContext): Connection {
  if (transport === 'sse') {
    const sse = options.sse as Exclude<ResolvedOptions['sse'], false>
    return openSse({ ...sse, fetch: options.fetch!, headers: options.headers, EventSource: options.EventSource, connectTimeout: options.connectTimeout }, context)
  }
  return openLongPolling({
    ...(options.longPolling as Exclude<ResolvedOptions['longPolling'], false>),
    fetch: options.fetch!,
    headers: options.headers,
    pollGrace: options.connectTimeout,
    pollRetries: 2,
    retryDelay: options.reconnect === false ? 500 : Math.max(1, options.reconnect.minDelay)
  }, context)
}
