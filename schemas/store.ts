import { Type, type Static } from '@sinclair/typebox'
import { RoomName } from './message.js'

/** Querystring of `GET /ws/history`. */
export const HistoryQuery = Type.Object({
  room: RoomName,
  before: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Only messages stored before this id (the page ends just before it)' })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Only messages stored after this id (the page starts just after it)' })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'Page size, 1-500' })
}, {
  additionalProperties: false,
  examples: [{ room: 'general', after: 'c-41', limit: 50 }]
})
export type HistoryQueryValue = Static<typeof HistoryQuery>

/** Body of a `GET /ws/history` answer. */
export const HistoryPageResponse = Type.Object({
  messages: Type.Array(Type.Unsafe<Record<string, unknown>>({ $ref: 'VixServerMessage#' }), { description: 'Stored messages, oldest first, each with its `pos`' }),
  hasMore: Type.Boolean({ description: 'More messages exist beyond this page in the paging direction: older without `after`, newer with it' })
}, {
  title: 'HistoryPage',
  description: 'A page of a room\'s stored history',
  examples: [{
    messages: [{ id: 'c-42', kind: 'event', room: 'general', type: 'chat.message', ts: '2026-05-17T10:00:00.000Z', payload: { text: 'Hello' }, pos: '42.Xb3k' }],
    hasMore: false
  }]
})
