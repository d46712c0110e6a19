import type { WebSocket, WebSocketServer } from 'ws'

/** One request as `app.inject` takes it (the subset the test client sends). */
export interface InjectRequest {
  method?: 'GET' | 'POST' | 'DELETE'
  url: string
  query?: Record<string, string>
  headers?: Record<string, string>
  payload?: string
}

/** What `app.inject` answers (the subset the test client reads). */
export interface InjectResponse {
  statusCode: number
  body: string
  json: () => any
}

/**
 * The Fastify app as the test client uses it (lib/ stays free of Fastify
 * imports; a `FastifyInstance` with vix-realtime registered fits): `ready`,
 * `inject`, and for WebSocket `@fastify/websocket`'s `injectWS` and server.
 */
export interface InProcessApp {
  ready: () => PromiseLike<unknown>
  inject: (request: InjectRequest) => Promise<InjectResponse>
}

/** `@fastify/websocket`'s additions, looked up at run time (an app without the WebSocket transport has none). */
export interface WebSocketApp {
  injectWS: (path?: string, upgradeContext?: { headers?: Record<string, string>, socket?: unknown }) => Promise<WebSocket>
  websocketServer: WebSocketServer
}
