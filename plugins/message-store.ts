import fp from 'fastify-plugin'
// Brings in the FastifySchema fields the docs read (summary, description, tags).
import type {} from '@fastify/swagger'
import type { FastifyPluginAsync } from 'fastify'
import { InvalidOptionError } from '../lib/errors.js'
import { StorePersistence } from '../lib/store/persistence.js'
import { resolveMessageStoreOptions, type MessageStoreOptions } from '../lib/store/options.js'
import { RetentionSweeper } from '../lib/store/retention.js'
import { SqliteMessageStore } from '../lib/store/sqlite.js'
import { PostgresMessageStore } from '../lib/store/postgres.js'
import { watchPostgres } from '../lib/store/postgres-monitor.js'
import { openTransactions } from '../lib/store/transactional-setup.js'
import type { Hub } from '../lib/hub/hub.js'
import type { MessageStore } from '../lib/store/types.js'
import { HistoryPageResponse, HistoryQuery, type HistoryQueryValue } from '../schemas/store.js'
import { codedErrorHandler } from './http.js'
import { hubOfApp, partMeta, refuseHubOptions } from './hub.js'
import { encodePosition } from '../lib/position.js'

export type { MessageStoreOptions }

declare module 'fastify' {
  interface FastifyInstance {
    /** The durable message store behind replay and `GET /ws/history`. */
    messageStore: MessageStore
  }
}

export type MessageStorePluginOptions = MessageStoreOptions

async function openStore (config: ReturnType<typeof resolveMessageStoreOptions>, hub: Hub): Promise<MessageStore> {
  if (config.postgres === undefined) return new SqliteMessageStore({ path: config.path, synchronous: config.synchronous, busyTimeout: config.busyTimeout })
  const store = new PostgresMessageStore(typeof config.postgres === 'string' ? { connectionString: config.postgres, schema: config.schema } : { pool: config.postgres, schema: config.schema })
  // Opened lazily (the node stays up while PostgreSQL is down) unless failFast; readiness follows it.
  const monitor = await watchPostgres(store, hub.health, typeof config.postgres === 'string' ? config.postgres : undefined)
  hub.lifecycle.add({ name: 'postgres-monitor', order: 90, finalize () { monitor.stop() } })
  return store
}

const messageStorePluginImpl: FastifyPluginAsync<MessageStorePluginOptions> = async (fastify, options) => {
  refuseHubOptions('messageStorePlugin', options)
  const config = resolveMessageStoreOptions(options)
  const hub = hubOfApp(fastify)
  if (hub.persistence !== null) throw new InvalidOptionError('store', 'a message store is already plugged into this hub')
  const owned = config.store === undefined
  const store: MessageStore = config.store ?? await openStore(config, hub)
  const persistence = new StorePersistence(hub.persistenceParts(), store, { replayLimit: config.replayLimit, persist: config.persist, hold: config.hold })
  hub.attachPersistence(persistence)
  const transactional = openTransactions(store, persistence, hub.transactionalParts(), config.listen)
  fastify.decorate('messageStore', store)

  const sweeper = config.retention === undefined ? undefined : new RetentionSweeper(store, config.retention, fastify.log)
  sweeper?.start()

  hub.lifecycle.add({
    name: 'message-store',
    order: 100,
    async finalize () {
      persistence.close()
      await transactional?.close()
      await sweeper?.stop()
      // Transports finalized first (lower order), so this is the last commit.
      if (owned) await store.close()
      else await store.flush()
    }
  })

  fastify.route<{ Querystring: HistoryQueryValue }>({
    method: 'GET',
    url: config.historyPath,
    schema: {
      summary: 'Page through a room\'s stored history',
      description: 'Stored messages of a room, oldest first. Without `after` the page holds the newest messages (before `before` when given) and `hasMore` says older ones exist; with `after` it starts just after that id and `hasMore` says newer ones exist. Who may not join the room (`authorizeJoin`) may not read it. A client that got `recovered: false` on `room.join` catches up here.',
      tags: ['realtime'],
      querystring: HistoryQuery,
      response: {
        200: HistoryPageResponse,
        400: { $ref: 'VixErrorResponse#', description: 'Bad query parameter (VIX_ERR_INVALID_REQUEST, `path` names it)' },
        401: { $ref: 'VixErrorResponse#', description: 'Rejected by authenticate (VIX_ERR_UNAUTHORIZED)' },
        403: { $ref: 'VixErrorResponse#', description: 'Not allowed to join, so not to read, this room (VIX_ERR_FORBIDDEN)' },
        404: { $ref: 'VixErrorResponse#', description: 'No stored message with the `before` or `after` id in this room: unknown or pruned (VIX_ERR_MESSAGE_NOT_FOUND)' },
        503: { $ref: 'VixErrorResponse#', description: 'The message store (PostgreSQL) cannot be reached (VIX_ERR_STORE_UNAVAILABLE); retry' }
      }
    },
    // The same coded answers as the long-polling routes: a bad parameter is VIX_ERR_INVALID_REQUEST with its path.
    errorHandler: codedErrorHandler({ bodyLimit: 0 }, 'history request'),
    handler: async (request) => {
      const { room, before, after, limit } = request.query
      await hub.admission.authorizeRead(request, room)
      const { messages, epoch, hasMore } = await store.listByRoom(room, { before, after, limit })
      // A page with messages always has an epoch; each message gets its wire position.
      return { messages: messages.map(({ offset, message }) => epoch === null ? message : { ...message, pos: encodePosition(offset, epoch) }), hasMore }
    }
  })
}

/**
 * The durable message store: stores room messages before they are fanned out
 * and acked, replays them on `room.join` with `since`, and serves
 * `GET /ws/history`. Decorates `fastify.messageStore`.
 *
 * @example
 * await app.register(messageStorePlugin, { path: './data/messages.db', retention: { maxMessages: 10000 } })
 */
export const messageStorePlugin = fp(messageStorePluginImpl, partMeta('vix-realtime-message-store'))
export default messageStorePlugin
