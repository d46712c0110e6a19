import type { Connection, ConnectionContext, TransportName } from './connection.js'
import type { ResolvedOptions } from './options.js'
import { clientParts, lazyModule } from './parts.js'
import { openWebSocket, type WebSocketConnectionOptions } from './websocket-connection.js'

/** The HTTP transports' module: loaded at the first connection over SSE or long polling. */
const httpTransports = lazyModule(async () => await import('./http-transports.js'))

/** The HTTP transports' module, when it was loaded: by a connection over SSE or long polling (always once one opened), or a fallback. */
export function httpTransportsLoaded (): typeof import('./http-transports.js') | undefined {
  return httpTransports.loaded()
}

/** Load the HTTP transports' module (once): WebSocket keeps failing, and their fallback decides what comes next. */
export async function loadHttpTransports (): Promise<typeof import('./http-transports.js')> {
  return await httpTransports.get()
}

/**
 * Open one connection over `transport` (one of `options.transports`); a WebSocket constructor may throw on a URL it rejects.
 * SSE and long polling open once their module is loaded (at once after the first time): the connection returned
 * stands for them meanwhile, and a module that cannot be loaded is a failed attempt, as a server that cannot be reached.
 */
export function openTransport (transport: TransportName, options: ResolvedOptions, context: ConnectionContext): Connection {
  // The resolved options have all a WebSocket reads (`url` as of now: the latest token), and a WebSocket class when it is listed.
  if (transport === 'websocket') return openWebSocket(options as WebSocketConnectionOptions, context)
  let connection: Connection | undefined
  let closed = false
  httpTransports.get().then((loaded) => {
    if (!closed) connection = loaded.openHttpTransport(transport, options, { ...context, parts: clientParts })
  }, (error: Error) => {
    if (!closed) context.handlers.close({ code: 1006, reason: `the ${transport} transport could not be loaded: ${error.message}`, opened: false, error })
  })
  return {
    transport,
    send: (data, id) => { connection?.send(data, id) },
    close: (code, reason) => {
      closed = true
      connection?.close(code, reason)
    }
  }
}
