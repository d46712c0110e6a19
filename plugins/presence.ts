import fp from 'fastify-plugin'
// Brings in the FastifySchema fields the docs read (summary, description, tags).
import type {} from '@fastify/swagger'
import type { FastifyPluginAsync } from 'fastify'
import { InvalidOptionError } from '../lib/errors.js'
import { checkOptionKeys, checkPath } from '../lib/options.js'
import { PresenceQuery, PresenceResponse, type PresenceQueryValue } from '../schemas/presence.js'
import { codedErrorHandler } from './http.js'
import { hubOfApp, partMeta, refuseHubOptions } from './hub.js'

export interface PresencePluginOptions {
  /** The route of the members of a room (default `/ws/presence`). */
  path?: string
}

const presencePluginImpl: FastifyPluginAsync<PresencePluginOptions> = async (fastify, options) => {
  refuseHubOptions('presencePlugin', options)
  checkOptionKeys(options, { path: true })
  const path = checkPath('path', options.path ?? '/ws/presence')
  const hub = hubOfApp(fastify)
  if (hub.presenceTracker === undefined) throw new InvalidOptionError('presence', 'presencePlugin needs the hub option `presence`')
  fastify.route<{ Querystring: PresenceQueryValue }>({
    method: 'GET',
    url: path,
    schema: {
      summary: 'Who is in a room',
      description: 'The members of a presence room across the cluster, as a `presence.state` frame has them. Authorized like `GET /ws/history`: who may not join the room (`authorizeJoin`) may not read it.',
      tags: ['realtime'],
      querystring: PresenceQuery,
      response: {
        200: PresenceResponse,
        400: { $ref: 'VixErrorResponse#', description: 'Bad query parameter (VIX_ERR_INVALID_REQUEST, `path` names it)' },
        401: { $ref: 'VixErrorResponse#', description: 'Rejected by authenticate (VIX_ERR_UNAUTHORIZED)' },
        403: { $ref: 'VixErrorResponse#', description: 'Not allowed to join, so not to read, this room (VIX_ERR_FORBIDDEN)' }
      }
    },
    errorHandler: codedErrorHandler({ bodyLimit: 0 }, 'presence request'),
    handler: async (request) => {
      const { room } = request.query
      await hub.admission.authorizeRead(request, room)
      return { room, members: hub.presence(room) }
    }
  })
}

/**
 * `GET /ws/presence?room=R`: the members of a presence room over HTTP. The
 * umbrella registers it when the hub option `presence` is given.
 *
 * @example
 * await app.register(hubPlugin, { presence: { rooms: 'all' } })
 * await app.register(presencePlugin)
 */
export const presencePlugin = fp(presencePluginImpl, partMeta('vix-realtime-presence'))
export default presencePlugin
