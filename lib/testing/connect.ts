import type { InProcessApp } from './app.js'
import { TestClient, type TestTransport } from './client.js'
import { openPollingLink } from './polling-link.js'
import { openWebSocketLink } from './websocket-link.js'

export interface ConnectOptions {
  /** `websocket` (default) through `app.injectWS`, or `polling` through `app.inject`. */
  transport?: TestTransport
  /** Query parameters of the session's opening request (e.g. `client_key`, a token your `authenticate` reads). */
  query?: Record<string, string>
  /** Headers of every request of the session (e.g. `authorization`). */
  headers?: Record<string, string>
  /** Where the realtime routes are (default `/ws`, the WebSocket path; long polling uses `<path>/poll` and `<path>/send`). */
  path?: string
  /** How long `next`, `join`, `publish` and `request` wait by default (real ms; default 2000). */
  timeout?: number
}

/**
 * Open an in-process session on `app` (readied first): no port, no socket.
 *
 * @example
 * const client = await connect(app, { transport: 'polling' })
 * await client.join('general')
 * await client.close()
 */
export async function connect (app: InProcessApp, options: ConnectOptions = {}): Promise<TestClient> {
  const transport = options.transport ?? 'websocket'
  const path = options.path ?? '/ws'
  const query = options.query ?? {}
  const headers = options.headers ?? {}
  await app.ready()
  const client = new TestClient(transport, options.timeout ?? 2000)
  const sink = { frame: (frame: Parameters<TestClient['receive']>[0]) => { client.receive(frame) }, end: (close: Parameters<TestClient['end']>[0]) => { client.end(close) } }
  if (transport === 'polling') {
    client.attach(await openPollingLink(app, path, query, headers, sink))
  } else {
    const search = new URLSearchParams(query).toString()
    client.attach(await openWebSocketLink(app, search === '' ? path : `${path}?${search}`, headers, sink))
  }
  return client
}
