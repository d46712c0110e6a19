import type { Connection, ConnectionContext, TransportName } from './connection.js'
import { openLongPolling } from './long-polling-connection.js'
import type { ResolvedOptions } from './options.js'
import { openSse } from './sse-connection.js'
import type { TimerSet } from './timers.js'
import { webSocketOptionsOf } from './upgrade.js'
import { openWebSocket } from './websocket-connection.js'

/** Open one connection over `transport` (one of `options.transports`); a WebSocket constructor may throw on a URL it rejects. */
export function openTransport (transport: TransportName, options: ResolvedOptions, context: ConnectionContext): Connection {
  if (transport === 'websocket') return openWebSocket(webSocketOptionsOf(options), context)
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

/**
 * Does plain HTTP reach the server? Any answer to `url` says yes (a 404
 * too); a network error or no answer within `timeoutMs` says no: the server
 * is down, which is a reason to reconnect, not to change transport.
 */
export async function httpReachable (options: ResolvedOptions, timers: TimerSet, timeoutMs: number): Promise<boolean> {
  if (options.fetch === undefined || options.checkUrl === undefined) return false
  const controller = new AbortController()
  const timer = timers.set(() => { controller.abort() }, timeoutMs)
  try {
    await options.fetch(options.checkUrl, { method: 'GET', headers: {}, signal: controller.signal })
    return true
  } catch {
    return false
  } finally {
    timers.clear(timer)
  }
}
