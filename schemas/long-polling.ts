import { Type, type Static } from '@sinclair/typebox'

const SessionId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'Long-poll session id (128 bits, base64url): the session\'s secret, never share it',
  examples: ['q3Jx0b6bYc2Qm1c8aL0ZfA']
})

/** A client's sender key (`client_key`): its messages on every session it opens are one sender's. */
export const SenderKey = Type.String({
  pattern: '^[A-Za-z0-9_-]{16,128}$',
  description: 'With the request that creates a session: the client\'s secret sender key (16 to 128 URL-safe characters; the bundled client sends 128 random bits). An anonymous client\'s messages on every session it opens with the same key are one sender\'s, so a message resent after a reconnect is acked `duplicate` instead of stored twice. A secret, like the session id',
  examples: ['Zk3x0b6bYc2Qm1c8aL0ZfA']
})

/** Querystring of `GET /ws/poll`. */
export const PollQuery = Type.Object({
  session_id: Type.Optional(SessionId),
  client_key: Type.Optional(SenderKey),
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
    description: 'Send as this session, a long-poll session or an SSE stream\'s (like a WebSocket frame); without it, a server-side publish',
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

/** The error answers every long-polling route documents. */
const errorResponses = {
  400: { $ref: 'VixErrorResponse#', description: 'Malformed querystring (`VIX_ERR_INVALID_REQUEST`, with `path`)' },
  401: { $ref: 'VixErrorResponse#', description: '`authenticate` rejected the request (`VIX_ERR_UNAUTHORIZED`)' },
  404: { $ref: 'VixErrorResponse#', description: 'Unknown or expired session, or one bound to another identity (`VIX_ERR_SESSION_NOT_FOUND`): create a new one and rejoin with `since`' },
  500: { $ref: 'VixErrorResponse#', description: 'Internal error (`VIX_ERR_INTERNAL`)' }
}

/** `POST /ws/send` adds the refusals of a message: auth, limits, validation, size, the store. */
const sendErrorResponses = {
  ...errorResponses,
  401: { $ref: 'VixErrorResponse#', description: '`authenticate` rejected the request, or a server-side publish without the `serverPublish` key (`VIX_ERR_UNAUTHORIZED`, with `WWW-Authenticate: Bearer`)' },
  403: { $ref: 'VixErrorResponse#', description: 'Denied by `authorizeJoin` / `authorizePublish` / `serverPublish.authorize`, or a server-side publish while it is off (`VIX_ERR_FORBIDDEN`); not in the room (`VIX_ERR_NOT_IN_ROOM`)' },
  429: { $ref: 'VixErrorResponse#', description: 'Over the session rate (`limits.sessionRate`), the per-IP rate of server-side publishes (`limits.ipRate`) or a type\'s `rate`, or more than `maxQueuedFrames` frames of this session are waiting (`VIX_ERR_RATE_LIMITED`, with `Retry-After`); a join past `limits.maxRoomsPerSession` / `maxMembersPerRoom` (`VIX_ERR_LIMIT_EXCEEDED`)' },
  400: { $ref: 'VixErrorResponse#', description: 'Invalid message (`VIX_ERR_INVALID_MESSAGE`, with `path`: the same message and path as the WebSocket error frame), unknown type (`VIX_ERR_UNKNOWN_TYPE`) or querystring (`VIX_ERR_INVALID_REQUEST`)' },
  413: { $ref: 'VixErrorResponse#', description: 'Body larger than `maxMessageSize` (`VIX_ERR_PAYLOAD_TOO_LARGE`)' },
  503: { $ref: 'VixErrorResponse#', description: 'The message store (PostgreSQL) cannot be reached (`VIX_ERR_STORE_UNAVAILABLE`): nothing was stored, delivered or acked; retry' }
}

/** Route schema of `GET /ws/poll`: create a session, or poll one. */
export const pollRouteSchema = {
  summary: 'Create or poll a long-poll session',
  description: 'Without `session_id`: create a session bound to the caller\'s identity and answer `{session_id, messages: [], next}`. ' +
    'With it: hold the request until at least one frame is queued or `wait` passes, then answer the frames in order ' +
    '(exactly what a WebSocket session would have received). Send the `next` of each answer back as `ack`: ' +
    'frames not confirmed are sent again, so a lost response loses nothing. Only one poll per session at a time.',
  tags: ['realtime'],
  querystring: PollQuery,
  response: {
    200: { $ref: 'VixPollResponse#' },
    ...errorResponses,
    409: { $ref: 'VixErrorResponse#', description: 'Another poll is already held on this session (`VIX_ERR_SESSION_BUSY`)' },
    429: { $ref: 'VixErrorResponse#', description: 'Creating a session: `limits.maxConnectionsPerIp` / `maxConnectionsPerIdentity` reached (`VIX_ERR_LIMIT_EXCEEDED`), or this client IP is over `limits.ipRate` (`VIX_ERR_RATE_LIMITED`, with `Retry-After`)' },
    503: { $ref: 'VixErrorResponse#', description: 'Shutting down (`VIX_ERR_SHUTTING_DOWN`) or full (`VIX_ERR_SERVER_FULL`): no new sessions, retry after `Retry-After`' }
  }
}

/** Route schema of `DELETE /ws/poll`: end a session. */
export const endRouteSchema = {
  summary: 'End a long-poll session',
  description: 'The client is leaving (a page closing, a switch back to WebSocket): the session leaves every room, a held poll is answered with what it has, and the session id stops working. Without it the session lingers until `sessionTtl` passes with no poll.',
  tags: ['realtime'],
  querystring: EndQuery,
  response: {
    204: { type: 'null', description: 'Ended' },
    ...errorResponses
  }
}

/** Route schema of `POST /ws/send`: a session's message, or a server-side publish. */
export const sendRouteSchema = {
  summary: 'Send a typed message',
  description: 'With `session_id`: processed exactly like that frame on a WebSocket of this session (`room.join` joins it, relay rules and auth hooks apply; acks and events arrive through `GET /poll`). ' +
    'Without it: a server-side publish, **off unless `longPolling.serverPublish` is configured** (a bearer key and/or an `authorize(request, message)` callback; 403 when off, 401 without the key); when on, the message must be of a known type (a relay type or one registered with `on`), pass its payload schema and `authorizePublish(null, message)`. Answers 202 `{id}` once the message is accepted (and stored, when its room is persisted): the message\'s id, or for one sent without an id the id the server gave it (a session\'s message carries it into its ack and, relayed, into the event members receive; a server-side publish, the stamped event id).',
  tags: ['realtime'],
  querystring: SendQuery,
  body: { $ref: 'VixJsonMessage#' },
  response: {
    202: { $ref: 'VixSendAccepted#' },
    ...sendErrorResponses
  }
}

/** Every long-polling shape with an `$id`, for `addSchema` and the OpenAPI components. */
export const longPollingSchemas = [PollResponse, SendAccepted]
