import { Type, type Static, type TSchema } from '@sinclair/typebox'

/** `type` of a typed message: 1-128 chars of `[A-Za-z0-9_.:-]`. */
export const MessageType = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9_.:-]+$',
  description: 'Message type, 1-128 chars of [A-Za-z0-9_.:-]',
  examples: ['chat.message']
})

export const RoomName = Type.String({ minLength: 1, maxLength: 128, description: 'Room name', examples: ['general'] })
export const MessageId = Type.String({ minLength: 1, maxLength: 128, description: 'Message id; a client id makes the send idempotent and acked' })
export const Payload = Type.Record(Type.String(), Type.Unknown(), { description: 'Message payload, always a JSON object' })
/** A room position on the wire: decimal offset, a dot, and the room epoch's 4-character tag. */
export const Position = Type.String({
  pattern: '^[1-9][0-9]{0,15}\\.[A-Za-z0-9_-]{4}$',
  maxLength: 21,
  // No `examples`: OpenAPI 3.0 refuses them inside the nullable unions this is used in.
  description: 'Room position of a stored message: `<offset>.<epoch tag>`, e.g. `42.Xb3k`. Offsets grow by one per stored message of the room, in commit order; the tag changes when the room\'s history is reset. A valid `since`'
})
export const Sender = Type.Record(Type.String(), Type.Unknown(), {
  description: 'The sender as the server sees it, from the hub\'s `senderInfo` (or a server publish\'s own `from`); never from the client. At most 1 KiB as JSON; absent when none was given',
  examples: [{ name: 'Ada' }]
})

/**
 * A typed message as a client sends it (WebSocket text frame or `POST /ws/send` body).
 * The same object validates frames at runtime and documents them in OpenAPI.
 */
export const JsonMessage = Type.Object({
  id: Type.Optional(MessageId),
  kind: Type.Optional(Type.String({ maxLength: 16, description: 'Ignored on input' })),
  room: Type.Optional(RoomName),
  type: MessageType,
  ts: Type.Optional(Type.String({ maxLength: 64, description: 'Ignored on input' })),
  payload: Type.Optional(Payload)
}, {
  $id: 'VixJsonMessage',
  title: 'JsonMessage',
  additionalProperties: false,
  description: 'A typed message sent by a client. Any other field is refused, `from` too: the server names the sender',
  examples: [{ id: 'c-1', room: 'general', type: 'chat.message', payload: { text: 'Hello' } }]
})
export type JsonMessageInput = Static<typeof JsonMessage>

export const MessageKind = Type.Union([
  Type.Literal('event'), Type.Literal('ack'), Type.Literal('error'), Type.Literal('system')
])
export type MessageKindValue = Static<typeof MessageKind>

/** A frame as the server sends it: every delivered message has id, kind, type, ts and payload. */
export const ServerMessage = Type.Object({
  id: Type.Optional(MessageId),
  kind: MessageKind,
  room: Type.Optional(RoomName),
  type: MessageType,
  ts: Type.String({ format: 'date-time', description: 'Server time, ISO 8601 UTC' }),
  payload: Payload,
  from: Type.Optional(Sender),
  pos: Type.Optional(Position)
}, {
  $id: 'VixServerMessage',
  title: 'ServerMessage',
  description: 'A frame sent by the server: event, ack, error or system',
  examples: [{ id: '0192f0c4-6d3b-7a51-9a9e-1c1f4b1a2b3c', kind: 'event', room: 'general', type: 'chat.message', ts: '2026-05-17T10:00:00.000Z', payload: { text: 'Hello' }, from: { name: 'Ada' }, pos: '42.Xb3k' }]
})
export type ServerMessageFrame = Static<typeof ServerMessage>

/** Payload of `room.join`. */
export const RoomJoinPayload = Type.Object({
  room: RoomName,
  since: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Where the client is in the room: the `pos` of the last event it has (recommended), or that event\'s id. Every stored message after it is replayed before any live one', examples: ['42.Xb3k'] }))
}, { $id: 'VixRoomJoinPayload', title: 'RoomJoinPayload', additionalProperties: false })

/** Payload of `room.leave`. */
export const RoomLeavePayload = Type.Object({
  room: RoomName
}, { $id: 'VixRoomLeavePayload', title: 'RoomLeavePayload', additionalProperties: false })

/** Payload of the `room.join` ack. */
export const RoomJoinAckPayload = Type.Object({
  room: RoomName,
  recovered: Type.Boolean({ description: 'True when every message after `since` was replayed; false means fetch /ws/history' }),
  replayed: Type.Integer({ minimum: 0 }),
  latestId: Type.Union([MessageId, Type.Null()], { description: 'Id of the latest stored message in the room, null when none' }),
  pos: Type.Union([Position, Type.Null()], { description: 'The position after which this session\'s live stream of the room continues: the last replayed message\'s, `since` when nothing was replayed, else the room\'s head; null when the room has no stored message. The next event of the room has the next offset' })
}, { $id: 'VixRoomJoinAckPayload', title: 'RoomJoinAckPayload' })

/** Payload of the `room.interrupted` system frame (documented only: the server writes it). */
export const RoomInterruptedPayload = Type.Object({
  room: RoomName,
  code: Type.Literal('VIX_ERR_STREAM_BROKEN'),
  message: Type.String(),
  pos: Type.Union([Position, Type.Null()], { description: 'The last position this node delivered in order in the room (null: none)' })
}, {
  $id: 'VixRoomInterruptedPayload',
  title: 'RoomInterruptedPayload',
  description: 'This node could not deliver the room\'s stream without a hole (the store stayed unreadable past the hold bound): the live stream of the room stops for this session until it sends `room.join` again with `since` (its own last position)'
})

/** Payload of an error frame. */
export const ErrorFramePayload = Type.Object({
  code: Type.String({ pattern: '^VIX_ERR_[A-Z_]+$', examples: ['VIX_ERR_INVALID_MESSAGE'] }),
  message: Type.String(),
  path: Type.Optional(Type.String({ description: 'JSON pointer to the offending field' }))
}, { $id: 'VixErrorFramePayload', title: 'ErrorFramePayload' })

/** The HTTP error body (Fastify's error shape with a VIX_ERR_* code). */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ examples: ['VIX_ERR_SESSION_NOT_FOUND'] }),
  error: Type.String(),
  message: Type.String(),
  path: Type.Optional(Type.String({ description: 'JSON pointer to the offending field, when one is to blame', examples: ['/payload/text'] }))
}, { $id: 'VixErrorResponse', title: 'ErrorResponse' })

/** Every shared schema, for `addSchema` and the OpenAPI components. */
export const sharedSchemas: TSchema[] = [
  JsonMessage, ServerMessage, RoomJoinPayload, RoomLeavePayload, RoomJoinAckPayload, RoomInterruptedPayload, ErrorFramePayload, ErrorResponse
]
