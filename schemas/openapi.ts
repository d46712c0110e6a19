import { format } from 'node:util'
import { Type } from '@sinclair/typebox'
import { errorTable, type ErrorName } from './protocol.js'

/** The extension of the WebSocket upgrade operation naming its frame schemas and close codes. */
export const websocketExtensionKey = 'x-vix-websocket'
/** The extension listing the message catalogue (every type, its direction and payload schema). */
export const messagesExtensionKey = 'x-vix-messages'

/** Reference to a component schema of the document (components are named after `$id`s). */
export function componentRef (name: string | undefined): { $ref: string } {
  return { $ref: `#/components/schemas/${name as string}` }
}

/** The error body the server really sends for `name`, with the message's placeholders filled in: a documented example. */
export function errorExample (name: ErrorName, ...args: string[]): { statusCode: number, code: string, message: string } {
  const entry = errorTable[name]
  return { statusCode: entry.status, code: entry.code, message: format(entry.message, ...args) }
}

/** Payload of the `server.going_away` system frame (documented only: the server writes it, nothing validates it). */
export const GoingAwayPayload = Type.Object({
  retryAfterMs: Type.Integer({ minimum: 0, description: 'Reconnect after this many milliseconds (plus jitter)' })
}, { $id: 'VixGoingAwayPayload', title: 'GoingAwayPayload' })
