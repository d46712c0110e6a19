import { randomBytes } from 'node:crypto'
import type { TSchema } from '@sinclair/typebox'
import { JsonMessage } from '../../schemas/message.js'
import type { Broker } from '../broker/types.js'
import type { LimitsOptions } from '../limits/options.js'
import { InvalidOptionError } from '../errors.js'
import { defaultIdentityKey, type Expiring } from '../identity.js'
import { checkInteger, checkOptionalFunction, checkOptionKeys, checkStringList, type OptionShape } from '../options.js'
import { resolvePresenceOptions, type PresenceOptions, type ResolvedPresenceOptions } from '../presence/options.js'
import type { Identity, Session } from '../session.js'
import { systemClock, type Clock } from './expiry.js'
import type { ReplyCacheOptions } from './replies.js'
import type { InboundMessage, Logger } from './types.js'

/** What `authenticate` returns to reject a client (401). */
export type Rejection = null | undefined | false

/** The hub's options; `Request` is what `authenticate` is given (the plugins give a `FastifyRequest`). */
export interface HubOptions<Request = unknown> {
  /** Types a client may publish to a room it has joined (relayed to every member, sender included). */
  relayTypes?: string[]
  /** Answer typed messages nobody handles with `VIX_ERR_UNKNOWN_TYPE` (default true). */
  rejectUnknownTypes?: boolean
  /** Close a session 1013 when more than this many bytes wait in its send buffer (default 1 MiB). */
  maxBufferedAmount?: number
  /**
   * Frames of one session waiting to be processed, or in the publish pipeline, at most
   * (default 1024). Past it a WebSocket is closed 1008 and an HTTP send answers 429.
   */
  maxQueuedFrames?: number
  /**
   * Resolve the identity of a connecting client; `null`, `undefined`, `false` or a throw rejects it (401).
   * A token that expires returns `{ identity, expiresAt }` (exactly those two keys; ms since the epoch or a
   * Date): the session is sent `session.expiring` before it, and closed `4001` (`VIX_ERR_TOKEN_EXPIRED`)
   * `tokenGrace` ms after it unless an `auth.refresh` renews it.
   */
  authenticate?: (request: Request) => Identity | Expiring<Identity> | Rejection | Promise<Identity | Expiring<Identity> | Rejection>
  /**
   * Check the token of an `auth.refresh` (return like `authenticate`; the identity key must stay the same).
   * Default: `authenticate` given `{ headers: { authorization: 'Bearer <token>' }, query: { token }, refresh: true, session }`.
   */
  refresh?: (session: Session, token: string) => Identity | Expiring<Identity> | Rejection | Promise<Identity | Expiring<Identity> | Rejection>
  /** How long past its `expiresAt` a session waits for an `auth.refresh` before it is closed, ms (default 25000). */
  tokenGrace?: number
  /** The clock of token expiry (`now`, `setTimeout`, `clearTimeout`): a fake one in tests. Default: real time. */
  clock?: Clock
  /** Who is the same client: sessions with one key share a long-poll binding (and, later, caps and presence). Default: the identity's JSON. */
  identityKey?: (identity: Identity) => string | undefined
  /** May this session join this room? (default: yes) */
  authorizeJoin?: (session: Session, room: string) => boolean | Promise<boolean>
  /** May this session (null: server-side HTTP publish) publish this message? (default: yes) */
  authorizePublish?: (session: Session | null, message: InboundMessage) => boolean | Promise<boolean>
  /**
   * What is public about the sender of a client's message: stamped as its `from` (a JSON object of at
   * most 1 KiB, e.g. `{ name }`), delivered, distributed and stored with it. Never the session id.
   * Default: none, and messages carry no `from`.
   */
  senderInfo?: (session: Session) => Record<string, unknown> | undefined
  /** The envelope schema every typed frame is validated against (default `JsonMessage`). */
  messageSchema?: TSchema
  /** How long shutdown waits for peers before forcing them, in ms (default 10000). */
  shutdownTimeout?: number
  /** `retryAfterMs` told to every client (WebSocket and long polling) in `server.going_away` on shutdown (default 1000). */
  goingAwayRetryAfter?: number
  /** Distributes messages to other nodes (default: an in-process broker, which distributes nothing). */
  broker?: Broker
  /** Who is in each room (DESIGN §2 "Presence"): off unless given. */
  presence?: PresenceOptions
  /** This node's id in envelopes (default: random). */
  nodeId?: string
  /** Connection caps, rates and room caps (see `LimitsOptions`); every one is off unless given. */
  limits?: LimitsOptions
  /**
   * Boot fails with `VIX_ERR_DEPENDENCY_UNAVAILABLE` when Redis (`broker.redis`) or PostgreSQL
   * (`store.postgres`) cannot be reached (default false: the node boots, answers `GET /ws/ready`
   * 503 and retries until they come up).
   */
  failFast?: boolean
  /**
   * Replies of recent requests (`on(type, { reply })`), so a request id sent again (a resend
   * after a reconnect) is answered, never run twice: `size` requests at most (default 10000,
   * the oldest forgotten first), each answering repeats for `ttl` ms after it ran (default 60000).
   */
  replyCache?: { size?: number, ttl?: number }
  logger?: Logger
}

/** The hub's options with every default filled in. */
export type ResolvedHubOptions = Required<Omit<HubOptions, 'authenticate' | 'authorizeJoin' | 'authorizePublish' | 'senderInfo' | 'broker' | 'logger' | 'presence' | 'replyCache' | 'refresh'>> &
  Pick<HubOptions, 'authenticate' | 'authorizeJoin' | 'authorizePublish' | 'senderInfo' | 'broker' | 'logger' | 'refresh'> & { presence: ResolvedPresenceOptions | undefined, replyCache: ReplyCacheOptions }

/** The option names that belong to the hub (the umbrella passes them on; a part must not take them). */
export const hubOptionNames = [
  'relayTypes', 'rejectUnknownTypes', 'maxBufferedAmount', 'maxQueuedFrames', 'authenticate', 'identityKey',
  'authorizeJoin', 'authorizePublish', 'senderInfo', 'messageSchema', 'shutdownTimeout', 'goingAwayRetryAfter', 'broker', 'nodeId', 'limits', 'presence', 'failFast', 'replyCache',
  'refresh', 'tokenGrace', 'clock'
] as const satisfies ReadonlyArray<keyof HubOptions>

/**
 * The keys of the hub plugin's options (`HubOptions` but `logger`, which the
 * plugin sets): any other fails boot. `limits` and `presence` are
 * looked into by their own resolvers (under the same names), `broker` and
 * `messageSchema` are objects of their own.
 */
export const hubOptionShape = Object.fromEntries(hubOptionNames.map((name) => [name, true])) as Record<(typeof hubOptionNames)[number], true> satisfies OptionShape

/** Types the server itself speaks: never a relay type, never published from outside. */
export function isReservedType (type: string): boolean {
  return type === 'room.join' || type === 'room.leave' || type === 'auth.refresh' || type.startsWith('session.') || type === 'error' || type.startsWith('server.') || type.startsWith('presence.')
}

const defaults = {
  relayTypes: [] as string[],
  rejectUnknownTypes: true,
  maxBufferedAmount: 1024 * 1024,
  maxQueuedFrames: 1024,
  identityKey: defaultIdentityKey,
  messageSchema: JsonMessage as TSchema,
  shutdownTimeout: 10_000,
  goingAwayRetryAfter: 1000,
  limits: {} as LimitsOptions,
  failFast: false,
  tokenGrace: 25_000,
  clock: systemClock
}

const replyCacheDefaults: ReplyCacheOptions = { size: 10_000, ttl: 60_000 }

/** The `replyCache` option: `size` 1 to 1000000 requests, `ttl` 1000 ms to one day. */
function resolveReplyCache (options: HubOptions['replyCache'] = {}): ReplyCacheOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('replyCache', 'expected { size?, ttl? }')
  checkOptionKeys(options, { size: true, ttl: true }, 'replyCache')
  const resolved = { ...replyCacheDefaults, ...options }
  return {
    size: checkInteger('replyCache.size', resolved.size, 1, 1_000_000),
    ttl: checkInteger('replyCache.ttl', resolved.ttl, 1000, 86_400_000)
  }
}

/** Resolve defaults in one spread and check every option; a bad one throws `VIX_ERR_INVALID_OPTION`. */
export function resolveHubOptions (options: HubOptions = {}): ResolvedHubOptions {
  checkOptionKeys(options, { ...hubOptionShape, logger: true })
  const resolved = { ...defaults, nodeId: randomBytes(8).toString('hex'), ...options }
  checkStringList('relayTypes', resolved.relayTypes)
  const reserved = resolved.relayTypes.find(isReservedType)
  if (reserved !== undefined) throw new InvalidOptionError('relayTypes', `"${reserved}" is a type the server itself sends`)
  if (typeof resolved.failFast !== 'boolean') throw new InvalidOptionError('failFast', 'expected a boolean')
  if (typeof resolved.rejectUnknownTypes !== 'boolean') throw new InvalidOptionError('rejectUnknownTypes', 'expected a boolean')
  checkInteger('maxBufferedAmount', resolved.maxBufferedAmount, 1)
  checkInteger('maxQueuedFrames', resolved.maxQueuedFrames, 1)
  checkInteger('shutdownTimeout', resolved.shutdownTimeout, 0)
  checkInteger('goingAwayRetryAfter', resolved.goingAwayRetryAfter, 0)
  checkInteger('tokenGrace', resolved.tokenGrace, 0, 86_400_000)
  checkOptionalFunction('refresh', resolved.refresh)
  if (typeof resolved.clock?.now !== 'function' || typeof resolved.clock.setTimeout !== 'function') throw new InvalidOptionError('clock', 'expected { now, setTimeout, clearTimeout }')
  if (resolved.messageSchema.$id !== JsonMessage.$id) {
    throw new InvalidOptionError('messageSchema', `must keep $id "${JsonMessage.$id as string}" so HTTP routes and docs use it`)
  }
  checkOptionalFunction('authenticate', resolved.authenticate)
  checkOptionalFunction('identityKey', resolved.identityKey)
  checkOptionalFunction('authorizeJoin', resolved.authorizeJoin)
  checkOptionalFunction('authorizePublish', resolved.authorizePublish)
  checkOptionalFunction('senderInfo', resolved.senderInfo)
  if (typeof resolved.nodeId !== 'string' || resolved.nodeId.length === 0) throw new InvalidOptionError('nodeId', 'expected a non-empty string')
  const broker = resolved.broker as unknown
  if (broker !== undefined && (typeof broker !== 'object' || broker === null || typeof (broker as { publish?: unknown }).publish !== 'function')) {
    throw new InvalidOptionError('broker', 'expected a Broker (start, publish, subscribe, unsubscribe, close)')
  }
  return { ...resolved, presence: resolvePresenceOptions(resolved.presence), replyCache: resolveReplyCache(resolved.replyCache) }
}

function same (a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => item === b[i])
  return a === b
}

/**
 * The name of the first hub option in `options` that differs from the hub's
 * (given at its registration), or undefined when they agree. Hub options are
 * taken once: a second, different set fails boot instead of being dropped.
 */
export function conflictingHubOption (registered: Partial<Record<keyof HubOptions, unknown>>, options: Record<string, unknown>): string | undefined {
  return hubOptionNames.find((name) => options[name] !== undefined && !same(options[name], registered[name]))
}
