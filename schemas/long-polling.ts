import { Type, type Static } from '@sinclair/typebox'

const SessionId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'Long-poll session id (128 bits, base64url): the session\'s secret, never share it',
  examples: ['q3Jx0b6bYc2Qm1c8aL0ZfA']
})

/** Querystring of `GET /ws/poll`. */
export const PollQuery = Type.Object({
  session_id: Type.Optional(SessionId),
  ack: Type.Optional(Type.Integer({
    minimum: 0,
    description: 'The `next` of the previous response: confirms every frame before it. Frames not confirmed are sent again. Without `ack`, everything already sent counts as received (at-most-once).',
    examples: [42]
  })),
  wait: Type.Optional(Type.Integer({
    minimum: 0,
    description: 'How long to hold the request when no frame is queued, in ms (capped by the server\'s `maxWait`; 0 answers at once)',
    examples: [25000]
  })),
  max: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'Most frames in one response (default: all queued)', examples: [100] }))
}, { description: 'Without `session_id`: create a session. With it: poll that session.' })
export type PollQueryValue = Static<typeof PollQuery>

/** Body of a `GET /ws/poll` response. */
export const PollResponse = Type.Object({
  session_id: SessionId,
  messages: Type.Array(Type.Union([
    Type.Unsafe<Record<string, unknown>>({ $ref: 'VixServerMessage#' }),
    Type.String({ description: 'A raw text frame sent by the application (not a typed message)' })
  ]), { description: 'Frames in order, exactly what a WebSocket session would have received (events, acks, errors, system)' }),
  next: Type.Integer({ minimum: 0, description: 'Send it back as `ack` on the next poll' }),
  dropped: Type.Optional(Type.Integer({
    minimum: 0,
    description: 'Frames lost to buffer overflow since the last confirmed cursor; when > 0, rejoin rooms with `since` to recover from the store'
  }))
}, {
  $id: 'VixPollResponse',
  title: 'PollResponse',
  description: 'Frames for a long-poll session',
  examples: [
    { session_id: 'q3Jx0b6bYc2Qm1c8aL0ZfA', messages: [], next: 0 },
    {
      session_id: 'q3Jx0b6bYc2Qm1c8aL0ZfA',
      messages: [{ id: '0192f0c4-6d3b-7a51-9a9e-1c1f4b1a2b3c', kind: 'event', room: 'general', type: 'chat.message', ts: '2026-05-17T10:00:00.000Z', payload: { text: 'Hello' } }],
      next: 1,
      dropped: 0
    }
  ]
})

/** Querystring of `DELETE /ws/poll`: the session to end. */
export const EndQuery = Type.Object({
  session_id: SessionId
}, { description: 'The session to end' })
export type EndQueryValue = Static<typeof EndQuery>

/** Querystring of `POST /ws/send`. */
export const SendQuery = Type.Object({
  session_id: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 128,
    description: 'Send as this long-poll session (like a WebSocket frame); without it, a server-side publish',
    examples: ['q3Jx0b6bYc2Qm1c8aL0ZfA']
  }))
})
export type SendQueryValue = Static<typeof SendQuery>

/** Body of a `202` from `POST /ws/send`. */
export const SendAccepted = Type.Object({
  id: Type.String({
    minLength: 1,
    description: 'Id of the message: the client\'s, or for a message sent without one the id the server gave it, which its ack and (relayed or published) the event every receiver gets carry'
  }),
  pos: Type.Optional(Type.String({ description: 'Where a stored message sits in its room (`<offset>.<epoch tag>`, the `pos` of its event); a valid `since`', examples: ['42.Xb3k'] })),
  duplicate: Type.Optional(Type.Literal(true, { description: 'Its sender had already stored a message with this id in this room: nothing was stored or delivered again, and `pos` is the original\'s' }))
}, {
  $id: 'VixSendAccepted',
  title: 'SendAccepted',
  description: 'The message was accepted (and stored, when its room is persisted)',
  examples: [{ id: 'c-1', pos: '42.Xb3k' }, { id: '0192f0c4-6d3b-7a51-9a9e-1c1f4b1a2b3c' }, { id: 'c-1', pos: '42.Xb3k', duplicate: true }]
})

/** Every long-polling shape with an `$id`, for `addSchema` and the OpenAPI components. */
export const longPollingSchemas = [PollResponse, SendAccepted]
