import type { Server, Socket } from 'node:net'

/**
 * The connections of `server` that have not sent a byte yet, closed on
 * demand at shutdown. Node's `server.close()` closes the connections idle
 * after a request, but not one that never sent a request: a fetch aborted
 * while its socket connected leaves one behind (a long-polling client that
 * stops does), so does a port scanner, and `app.close()` then waits for it,
 * about 70 s with Node's fetch, without end for a peer that keeps it open.
 * Nothing is lost by closing them: they carry no request.
 *
 * @example
 * const silent = silentConnections(fastify.server)
 * fastify.addHook('preClose', (done) => { silent.close(); done() })
 */
export interface SilentConnections {
  /** Destroy every connection that has not sent a byte; how many were. */
  close: () => number
}

const byServer = new WeakMap<Server, SilentConnections>()

/** The tracker of `server`'s connections (one per server, however many apps or hubs share it). */
export function silentConnections (server: Server): SilentConnections {
  let tracker = byServer.get(server)
  if (tracker !== undefined) return tracker
  const open = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    open.add(socket)
    socket.once('close', () => { open.delete(socket) })
  })
  tracker = {
    close: () => {
      let closed = 0
      for (const socket of open) {
        if (socket.bytesRead > 0) continue
        socket.destroy()
        closed++
      }
      return closed
    }
  }
  byServer.set(server, tracker)
  return tracker
}
