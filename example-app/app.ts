import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import { demoIdentity, demoIdentityKey, demoPublicInfo } from './identity.js'
import { registerChatPage } from './static.js'
import { registerRoomTopics } from './topics.js'
import { demoTokensFromEnv, registerDemoTokens, tokenIdentity } from './tokens.js'
import vixRealtime, { brokerFromEnv, codedError, errorFrame, ErrorCodes, limitsFromEnv, loadConfigFromEnv, redactSessionId, secretFromEnv } from '../plugins/index.js'

/** Payload of the example's chat message, validated on every frame and documented. */
export const ChatMessagePayload = Type.Object({
  text: Type.String({ minLength: 1, maxLength: 2000 })
}, { additionalProperties: false })

/** `room.who`: who is in a room the session has joined (the chat page's `/who`). */
export const WhoRequest = Type.Object({ room: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false })
export const WhoReply = Type.Object({ room: Type.String(), members: Type.Array(Type.String()) })

export interface ExampleConfig {
  env?: Record<string, string | undefined>
  logger?: boolean
  /** Where log lines go (default stdout); tests read them from here. */
  logStream?: { write: (line: string) => void }
}

/** `VIX_FAIL_FAST`: 1/true/yes/on or 0/false/no/off (default off); anything else fails boot naming the variable. */
function failFastFromEnv (env: Record<string, string | undefined>): boolean {
  const raw = env.VIX_FAIL_FAST?.trim().toLowerCase()
  if (raw === undefined || raw === '' || ['0', 'false', 'no', 'off'].includes(raw)) return false
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  throw new Error(`Invalid environment variable VIX_FAIL_FAST=${env.VIX_FAIL_FAST as string}: expected 1 or 0 (true or false)`)
}

const nonEmpty = (value: string | undefined): string | undefined => value === undefined || value === '' ? undefined : value

/** Log requests without the long-poll session secret in the URL. */
function loggerOptions (config: ExampleConfig): FastifyServerOptions['logger'] {
  if (config.logger !== true) return false
  return {
    stream: config.logStream,
    serializers: {
      req: (request) => ({ method: request.method, url: redactSessionId(request.url), remoteAddress: request.ip })
    }
  }
}

/**
 * The example chat app: the chat page at `/` (example-app/public), where a
 * user picks a name (`?name=` on connect, the session's identity; without
 * it a guest) and a room; `chat.message` is relayed to the room the client joined
 * (sender included) and stored in SQLite at `VIX_STORE_PATH` (default
 * `./data/messages.db`), messages with an `id` are acked, a raw text frame is
 * echoed, and any other type gets `VIX_ERR_UNKNOWN_TYPE`. With `VIX_PUBLISH_KEY`
 * set, `POST /ws/send` without a session publishes for whoever sends
 * `Authorization: Bearer <key>`; without it, server-side publish is off.
 * With `REDIS_URL` (and `VIX_REDIS_PREFIX`) nodes fan out over Redis, or with
 * `NATS_URL` (and `VIX_NATS_PREFIX`) over NATS, and with
 * `DATABASE_URL` (and `VIX_PG_SCHEMA`) they share their history in PostgreSQL.
 * Limits are on: `VIX_MAX_CONNECTIONS_PER_IP` (default 50, WebSocket and
 * long-poll sessions together) and `VIX_RATE_LIMIT` / `VIX_RATE_BURST`
 * (default 20 messages/s per session, burst 40); `off` turns one off.
 * `room.topic.set` changes a room's topic, stored in a table of the app's own
 * and announced (`room.topic`) in the same transaction (example-app/topics.ts).
 * While Redis, NATS or PostgreSQL is unreachable the node stays up, answers
 * `GET /ws/ready` 503 and retries; `VIX_FAIL_FAST=1` makes boot fail instead.
 */
export async function buildExampleApp (config: ExampleConfig = {}): Promise<FastifyInstance> {
  const env = config.env ?? process.env
  const realtimeConfig = loadConfigFromEnv(env)
  const app = Fastify({ logger: loggerOptions(config) })
  // Checked here, so a short key fails boot naming VIX_PUBLISH_KEY rather than the option it becomes.
  const publishKey = secretFromEnv(env, 'VIX_PUBLISH_KEY')
  // VIX_DEMO_TOKEN_TTL: demo tokens that expire (GET /demo/token, ?token=, auth.refresh, whoami).
  const tokens = demoTokensFromEnv(env)
  await app.register(vixRealtime, {
    relayTypes: ['chat.message'],
    // Demo identity: the name in `?name=` (anyone may claim any name); a real app checks a token or a cookie here.
    authenticate: tokens === undefined ? demoIdentity : tokenIdentity(tokens),
    identityKey: demoIdentityKey,
    // The name beside each message comes from the server's view of the sender, never from the payload.
    senderInfo: (session) => demoPublicInfo(session.identity),
    // Who is in each room, shown by the chat page.
    presence: { rooms: 'all', meta: demoPublicInfo },
    limits: limitsFromEnv(env, { maxConnectionsPerIp: 50, rate: 20, burst: 40 }),
    // VIX_FAIL_FAST=1: boot fails when Redis, NATS or PostgreSQL cannot be reached, instead of staying up (503 on /ws/ready) and retrying.
    failFast: failFastFromEnv(env),
    websocket: realtimeConfig.websocket,
    // Server-side publish (POST /ws/send without a session) only with the bearer key.
    longPolling: { ...realtimeConfig.longPolling, serverPublish: publishKey === undefined ? undefined : { key: publishKey } },
    // Several nodes: REDIS_URL, REDIS_URLS, REDIS_CLUSTER or NATS_URL fans out between them, DATABASE_URL shares their history. Unset: one node, SQLite.
    broker: brokerFromEnv(env),
    store: nonEmpty(env.DATABASE_URL) === undefined
      ? { path: env.VIX_STORE_PATH ?? './data/messages.db' }
      // listen: messages published in a transaction (the room topics) reach every node through PostgreSQL's NOTIFY.
      : { postgres: env.DATABASE_URL as string, schema: nonEmpty(env.VIX_PG_SCHEMA), listen: true }
  })
  // Room topics: a table of the app's own, changed and announced in one transaction.
  registerRoomTopics(app, nonEmpty(env.DATABASE_URL) === undefined ? undefined : nonEmpty(env.VIX_PG_SCHEMA) ?? 'public')
  app.realtime.on('chat.message', { schema: ChatMessagePayload, description: 'A chat line, relayed to the room' })
  // A request with a reply: the chat page's `/who` asks who is in the room (across every node, from presence).
  app.realtime.on('room.who', { schema: WhoRequest, reply: WhoReply, description: 'Who is in a room the session has joined: member names, sorted' }, (session, { payload: { room } }) => {
    if (!session.rooms.has(room)) throw codedError(ErrorCodes.NOT_IN_ROOM, `join ${room} first`)
    const names = app.realtime.presence(room).map((member) => String(member.meta.name ?? 'guest'))
    return { room, members: names.sort() }
  })
  app.realtime.onMessage((session, data, info) => {
    if (info.typed) return
    if (info.binary) {
      session.send(errorFrame(ErrorCodes.INVALID_MESSAGE, 'binary frames are not supported by this app'))
      return
    }
    session.sendSerialized(`echo: ${String(data)}`)
  })
  if (tokens !== undefined) registerDemoTokens(app, tokens)
  await registerChatPage(app)
  return app
}
