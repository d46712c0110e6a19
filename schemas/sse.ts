import { Type, type Static } from '@sinclair/typebox'
import { SenderKey } from './long-polling.js'

/** Querystring of `GET /ws/sse`. */
export const SseQuery = Type.Object({
  rooms: Type.Optional(Type.String({
    maxLength: 8192,
    description: 'Rooms to join as the stream opens, comma-separated (for a read-only client that never sends): each is joined as `room.join` would, `authorizeJoin` and limits included',
    examples: ['general,news']
  })),
  lastEventId: Type.Optional(Type.String({
    maxLength: 8192,
    description: 'The cursor to resume from, for clients that cannot set the `Last-Event-ID` header (the header wins when both are sent)',
    examples: ['general@42.Xb3k,news@7.Qx9z']
  })),
  client_key: Type.Optional(SenderKey)
}, { description: 'Rooms to join and where to resume' })
export type SseQueryValue = Static<typeof SseQuery>

/** Route schema of `GET /ws/sse`. */
export const sseRouteSchema = {
  summary: 'Open a Server-Sent Events stream',
  description: 'An `EventSource` stream (`text/event-stream`): `retry:` first, then a `session.opened` system frame with `session_id` ' +
    '(send with `POST /ws/send?session_id=…`) and, after a `Last-Event-ID`, `resume`: which rooms were recovered and which were not. ' +
    'Then every frame a WebSocket session would get (events, acks, errors, system frames), one `data:` line of JSON each. ' +
    'A stored event of a joined room (and a `room.join` ack) carries `id:`, a cursor of every room\'s position (`general@42.Xb3k,news@7.Qx9z`): ' +
    'reconnecting with it as `Last-Event-ID` joins every room again with `since`, so nothing is missed or delivered twice. ' +
    'A comment line every `heartbeat` ms. On shutdown: `server.going_away`, then the end of the stream.',
  tags: ['realtime'],
  querystring: SseQuery,
  headers: Type.Object({
    'last-event-id': Type.Optional(Type.String({ maxLength: 8192, description: 'The `id:` of the last event received: the cursor to resume from (sent by EventSource on reconnect)' }))
  }),
  response: {
    200: {
      description: 'The event stream (`text/event-stream`, `Cache-Control: no-cache`, `X-Accel-Buffering: no`), open until the client or the server ends it',
      content: {
        'text/event-stream': {
          schema: Type.String({
            description: 'Server-Sent Events: `retry:`, `id:` and `data:` lines, comments (`:`) as heartbeats',
            // `example`, not `examples`: the one both OpenAPI 3.0 and 3.1 take in a Schema Object (an app's own 3.0 document holds this route too).
            example: 'retry: 2000\ndata: {"kind":"system","type":"session.opened","ts":"2026-12-07T03:00:00.000Z","payload":{"session_id":"q3Jx0b6bYc2Qm1c8aL0ZfA"}}\n\nid: general@42.Xb3k\ndata: {"id":"c-1","kind":"event","room":"general","type":"chat.message","ts":"2026-12-07T03:00:01.000Z","payload":{"text":"hi"},"pos":"42.Xb3k"}\n\n'
          })
        }
      }
    },
    400: { $ref: 'VixErrorResponse#', description: 'Malformed querystring (`VIX_ERR_INVALID_REQUEST`, with `path`)' },
    401: { $ref: 'VixErrorResponse#', description: '`authenticate` rejected the request (`VIX_ERR_UNAUTHORIZED`)' },
    429: { $ref: 'VixErrorResponse#', description: 'Over the per-IP rate (`limits.ipRate`, `VIX_ERR_RATE_LIMITED` with `Retry-After`) or a connection cap (`VIX_ERR_LIMIT_EXCEEDED`)' },
    503: { $ref: 'VixErrorResponse#', description: 'The server is shutting down (`VIX_ERR_SHUTTING_DOWN`, with `Retry-After`)' }
  }
}
