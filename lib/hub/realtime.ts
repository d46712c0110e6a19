import type { Static, TSchema } from '@sinclair/typebox'
import type { Readiness } from '../health.js'
import type { PublishInput, RealtimeMessage } from '../frames.js'
import type { ShutdownParticipant } from '../lifecycle.js'
import type { PresenceMember } from '../presence/presence.js'
import type { RoomEvents } from '../rooms.js'
import { Session } from '../session.js'
import { transactionsOf } from '../store/transactional.js'
import type { ControlOptions, ControlResult, ControlTarget, DisconnectOptions } from './control.js'
import type { Hub } from './hub.js'
import type { CatalogueEntry, CloseHandler, ErrorHandler, HubObserver, InboundMessage, OpenHandler, RawHandler, RecipientResolver, RequestHandler, RequestOptions, TypedHandler, TypeOptions } from './types.js'

/** The rooms of this node, read-only: join and leave go through `join()` / `leave()` or the client's `room.join`. */
export interface RoomsView {
  /** Rooms with at least one member on this node. */
  readonly count: number
  /** Their names. */
  names: () => string[]
  has: (room: string) => boolean
  /** Members of `room` on this node (0 when it has none). */
  size: (room: string) => number
  /** The sessions in `room` on this node. */
  members: (room: string) => Session[]
  /** Listen to `created` / `deleted` (a room's first member came, its last left) and `joined` / `left` (`(room, session)`). */
  on: <E extends keyof RoomEvents>(event: E, listener: (...args: RoomEvents[E]) => void) => RoomsView
  off: <E extends keyof RoomEvents>(event: E, listener: (...args: RoomEvents[E]) => void) => RoomsView
}

/** Two-phase shutdown, as `app.close()` runs it: what an application may add to it or start early. */
export interface LifecycleView {
  /** True once `requestStop()` ran (Fastify's `preClose`): no new sessions, clients told to reconnect elsewhere. */
  readonly stopping: boolean
  /** Add a participant: `requestStop` runs in phase one, `finalize` in phase two, in `order` (transports 0, broker 50, store 100, metrics 200). */
  add: (participant: ShutdownParticipant) => void
  /** Phase one now, before `app.close()` (e.g. on SIGTERM while a load balancer drains): idempotent. */
  requestStop: () => void
  /** Phase two (what `app.close()` runs after phase one), for an app that embeds the hub without closing Fastify: idempotent. */
  finalizeShutdown: () => Promise<void>
}

/** What `publishIn` takes on SQLite: the better-sqlite3 database that `transaction` hands over. */
export interface SqliteHandle { inTransaction: boolean, prepare: (...args: any[]) => unknown }

/** What `publishIn` takes on PostgreSQL: a `pg` client (or pool client) inside its transaction. */
export interface PostgresHandle { query: (...args: any[]) => unknown }

const hubs = new WeakMap<Realtime, Hub>()

/**
 * The hub behind a facade, for the plugins of this package (and their
 * tests). Not exported from the package: applications use the facade.
 */
export function hubOf (realtime: Realtime): Hub {
  return hubs.get(realtime) as Hub
}

/**
 * `app.realtime`: what an application does with the realtime layer, and
 * nothing else. Every member is documented in docs/server-api.md (a test
 * checks it); the parts behind it (router, pipeline, store, transports) are
 * not reachable from here.
 *
 * @example
 * app.realtime.on('chat.message', { schema: ChatMessage }, (session, msg) => { ... })
 * await app.realtime.publish({ room: 'general', type: 'news', payload: { text: 'Deploy at 5' } })
 */
export class Realtime {
  readonly #hub: Hub
  readonly #sessions: ReadonlyMap<string, Session>

  /** The rooms of this node, read-only. */
  readonly rooms: RoomsView

  /** Two-phase shutdown: add a participant, or start phase one early. */
  readonly lifecycle: LifecycleView

  constructor (hub: Hub) {
    this.#hub = hub
    this.#sessions = readonlyMap(hub.sessions)
    hubs.set(this, hub)
    const { rooms, lifecycle } = hub
    const view: RoomsView = Object.freeze({
      get count () { return rooms.count },
      names: () => rooms.names(),
      has: (room: string) => rooms.has(room),
      size: (room: string) => rooms.size(room),
      members: (room: string) => [...rooms.sessionsIn(room) ?? []],
      on: <E extends keyof RoomEvents>(event: E, listener: (...args: RoomEvents[E]) => void) => { rooms.on(event, listener as any); return view },
      off: <E extends keyof RoomEvents>(event: E, listener: (...args: RoomEvents[E]) => void) => { rooms.off(event, listener as any); return view }
    })
    this.rooms = view
    this.lifecycle = Object.freeze({
      get stopping () { return lifecycle.stopping },
      add: (participant: ShutdownParticipant) => { lifecycle.add(participant) },
      requestStop: () => { lifecycle.requestStop() },
      finalizeShutdown: async () => { await lifecycle.finalizeShutdown() }
    })
  }

  /** This node's id (the `nodeId` option): in envelopes, presence and logs. */
  get nodeId (): string {
    return this.#hub.nodeId
  }

  /** The open sessions of this node by id, read-only (WebSocket and long polling alike). */
  get sessions (): ReadonlyMap<string, Session> {
    return this.#sessions
  }

  /**
   * Handle a typed message. With `{ schema }` the payload is validated before
   * any handler runs and the type is documented in the catalogue. With
   * `{ reply }` the type is a request: it must carry an `id`, the handler's
   * return value (or resolved promise) is the reply, sent in the ack's
   * `payload.reply` and checked against `reply` unless `NODE_ENV` is
   * `production`; a repeated id is answered again, never run twice.
   *
   * @example
   * app.realtime.on('room.members', { schema: Type.Object({ room: Type.String() }), reply: Type.Object({ names: Type.Array(Type.String()) }) },
   *   (session, msg) => ({ names: app.realtime.rooms.members(msg.payload.room).map((s) => s.id) }))
   */
  on<S extends TSchema, R extends TSchema>(type: string, options: RequestOptions<S, R>, handler: RequestHandler<Static<S>, Static<R>>): this
  on<S extends TSchema>(type: string, options: TypeOptions<S>, handler?: TypedHandler<Static<S>>): this
  on (type: string, handler: TypedHandler): this
  on (type: string, optionsOrHandler: TypedHandler | TypeOptions, maybeHandler?: TypedHandler<any>): this {
    if (typeof optionsOrHandler === 'function') this.#hub.on(type, optionsOrHandler)
    else this.#hub.on(type, optionsOrHandler, maybeHandler)
    return this
  }

  /** Raw frames: text that is not a typed message, binary frames, and (flagged `typed`) typed ones too. */
  onMessage (handler: RawHandler): this { this.#hub.onMessage(handler); return this }
  /** A session opened (after `authenticate`), on any transport. */
  onOpen (handler: OpenHandler): this { this.#hub.onOpen(handler); return this }
  /** A session closed, with its close code and reason. */
  onClose (handler: CloseHandler): this { this.#hub.onClose(handler); return this }
  /** A handler threw or a socket failed. */
  onError (handler: ErrorHandler): this { this.#hub.onError(handler); return this }

  /** Publish from server code: validated envelope, stored when persisted, delivered, distributed; resolves once delivered locally. */
  async publish (input: PublishInput, options: { except?: Session | string } = {}): Promise<RealtimeMessage> {
    return await this.#hub.publish(input, options)
  }

  /**
   * Publish inside the application's own transaction: on the `db` that `transaction` hands over (SQLite,
   * synchronous), or on the application's `pg` client after its `BEGIN` (PostgreSQL, a promise). The envelope
   * is checked as `publish()` checks it, before anything is written; the message is stored in that transaction
   * with its room offset and delivered to every member, on every node, once and only if it commits.
   */
  publishIn (db: SqliteHandle, input: PublishInput): RealtimeMessage
  publishIn (client: PostgresHandle, input: PublishInput): Promise<RealtimeMessage>
  publishIn (handle: SqliteHandle | PostgresHandle, input: PublishInput): RealtimeMessage | Promise<RealtimeMessage> {
    return transactionsOf(this.#hub.persistence).publishIn(handle, input)
  }

  /**
   * Run `run` in a transaction on the store's database and answer what it returns: PostgreSQL, `BEGIN` ...
   * `COMMIT` on a connection of the store's pool, rolled back when `run` throws (`run` is async); SQLite, a
   * synchronous `BEGIN IMMEDIATE` transaction. What `publishIn` published in it is delivered after the commit.
   * Annotate the parameter for its type: `(client: pg.PoolClient) => ...`, `(db: Database.Database) => ...`.
   */
  transaction<T, H = any> (run: (handle: H) => T): T {
    return transactionsOf(this.#hub.persistence).transaction(run) as T
  }

  /** Publish a client's message to a room it has joined, as a relay type does (schema, `authorizePublish`). */
  async relay (session: Session, message: InboundMessage): Promise<RealtimeMessage> {
    return await this.#hub.relay(session, message)
  }

  /** Server-side join: no authorization, no ack, no replay. */
  join (session: Session, room: string): boolean {
    return this.#hub.join(session, room)
  }

  /**
   * Server-side leave of one session of this node; or, given `{ identity }`,
   * of every session of that identity on every node (each sent `room.left`),
   * resolving with how many each node took out (see `disconnect` for `options`).
   */
  leave (session: Session, room: string): boolean
  leave (target: { identity: unknown }, room: string, options?: ControlOptions): Promise<ControlResult>
  leave (target: Session | { identity: unknown }, room: string, options?: ControlOptions): boolean | Promise<ControlResult> {
    if (target instanceof Session) return this.#hub.leave(target, room)
    return this.#hub.control.leave(target, room, options)
  }

  /**
   * Close the sessions of an identity (`{ identity }`) or one session
   * (`{ session: id }`) on every node, each sent `session.closed`
   * `{ code, reason, reconnect }` then closed with `code` (4000 to 4999,
   * default 4000); a client told `reconnect: false` stays closed. Resolves
   * with how many sessions each node closed, once `options.nodes` nodes
   * answered or after `options.timeout` ms (default 1000). Idempotent:
   * a second call finds nothing left to close.
   */
  async disconnect (target: ControlTarget, options: DisconnectOptions = {}): Promise<ControlResult> {
    return await this.#hub.control.disconnect(target, options)
  }

  /** How many sessions `identity` has open, per node and in all (waits like `disconnect`). */
  async connections (target: { identity: unknown }, options: ControlOptions = {}): Promise<ControlResult> {
    return await this.#hub.control.connections(target, options)
  }

  getSession (id: string): Session | undefined {
    return this.#hub.getSession(id)
  }

  /** The members of a presence room across the cluster: `[]` when presence is off or the room has none. */
  presence (room: string): PresenceMember[] {
    return this.#hub.presence(room)
  }

  /** The documented message catalogue: types with a registered schema, and relay types. */
  catalogue (): CatalogueEntry[] {
    return this.#hub.catalogue()
  }

  /** Extra recipients of room messages (beyond the members); returns a function that removes it. */
  addRecipientResolver (resolve: RecipientResolver): () => void {
    return this.#hub.addRecipientResolver(resolve)
  }

  /** Hooks called on sessions, messages, errors, the store and the broker (what the metrics count); returns a function that removes it. */
  addObserver (observer: HubObserver): () => void {
    return this.#hub.addObserver(observer)
  }

  /** Whether this node is ready (dependencies up, not stopping), as `GET /ws/ready` answers. */
  readiness (): Readiness {
    return this.#hub.health.readiness()
  }
}

/** A read-only view of `map` that cannot be cast back to the map. */
function readonlyMap<K, V> (map: Map<K, V>): ReadonlyMap<K, V> {
  const view: ReadonlyMap<K, V> = Object.freeze({
    get size () { return map.size },
    get: (key: K) => map.get(key),
    has: (key: K) => map.has(key),
    keys: () => map.keys(),
    values: () => map.values(),
    entries: () => map.entries(),
    forEach: (callback: (value: V, key: K, of: ReadonlyMap<K, V>) => void) => { for (const [key, value] of map) callback(value, key, view) },
    [Symbol.iterator]: () => map.entries()
  })
  return view
}
