/**
 * vix-realtime's in-process test client (`import { connect } from 'vix-realtime/testing'`):
 * a session over WebSocket (`app.injectWS`) or long polling (`app.inject`), no port.
 */
export { connect, type ConnectOptions } from './connect.js'
export { TestClient, TestClientError, type TestTransport, type FramePredicate } from './client.js'
export { SESSION_GONE } from './polling-link.js'
export type { TestClose } from './link.js'
export type { VixMessage, JoinAck, OutgoingMessage } from '../client/protocol.js'
