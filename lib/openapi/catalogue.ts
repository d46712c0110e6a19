import { Type, type TSchema } from '@sinclair/typebox'
import type { CatalogueEntry } from '../hub/types.js'
import { ErrorFramePayload, RoomInterruptedPayload, RoomJoinAckPayload, RoomJoinPayload, RoomLeavePayload } from '../../schemas/message.js'
import { PresenceMember, PresenceResponse } from '../../schemas/presence.js'
import { componentRef, componentSchemas, uniqueName, type OpenApiDocument } from './document.js'
import { toOpenApi30 } from './oas30.js'

import { GoingAwayPayload, messagesExtensionKey, websocketExtensionKey } from '../../schemas/openapi.js'
import { AuthRefreshAckPayload, AuthRefreshPayload, RoomLeftPayload, SessionClosedPayload, SessionExpiringPayload, SessionOpenedPayload } from '../../schemas/session.js'

export { websocketExtensionKey, messagesExtensionKey }
/** Prefix of the components that hold typed handlers' payload schemas. */
export const payloadComponentPrefix = 'VixPayload.'
/** Prefix of the components that hold request types' reply schemas. */
export const replyComponentPrefix = 'VixReply.'

/** One message type as the document lists it. */
export interface DocumentedMessage {
  type: string
  /** Who sends it: `client` (a frame to the server) or `server`. */
  direction: 'client' | 'server'
  /** Part of the protocol, handled by the hub itself. */
  builtIn: boolean
  /** Listed in `relayTypes`: published to the room the client names (it must have joined it). */
  relay: boolean
  description?: string
  /** Schema the payload is validated against; absent means any JSON object. */
  payload?: { $ref: string }
  /** Payload of the ack, when it has one. */
  ack?: { $ref: string }
  /** A request type's reply schema (`on(type, { reply })`): the ack's `payload.reply`. Its frames must carry an `id`. */
  reply?: { $ref: string }
  /** Largest frame of this type in bytes (`on(type, { maxSize })`); larger ones get `VIX_ERR_PAYLOAD_TOO_LARGE`. */
  maxSize?: number
  /** Frames of this type per session (`on(type, { rate })`); past it `VIX_ERR_RATE_LIMITED`. */
  rate?: { rate: number, burst: number }
}

const id = (schema: TSchema): string => schema.$id as string

const builtInMessages: DocumentedMessage[] = [
  { type: 'room.join', direction: 'client', builtIn: true, relay: false, description: 'Join a room. With `since` (the `pos` of the last event seen there, or its id) and a store, every message after it is replayed before any live one; the ack\'s `pos` is where the live stream continues. Sent again for a room already joined, it replaces the membership\'s position (a client repairing a gap).', payload: componentRef(id(RoomJoinPayload)), ack: componentRef(id(RoomJoinAckPayload)) },
  { type: 'room.leave', direction: 'client', builtIn: true, relay: false, description: 'Leave a room.', payload: componentRef(id(RoomLeavePayload)), ack: componentRef(id(RoomLeavePayload)) },
  { type: 'auth.refresh', direction: 'client', builtIn: true, relay: false, description: 'A new token for this session (after `session.expiring`), checked by the `refresh` hook: accepted, the session keeps its connection and rooms and the ack gives the new `expiresAt`; refused, an error frame (`VIX_ERR_UNAUTHORIZED`, `VIX_ERR_TOKEN_EXPIRED`) and nothing changes.', payload: componentRef(id(AuthRefreshPayload)), ack: componentRef(id(AuthRefreshAckPayload)) },
  { type: 'error', direction: 'server', builtIn: true, relay: false, description: 'A frame (kind `error`) answering a message that failed; the connection stays open.', payload: componentRef(id(ErrorFramePayload)) },
  { type: 'room.interrupted', direction: 'server', builtIn: true, relay: false, description: 'A `system` frame: this node could not deliver the room\'s stream without a hole. The session\'s live stream of the room stops until it joins the room again with `since` (its last `pos`).', payload: componentRef(id(RoomInterruptedPayload)) },
  { type: 'room.left', direction: 'server', builtIn: true, relay: false, description: 'A `system` frame: the session was taken out of the room, by `app.realtime.leave()` (`reason`) or because `authorizeJoin` refuses the identity of a refreshed token (`code` `VIX_ERR_FORBIDDEN`).', payload: componentRef(id(RoomLeftPayload)) },
  { type: 'server.going_away', direction: 'server', builtIn: true, relay: false, description: 'A `system` frame sent before the server closes the socket with 1001: reconnect after `retryAfterMs`.', payload: componentRef(id(GoingAwayPayload)) },
  { type: 'session.expiring', direction: 'server', builtIn: true, relay: false, description: 'A `system` frame before the session\'s token expires (30 s before `expiresAt`, or halfway there): send `auth.refresh` before `closesAt`.', payload: componentRef(id(SessionExpiringPayload)) },
  { type: 'session.closed', direction: 'server', builtIn: true, relay: false, description: 'A `system` frame before the server closes the session with `code`: its token expired (4001, `VIX_ERR_TOKEN_EXPIRED`) or `app.realtime.disconnect()`; `reconnect: false` means do not come back.', payload: componentRef(id(SessionClosedPayload)) },
  { type: 'session.opened', direction: 'server', builtIn: true, relay: false, description: 'A `system` frame, the first of a Server-Sent Events stream (`GET /ws/sse`): the session id to send with, and what a resume recovered.', payload: componentRef(id(SessionOpenedPayload)) }
]
const builtInTypes = new Set(builtInMessages.map((message) => message.type))
/** The built-in frames' payload schemas that are not shared schemas (`schemas/message.ts`): added to the components by `documentCatalogue`. */
const documentedPayloads: TSchema[] = [GoingAwayPayload, AuthRefreshPayload, AuthRefreshAckPayload, SessionExpiringPayload, SessionClosedPayload, RoomLeftPayload, SessionOpenedPayload]

/** Payload of a `presence.diff` frame (documented only: the server writes it). */
export const PresenceDiff = Type.Object({
  room: Type.String(),
  joins: Type.Array(Type.Pick(PresenceMember, ['key', 'meta']), { description: 'Members that appeared, with what they show' }),
  leaves: Type.Array(Type.Pick(PresenceMember, ['key']), { description: 'Members whose last connection left' })
}, { title: 'PresenceDiff', description: 'Who joined and who left a presence room since the last frame' })

/** The components of the presence frames' payloads, by name. */
const presenceComponents = { VixPresenceState: PresenceResponse, VixPresenceDiff: PresenceDiff }

/** The frames a server with presence sends (`presence` on): listed after the other built-in types. */
const presenceMessages: DocumentedMessage[] = [
  { type: 'presence.state', direction: 'server', builtIn: true, relay: false, description: 'A `system` frame after the ack of a join to a presence room: every member.', payload: componentRef('VixPresenceState') },
  { type: 'presence.diff', direction: 'server', builtIn: true, relay: false, description: 'A `system` frame to a presence room\'s members: who joined, who left.', payload: componentRef('VixPresenceDiff') }
]

/** What the catalogue depends on besides the hub's entries. */
export interface CatalogueContext {
  /** Presence is on: list `presence.state` and `presence.diff`. */
  presence?: boolean
}

/**
 * A reference to `schema` as a component: its shared component when its `$id`
 * names one, else a new component `<prefix><type>` (OpenAPI allows
 * `[A-Za-z0-9._-]` in names), unique in `components`.
 */
function schemaReference (schema: TSchema, prefix: string, type: string, components: Record<string, unknown>): { $ref: string } {
  const shared = schema.$id
  if (shared !== undefined && Object.hasOwn(components, shared)) return componentRef(shared)
  const name = uniqueName(prefix + type, components)
  components[name] = toComponent(schema, name)
  return componentRef(name)
}

/**
 * A JSON copy of a TypeBox schema for the component `name`. The only `$ref`s a
 * payload schema can hold are to its own `$id` (recursive types: the hub
 * compiles it without external references); they point at the component.
 */
function toComponent (schema: TSchema, name: string, openapi30 = false): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(openapi30 ? toOpenApi30(schema) : schema), (key, value) => {
    if (key === '$ref' && value === schema.$id) return componentRef(name).$ref
    return value
  })
  delete copy.$id
  return copy
}

/**
 * Document the message catalogue: every typed handler's payload schema becomes
 * a component, and each WebSocket operation (marked `x-vix-websocket`) gets an
 * `x-vix-messages` list of the built-in types, the typed types and the relay
 * types. Called each time the document is served, so handlers added late show.
 *
 * @example
 * documentCatalogue(app.swagger(), app.realtime.catalogue(), { presence: true })
 */
export function documentCatalogue (document: OpenApiDocument, catalogue: CatalogueEntry[], context: CatalogueContext = {}): OpenApiDocument {
  const components = componentSchemas(document)
  // Rebuilt from scratch each time: a document served earlier may hold an older catalogue.
  for (const name of Object.keys(components)) {
    if (name.startsWith(payloadComponentPrefix) || name.startsWith(replyComponentPrefix)) delete components[name]
  }
  // An app's own document may be OpenAPI 3.0: no `null` type, no `const`, no `examples` in a schema.
  const openapi30 = String(document.openapi).startsWith('3.0')
  for (const schema of documentedPayloads) components[id(schema)] ??= toComponent(schema, id(schema), openapi30)
  const messages = [...builtInMessages]
  if (context.presence === true) {
    for (const [name, schema] of Object.entries(presenceComponents)) components[name] ??= toComponent(schema, name, openapi30)
    messages.push(...presenceMessages)
  }
  for (const entry of catalogue) {
    if (builtInTypes.has(entry.type)) continue
    const message: DocumentedMessage = { type: entry.type, direction: 'client', builtIn: false, relay: entry.relay }
    if (entry.description !== undefined) message.description = entry.description
    if (entry.maxSize !== undefined) message.maxSize = entry.maxSize
    if (entry.rate !== undefined) message.rate = { ...entry.rate }
    if (entry.schema !== undefined) message.payload = schemaReference(entry.schema, payloadComponentPrefix, entry.type, components)
    if (entry.reply !== undefined) message.reply = schemaReference(entry.reply, replyComponentPrefix, entry.type, components)
    messages.push(message)
  }
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item)) {
      if (operation?.[websocketExtensionKey] === undefined) continue
      operation[messagesExtensionKey] = messages
      operation.description = withCatalogueTable(String(operation.description ?? ''), messages)
    }
  }
  return document
}

/** Where the catalogue table starts in the description of a WebSocket operation. */
export const catalogueHeading = '**Message types**'

/** A `$ref` as the name of its component, in code format. */
function schemaName (reference: { $ref: string } | undefined): string {
  return reference === undefined ? 'any object' : `\`${reference.$ref.slice(reference.$ref.lastIndexOf('/') + 1)}\``
}

function tableCell (text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')
}

/** `text` ending as a sentence does: with a full stop unless it has one (or `!`, `?`, `:`). */
function sentence (text: string): string {
  const trimmed = text.trim()
  return /[.!?:]$/.test(trimmed) ? trimmed : `${trimmed}.`
}

/**
 * A relay type's description with the note that it is one, said once: a
 * description ending "relayed to the room" gets only `(relayTypes)`.
 */
function withRelayNote (description: string | undefined): string {
  const note = 'Relayed to the room (`relayTypes`).'
  if (description === undefined || description.trim() === '') return note
  const text = description.trim()
  if (/relayed to the room\.?$/i.test(text)) return `${text.replace(/\.$/, '')} (\`relayTypes\`).`
  if (/relayed to the room/i.test(text)) return `${sentence(text)} A relay type (\`relayTypes\`).`
  return `${sentence(text)} ${note}`
}

/** The catalogue as a markdown table: what Swagger UI shows in the operation description. */
export function catalogueTable (messages: DocumentedMessage[]): string {
  const rows = messages.map((message) => {
    const notes = [message.relay ? withRelayNote(message.description) : message.description]
    if (message.builtIn) notes.unshift('Built in.')
    if (message.reply !== undefined) notes.push('A request: sent with an `id`, answered by an ack whose `payload.reply` is the reply.')
    if (message.maxSize !== undefined) notes.push(`At most ${message.maxSize} bytes.`)
    if (message.rate !== undefined) notes.push(`${message.rate.rate}/s per session, burst ${message.rate.burst}.`)
    const direction = message.direction === 'client' ? 'client → server' : 'server → client'
    const ack = message.reply !== undefined ? `{ reply: ${schemaName(message.reply)} }` : message.ack === undefined ? '' : schemaName(message.ack)
    return `| \`${message.type}\` | ${direction} | ${schemaName(message.payload)} | ${ack} | ${tableCell(notes.filter((note) => note !== undefined).join(' '))} |`
  })
  return ['| type | direction | payload | ack payload | notes |', '| --- | --- | --- | --- | --- |', ...rows].join('\n')
}

/**
 * Below the table: how its names meet Swagger UI's Schemas list, which shows a
 * schema under its `title` (the name without `Vix`) rather than its component name.
 */
export const schemaNamesNote = 'Payloads are named as their components (`#/components/schemas/<name>` in the JSON document); the Schemas list below shows a schema that has a `title` under it, the name without `Vix`: `VixJsonMessage` is `JsonMessage` there, `VixRoomJoinPayload` is `RoomJoinPayload`.'

/** `description` with the catalogue table at its end, replacing the one a previous run wrote. */
function withCatalogueTable (description: string, messages: DocumentedMessage[]): string {
  const start = description.indexOf(catalogueHeading)
  const base = start === -1 ? description : description.slice(0, start).trimEnd()
  return `${base}\n\n${catalogueHeading} (also in \`${messagesExtensionKey}\`)\n\n${catalogueTable(messages)}\n\n${schemaNamesNote}`
}
