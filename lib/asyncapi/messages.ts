import { PresenceDiff, type DocumentedMessage } from '../openapi/catalogue.js'
import { componentRef } from '../openapi/document.js'
import { literalUnionsAsEnums } from '../openapi/enums.js'
import { JsonMessage, ServerMessage } from '../../schemas/message.js'
import { PresenceResponse } from '../../schemas/presence.js'

/** An AsyncAPI 3.0 Message Object, as vix-realtime writes them. */
export interface AsyncApiMessage {
  name: string
  title: string
  summary: string
  description?: string
  contentType: 'application/json'
  payload: Record<string, unknown>
  'x-vix-direction': 'client' | 'server'
}

/** How the server answers a client frame with an `id`: an ack of the same type, or an error frame. */
export const genericAck = 'ack'

const clientRef = componentRef(JsonMessage.$id)
const serverRef = componentRef(ServerMessage.$id)

/** A JSON copy of a TypeBox schema (no symbols, no `$id`), unions of literals as enums. */
function jsonSchema (schema: object): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(schema))
  delete copy.$id
  return literalUnionsAsEnums(copy)
}

/** The envelope of a client frame of `type`, with its payload schema when it has one. */
function clientFrame (type: string, payload: { $ref: string } | undefined): Record<string, unknown> {
  const properties: Record<string, unknown> = { type: { const: type } }
  if (payload !== undefined) properties.payload = payload
  return { allOf: [clientRef, { type: 'object', properties, required: ['type'] }] }
}

/** The envelope of a server frame: `kind`, `type` and payload fixed. */
function serverFrame (kind: string, type: string | undefined, payload: object | undefined, required: string[] = []): Record<string, unknown> {
  const properties: Record<string, unknown> = { kind: { const: kind } }
  if (type !== undefined) properties.type = { const: type }
  if (payload !== undefined) properties.payload = payload
  return { allOf: [serverRef, { type: 'object', properties, required: ['kind', ...required] }] }
}

function message (direction: 'client' | 'server', name: string, summary: string, payload: Record<string, unknown>, description?: string): AsyncApiMessage {
  const result: AsyncApiMessage = { name, title: name, summary, contentType: 'application/json', payload, 'x-vix-direction': direction }
  if (description !== undefined) result.description = description
  return result
}

/** Limits of a type, as a sentence for its description. */
function limitsOf (entry: DocumentedMessage): string | undefined {
  const parts: string[] = []
  if (entry.maxSize !== undefined) parts.push(`at most ${entry.maxSize} bytes (\`VIX_ERR_PAYLOAD_TOO_LARGE\`)`)
  if (entry.rate !== undefined) parts.push(`${entry.rate.rate}/s per session, burst ${entry.rate.burst} (\`VIX_ERR_RATE_LIMITED\`)`)
  return parts.length === 0 ? undefined : `Limits: ${parts.join('; ')}.`
}

function joined (...parts: Array<string | undefined>): string | undefined {
  const text = parts.filter((part) => part !== undefined).join(' ')
  return text === '' ? undefined : text
}

/** The messages of one catalogue entry: what the client sends and, for relay types, the event the room receives. */
export interface EntryMessages {
  entry: DocumentedMessage
  /** The client's frame (client entries) or the server's (server entries). */
  frame: AsyncApiMessage
  /** The ack answering the client frame when its payload is not the generic one (`room.join`, a request's reply). */
  ack?: AsyncApiMessage
  /** The event a relay type is delivered as to the room's members. */
  event?: AsyncApiMessage
}

/** The AsyncAPI messages of a documented (x-vix-messages) entry. */
export function entryMessages (entry: DocumentedMessage): EntryMessages {
  const limits = limitsOf(entry)
  if (entry.direction === 'server') {
    const kind = entry.type === 'error' ? 'error' : 'system'
    return { entry, frame: message('server', entry.type, `Sent by the server as a \`${kind}\` frame`, serverFrame(kind, entry.type, entry.payload), entry.description) }
  }
  const result: EntryMessages = {
    entry,
    frame: message('client', entry.type, entry.relay ? 'Sent by a client to a room it has joined; relayed to the room' : `Sent by a client${entry.builtIn ? ', handled by the server' : ' to a typed handler'}`, clientFrame(entry.type, entry.payload), joined(entry.description, limits))
  }
  if (entry.reply !== undefined) {
    const payload = { type: 'object', properties: { reply: entry.reply }, required: ['reply'] }
    result.ack = message('server', `${entry.type} reply`, `The reply to a \`${entry.type}\` request: its ack (same \`id\`), the reply in \`payload.reply\``, serverFrame('ack', entry.type, payload, ['id']))
  } else if (entry.ack !== undefined) {
    // A room's ack names the room; any other (`auth.refresh`) answers the frame's `id`.
    result.ack = message('server', `${entry.type} ack`, `The ack of \`${entry.type}\``, serverFrame('ack', entry.type, entry.ack, entry.type.startsWith('room.') ? ['room'] : []))
  }
  if (entry.relay) {
    result.event = message('server', `${entry.type} event`, `\`${entry.type}\` delivered to every member of the room (an \`event\` frame with the server's id and time)`, serverFrame('event', entry.type, entry.payload, ['id', 'room']), entry.description)
  }
  return result
}

/** The ack every client frame with an `id` gets once accepted, and the presence frames when presence is on. */
export function protocolMessages (presence: boolean): Record<string, AsyncApiMessage> {
  const messages: Record<string, AsyncApiMessage> = {
    [genericAck]: message('server', 'ack', 'The ack of a client frame sent with an `id`: same `id` and `type`, once the message is accepted (and stored, when its room is persisted)', serverFrame('ack', undefined, undefined, ['id']))
  }
  if (presence) {
    messages['presence.state'] = message('server', 'presence.state', 'A `system` frame after the ack of a join to a presence room: every member', serverFrame('system', 'presence.state', jsonSchema(PresenceResponse), ['room']))
    messages['presence.diff'] = message('server', 'presence.diff', 'A `system` frame to a presence room\'s members: who joined, who left', serverFrame('system', 'presence.diff', jsonSchema(PresenceDiff), ['room']))
  }
  return messages
}
