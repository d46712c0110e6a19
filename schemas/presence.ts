import { Type, type Static } from '@sinclair/typebox'
import { RoomName } from './message.js'

/** One member of a presence room. */
export const PresenceMember = Type.Object({
  key: Type.String({ description: 'Who the member is: the identity key (`identityKey`), or a random key for an anonymous session' }),
  meta: Type.Record(Type.String(), Type.Unknown(), { description: 'What the member shows others (the `presence.meta` option)' }),
  connections: Type.Integer({ minimum: 1, description: 'Its connections to the room, over every node' })
}, { title: 'PresenceMember', additionalProperties: false })

/** Querystring of `GET /ws/presence`. */
export const PresenceQuery = Type.Object({ room: RoomName }, { additionalProperties: false, examples: [{ room: 'general' }] })
export type PresenceQueryValue = Static<typeof PresenceQuery>

/** Body of a `GET /ws/presence` answer: the payload of `presence.state`. */
export const PresenceResponse = Type.Object({
  room: Type.String(),
  members: Type.Array(PresenceMember, { description: 'Every member, cluster-wide; empty for a room without presence' })
}, {
  title: 'PresenceState',
  description: 'Who is in a room (the payload of a `presence.state` frame)',
  examples: [{ room: 'general', members: [{ key: '"ada"', meta: { name: 'Ada' }, connections: 2 }] }]
})
