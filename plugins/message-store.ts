import fp from 'fastify-plugin'
// Brings in the FastifySchema fields the docs read (summary, description, tags).
import type {} from '@fastify/swagger'
import type { FastifyPluginAsync } from 'fastify'
import { ErrorCodes, ForbiddenError, InvalidOptionError } from '../lib/errors.js'
import { httpErrorOf } from '../lib/http-errors.js'
import type { Hub } from '../lib/hub.js'
import { checkInteger, checkPath, checkStringList } from '../lib/options.js'
import { Session, type Transport } from '../lib/session.js'
import { StorePersistence, type PersistFilter } from '../lib/store/persistence.js'
import { RetentionSweeper, type RetentionOptions } from '../lib/store/retention.js'
import { SqliteMessageStore, type SynchronousMode } from '../lib/store/sqlite.js'
import type { MessageStore, RetentionRule } from '../lib/store/types.js'
import { HistoryPageResponse, HistoryQuery, type HistoryQueryValue } from '../schemas/store.js'
import { ensureHub, type HubPluginOptions } from './hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The durable message store behind replay and `GET /ws/history`. */
    messageStore: MessageStore
  }
}

export interface MessageStoreOptions {
  /** SQLite database file (default `./data/messages.db`); its directory is created when missing. */
  path?: string
  /** A store instance to use instead of opening `path`; the app keeps ownership and closes it. */
  store?: MessageStore
  /** SQLite durability: NORMAL (default) survives a process crash, FULL also power loss. */
  synchronous?: SynchronousMode
  /** How long opening waits for a lock held by another connection, in ms (default 5000). */
  busyTimeout?: number
  /** Most messages one `room.join` replays (default 1000); further back answers `recovered: false`. */
  replayLimit?: number
  /** Retention per room; default keeps everything. */
  retention?: RetentionOptions
  /** Which messages are stored (default every room message). */
  persist?: PersistFilter
  /** Route of the history endpoint (default `/ws/history`). */
  historyPath?: string
}

export interface MessageStorePluginOptions extends MessageStoreOptions, HubPluginOptions {}

const defaults = { path: './data/messages.db', synchronous: 'NORMAL' as SynchronousMode, busyTimeout: 5000, replayLimit: 1000, historyPath: '/ws/history' }

function checkRule (name: string, rule: RetentionRule): void {
  if (rule.maxMessages !== undefined) checkInteger(`${name}.maxMessages`, rule.maxMessages, 1)
  if (rule.maxAge !== undefined) checkInteger(`${name}.maxAge`, rule.maxAge, 1)
}

function resolveOptions (options: MessageStoreOptions): typeof defaults & MessageStoreOptions {
  const resolved = { ...defaults, ...options }
  if (typeof resolved.path !== 'string' || resolved.path.length === 0) throw new InvalidOptionError('path', 'expected a non-empty file path')
  if (resolved.synchronous !== 'NORMAL' && resolved.synchronous !== 'FULL') throw new InvalidOptionError('synchronous', `expected "NORMAL" or "FULL", got ${JSON.stringify(resolved.synchronous)}`)
  checkInteger('busyTimeout', resolved.busyTimeout, 0)
  checkInteger('replayLimit', resolved.replayLimit, 1)
  checkPath('historyPath', resolved.historyPath)
  if (resolved.store !== undefined && (typeof resolved.store !== 'object' || typeof resolved.store.append !== 'function')) {
    throw new InvalidOptionError('store', 'expected a MessageStore instance')
  }
  const persist = resolved.persist
  if (persist !== undefined && typeof persist !== 'function') {
    if (typeof persist !== 'object' || persist === null) throw new InvalidOptionError('persist', 'expected a function or { rooms?, types? }')
    if (persist.rooms !== undefined) checkStringList('persist.rooms', persist.rooms)
    if (persist.types !== undefined) checkStringList('persist.types', persist.types)
  }
  const retention = resolved.retention
  if (retention !== undefined) {
    checkRule('retention', retention)
    if (retention.interval !== undefined) checkInteger('retention.interval', retention.interval, 1)
    if (retention.batchSize !== undefined) checkInteger('retention.batchSize', retention.batchSize, 1)
    for (const [room, rule] of Object.entries(retention.rooms ?? {})) checkRule(`retention.rooms.${room}`, rule)
  }
  return resolved
}

/** Who may read a room's history: whoever may join it. The request is checked as a detached session (not in the hub, sends dropped). */
async function authorizeRead (hub: Hub, request: unknown, room: string): Promise<void> {
  const identity = await hub.authenticate(request)
  const reader = new Session(historyTransport, { identity, maxBufferedAmount: Number.MAX_SAFE_INTEGER })
  try {
    await hub.authorizeJoin(reader, room)
  } catch (error) {
    if ((error as { code?: unknown }).code !== ErrorCodes.FORBIDDEN) throw error
    hub.report('forbidden')
    throw new ForbiddenError(`may not read room "${room}"`)
  }
}

const ignore = (): void => {}
const historyTransport: Transport = { name: 'http', send: ignore, bufferedAmount: () => 0, close: ignore, terminate: ignore }

const messageStorePluginImpl: FastifyPluginAsync<MessageStorePluginOptions> = async (fastify, options) => {
  const config = resolveOptions(options)
  const hub = await ensureHub(fastify, options)
  if (hub.persistence !== null) throw new InvalidOptionError('store', 'a message store is already plugged into this hub')
  const owned = config.store === undefined
  const store: MessageStore = config.store ?? new SqliteMessageStore({ path: config.path, synchronous: config.synchronous, busyTimeout: config.busyTimeout })
  hub.persistence = new StorePersistence(hub, store, { replayLimit: config.replayLimit, persist: config.persist })
  fastify.decorate('messageStore', store)

  const sweeper = config.retention === undefined ? undefined : new RetentionSweeper(store, config.retention, fastify.log)
  sweeper?.start()

  hub.lifecycle.add({
    name: 'message-store',
    order: 100,
    async finalize () {
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
        404: { $ref: 'VixErrorResponse#', description: 'No stored message with the `before` or `after` id in this room: unknown or pruned (VIX_ERR_MESSAGE_NOT_FOUND)' }
      }
    },
    // The same coded answers as the long-polling routes: a bad parameter is VIX_ERR_INVALID_REQUEST with its path.
    errorHandler: (error, request, reply) => {
      const answer = httpErrorOf(error, { bodyLimit: 0 })
      if (answer.statusCode >= 500) request.log.error({ err: error }, 'vix-realtime: history request failed')
      return reply.code(answer.statusCode).send(answer)
    },
    handler: async (request) => {
      const { room, before, after, limit } = request.query
      await authorizeRead(hub, request, room)
      return await store.listByRoom(room, { before, after, limit })
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
export const messageStorePlugin = fp(messageStorePluginImpl, { fastify: '5.x', name: 'vix-realtime-message-store' })
export default messageStorePlugin
