import { CloseCodes } from '../errors.js'
import { goingAwayFrame } from '../frames.js'
import type { ShutdownParticipant } from '../lifecycle.js'
import type { WebSocketConnections } from './connections.js'

/**
 * The WebSocket transport's part in shutdown: when the stop is requested,
 * every socket is sent `server.going_away` (retry after `goingAwayRetryAfter`
 * ms) and closed with 1001; a socket still open after `shutdownTimeout` ms,
 * or at the deadline of the second phase, is terminated.
 */
export function webSocketShutdown (connections: WebSocketConnections, goingAwayRetryAfter: number, shutdownTimeout: number): ShutdownParticipant {
  let terminateTimer: NodeJS.Timeout | undefined
  return {
    name: 'websocket',
    order: 0,
    requestStop () {
      const frame = JSON.stringify(goingAwayFrame(goingAwayRetryAfter))
      for (const socket of connections.sockets()) socket.send(frame)
      connections.closeAll(CloseCodes.GOING_AWAY, 'server going away')
      // The HTTP server's close waits for upgraded sockets too: a peer that never
      // answers the close handshake must not hold it past shutdownTimeout.
      terminateTimer = setTimeout(() => { connections.terminateAll() }, shutdownTimeout).unref()
    },
    async finalize (deadline) {
      connections.stopTimer()
      if (!await connections.whenClosed(deadline)) connections.terminateAll()
      clearTimeout(terminateTimer)
    }
  }
}
