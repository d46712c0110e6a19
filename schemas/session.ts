import { Type } from '@sinclair/typebox'
import { Position, RoomName } from './message.js'

// The frames of a session's life besides messages: its token refreshed in-band
// (`auth.refresh`), told it expires (`session.expiring`), closed by the server
// (`session.closed`), taken out of a room (`room.left`) and, over SSE, opened
// (`session.opened`). `AuthRefreshPayload` validates what clients send; the
// others document what the server writes (nothing validates them).

/** Payload of `auth.refresh`: the new token, as the client's `getToken()` gave it. */
export const AuthRefreshPayload = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 8192, description: 'The new token, checked by the `refresh` hook (by default `authenticate`)' })
}, { $id: 'VixAuthRefreshPayload', title: 'AuthRefreshPayload', additionalProperties: false })

/** Payload of the `auth.refresh` ack. */
export const AuthRefreshAckPayload = Type.Object({
  expiresAt: Type.Union([Type.Integer(), Type.Null()], { description: 'When the new token expires (ms since the epoch); null: it no longer does' })
}, { $id: 'VixAuthRefreshAckPayload', title: 'AuthRefreshAckPayload' })

/** Payload of the `session.expiring` system frame. */
export const SessionExpiringPayload = Type.Object({
  expiresAt: Type.Integer({ description: 'When the token expires (ms since the epoch)' }),
  closesAt: Type.Integer({ description: '`expiresAt` plus `tokenGrace`: the session is closed 4001 then unless an `auth.refresh` was accepted' })
}, { $id: 'VixSessionExpiringPayload', title: 'SessionExpiringPayload' })

/** Payload of the `session.closed` system frame. */
export const SessionClosedPayload = Type.Object({
  code: Type.Integer({ minimum: 1000, maximum: 4999, description: 'The close code that follows (4001: the token expired; 4000-4999: `app.realtime.disconnect()`)' }),
  error: Type.Optional(Type.String({ pattern: '^VIX_ERR_[A-Z_]+$', description: 'The error code, when the close is one (`VIX_ERR_TOKEN_EXPIRED`)' })),
  reason: Type.String(),
  reconnect: Type.Boolean({ description: 'false: do not come back (the client ends in `closed`)' })
}, { $id: 'VixSessionClosedPayload', title: 'SessionClosedPayload' })

/** Payload of the `room.left` system frame. */
export const RoomLeftPayload = Type.Object({
  room: RoomName,
  code: Type.Optional(Type.String({ pattern: '^VIX_ERR_[A-Z_]+$', description: 'Why, after an `auth.refresh`: `VIX_ERR_FORBIDDEN` (`authorizeJoin` refuses the new identity)' })),
  message: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String({ description: 'Why, after `app.realtime.leave()`: `removed by the server`' }))
}, { $id: 'VixRoomLeftPayload', title: 'RoomLeftPayload' })

/** Payload of the `session.opened` system frame, the first of an SSE stream. */
export const SessionOpenedPayload = Type.Object({
  session_id: Type.String({ description: 'The session id: send with `POST /ws/send?session_id=…`. A secret' }),
  resume: Type.Optional(Type.Object({
    cursor: Type.Union([Type.Literal('ok'), Type.Literal('malformed')]),
    recovered: Type.Boolean({ description: 'Every room of the cursor was replayed from its position' }),
    rooms: Type.Array(Type.Object({
      room: RoomName,
      since: Type.Union([Type.String(), Type.Null()]),
      recovered: Type.Boolean(),
      replayed: Type.Integer({ minimum: 0 }),
      pos: Type.Union([Position, Type.Null()]),
      code: Type.Optional(Type.String({ description: 'The join was refused: its error code (an error frame follows)' }))
    }))
  }, { description: 'After a `Last-Event-ID`: what was and was not recovered' }))
}, { $id: 'VixSessionOpenedPayload', title: 'SessionOpenedPayload' })
