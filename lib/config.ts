import { InvalidEnvError } from './errors.js'
import { redactCredentials } from './redact.js'
import type { LimitsOptions } from './limits/options.js'
import { longPollingDefaults, type LongPollingOptions } from './long-polling/options.js'
import { websocketDefaults, type WebSocketOptions } from './websocket/options.js'

export interface EnvConfig {
  websocket: Required<Pick<WebSocketOptions, 'maxMessageSize' | 'idleTimeout' | 'pingInterval' | 'perMessageDeflate' | 'autoPingPong'>>
  longPolling: Required<Pick<LongPollingOptions, 'sessionTtl' | 'maxBuffer' | 'wait'>>
}

type Env = Record<string, string | undefined>

/** What an integer variable counts, how it maps to the option (`scale`) and the largest sane value, in that unit. */
interface Unit { name: string, scale: number, max: number }

const seconds = (max: number): Unit => ({ name: 'seconds', scale: 1000, max })
const count = (name: string, max: number): Unit => ({ name, scale: 1, max })

/**
 * Bounds of the documented variables, in the variable's own unit. A value past
 * one is a mistake, most often milliseconds given where seconds are expected
 * (`LONGPOLL_WAIT=25000` would hold polls for about seven hours): refused.
 */
const units = {
  WEBSOCKET_MAX_MESSAGE_SIZE: count('bytes', 100 * 1024 * 1024),
  WEBSOCKET_IDLE_TIMEOUT: seconds(3600),
  WEBSOCKET_PING_INTERVAL: seconds(3600),
  LONGPOLL_SESSION_TTL: seconds(86_400),
  LONGPOLL_MAX_BUFFER: count('frames', 1_000_000),
  LONGPOLL_WAIT: seconds(300),
  VIX_MAX_CONNECTIONS_PER_IP: count('connections', 1_000_000),
  VIX_RATE_LIMIT: count('messages per second', 1_000_000),
  VIX_RATE_BURST: count('messages', 1_000_000)
} satisfies Record<string, Unit>

function readInteger (env: Env, name: keyof typeof units, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const unit: Unit = units[name]
  const expected = `expected a whole number of ${unit.name} from 1 to ${unit.max}`
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new InvalidEnvError(name, raw, expected)
  if (Number(raw) > unit.max) {
    const hint = unit.name === 'seconds' ? ` (${name} is in seconds, not milliseconds)` : ''
    throw new InvalidEnvError(name, raw, `${expected}${hint}`)
  }
  return Number(raw) * unit.scale
}

function readBoolean (env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off'].includes(value)) return false
  throw new InvalidEnvError(name, raw, 'expected true or false')
}

/**
 * Map the documented environment variables to plugin options. Durations in
 * the environment are seconds; options are milliseconds. A bad value throws
 * `VIX_ERR_INVALID_ENV` naming the variable and its unit; so does a value past
 * a sane bound (e.g. `LONGPOLL_WAIT` over 300 seconds).
 *
 * @example
 * await app.register(vixRealtime, { ...loadConfigFromEnv(process.env) })
 */
export function loadConfigFromEnv (env: Env = process.env): EnvConfig {
  return {
    websocket: {
      maxMessageSize: readInteger(env, 'WEBSOCKET_MAX_MESSAGE_SIZE', websocketDefaults.maxMessageSize),
      idleTimeout: readInteger(env, 'WEBSOCKET_IDLE_TIMEOUT', websocketDefaults.idleTimeout),
      perMessageDeflate: readBoolean(env, 'WEBSOCKET_ENABLE_DEFLATE', websocketDefaults.perMessageDeflate),
      pingInterval: readInteger(env, 'WEBSOCKET_PING_INTERVAL', websocketDefaults.pingInterval),
      autoPingPong: readBoolean(env, 'WEBSOCKET_AUTO_PING_PONG', websocketDefaults.autoPingPong)
    },
    longPolling: {
      sessionTtl: readInteger(env, 'LONGPOLL_SESSION_TTL', longPollingDefaults.sessionTtl),
      maxBuffer: readInteger(env, 'LONGPOLL_MAX_BUFFER', longPollingDefaults.maxBuffer),
      wait: readInteger(env, 'LONGPOLL_WAIT', longPollingDefaults.wait)
    }
  }
}

/** Defaults of `limitsFromEnv` (the example app's: 50 connections per IP, 20 messages/s burst 40). */
export interface EnvLimitDefaults { maxConnectionsPerIp: number, rate: number, burst: number }

/** A positive integer, or `off` (0 too) to leave the limit out. */
function readLimit (env: Env, name: 'VIX_MAX_CONNECTIONS_PER_IP' | 'VIX_RATE_LIMIT', fallback: number): number | undefined {
  const raw = env[name]?.trim().toLowerCase()
  if (raw === 'off' || raw === '0') return undefined
  return readInteger(env, name, fallback)
}

/**
 * The limits an application turns on from the environment:
 * `VIX_MAX_CONNECTIONS_PER_IP` (WebSocket and long-poll sessions together),
 * `VIX_RATE_LIMIT` (messages per second per session) and `VIX_RATE_BURST`;
 * `off` leaves one out. A bad value throws `VIX_ERR_INVALID_ENV`.
 *
 * @example
 * await app.register(vixRealtime, { limits: limitsFromEnv(process.env, { maxConnectionsPerIp: 50, rate: 20, burst: 40 }) })
 */
export function limitsFromEnv (env: Env, defaults: EnvLimitDefaults): LimitsOptions {
  const limits: LimitsOptions = {}
  const perIp = readLimit(env, 'VIX_MAX_CONNECTIONS_PER_IP', defaults.maxConnectionsPerIp)
  if (perIp !== undefined) limits.maxConnectionsPerIp = perIp
  const rate = readLimit(env, 'VIX_RATE_LIMIT', defaults.rate)
  if (rate !== undefined) limits.sessionRate = { rate, burst: readInteger(env, 'VIX_RATE_BURST', Math.max(rate, defaults.burst)) }
  return limits
}

/**
 * A secret from the environment (e.g. `VIX_PUBLISH_KEY`, the bearer key of
 * `longPolling.serverPublish`): undefined when unset or empty; shorter than
 * `minLength` throws `VIX_ERR_INVALID_ENV` naming the variable, without
 * echoing the value.
 *
 * @example
 * const key = secretFromEnv(process.env, 'VIX_PUBLISH_KEY')
 * await app.register(vixRealtime, { longPolling: { serverPublish: key === undefined ? undefined : { key } } })
 */
export function secretFromEnv (env: Env, name: string, minLength = 16): string | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  if (raw.length < minLength) throw new InvalidEnvError(name, `<${raw.length} characters>`, `expected a secret of at least ${minLength} characters`)
  return raw
}

/** The broker the environment asks for: Redis (one server or several) or NATS by URL, with an optional prefix. */
export type EnvBroker = { redis: string | string[] | { cluster: string[], sharded: true }, prefix?: string } | { nats: string, prefix?: string }

/** A URL, or several comma-separated, with every password hidden. */
const redactUrls = (urls: string): string => urls.split(',').map(redactCredentials).join(',')

/** The variables that pick a broker: one at most. */
const brokerVariables = ['REDIS_URL', 'REDIS_URLS', 'REDIS_CLUSTER', 'NATS_URL'] as const

/**
 * The broker from the environment: `REDIS_URL` fans out over one Redis,
 * `REDIS_URLS` (two or more comma-separated URLs, in the same order on every
 * node) over several independent Redis servers, rooms spread by a consistent
 * hash, `REDIS_CLUSTER` (comma-separated `host:port` seeds of a Redis Cluster,
 * sharded pub/sub; prefix `VIX_REDIS_PREFIX` for all three), `NATS_URL` (prefix
 * `VIX_NATS_PREFIX`) over NATS; none, undefined (one node, in process). More
 * than one at once is a mistake, not a choice to guess: it throws
 * `VIX_ERR_INVALID_ENV` naming them.
 *
 * @example
 * await app.register(vixRealtime, { broker: brokerFromEnv(process.env) })
 */
export function brokerFromEnv (env: Env): EnvBroker | undefined {
  const nonEmpty = (name: string): string | undefined => env[name] === undefined || env[name] === '' ? undefined : env[name]
  const set = brokerVariables.filter((name) => nonEmpty(name) !== undefined)
  if (set.length > 1) {
    const last = set[set.length - 1]
    throw new InvalidEnvError(last, redactUrls(env[last] as string), `${set.slice(0, -1).join(' and ')} ${set.length > 2 ? 'are' : 'is'} set too: ` +
      'set one of REDIS_URL (one Redis), REDIS_URLS (several independent Redis servers), REDIS_CLUSTER (a Redis Cluster) or NATS_URL (NATS)')
  }
  const redis = nonEmpty('REDIS_URL')
  if (redis !== undefined) return { redis, prefix: nonEmpty('VIX_REDIS_PREFIX') }
  const urls = nonEmpty('REDIS_URLS')
  if (urls !== undefined) {
    const list = urls.split(',').map((url) => url.trim())
    if (list.length < 2 || list.includes('')) throw new InvalidEnvError('REDIS_URLS', redactUrls(urls), 'expected two or more comma-separated redis:// URLs (one server: set REDIS_URL)')
    return { redis: list, prefix: nonEmpty('VIX_REDIS_PREFIX') }
  }
  const seeds = nonEmpty('REDIS_CLUSTER')
  if (seeds !== undefined) {
    const list = seeds.split(',').map((seed) => seed.trim())
    if (!list.every((seed) => /^[^\s:/@]+:\d{1,5}$/.test(seed))) throw new InvalidEnvError('REDIS_CLUSTER', redactUrls(seeds), 'expected comma-separated host:port seeds of a Redis Cluster (e.g. 10.0.0.1:7000,10.0.0.2:7000)')
    return { redis: { cluster: list, sharded: true }, prefix: nonEmpty('VIX_REDIS_PREFIX') }
  }
  const nats = nonEmpty('NATS_URL')
  if (nats !== undefined) return { nats, prefix: nonEmpty('VIX_NATS_PREFIX') }
  return undefined
}
