import { InvalidEnvError } from './errors.js'
import type { LimitsOptions } from './limits/options.js'
import { longPollingDefaults, type LongPollingOptions } from './long-polling/options.js'
import { websocketDefaults, type WebSocketOptions } from './websocket/options.js'

export interface EnvConfig {
  websocket: Required<Pick<WebSocketOptions, 'maxMessageSize' | 'idleTimeout' | 'pingInterval' | 'perMessageDeflate' | 'autoPingPong'>>
  longPolling: Required<Pick<LongPollingOptions, 'sessionTtl' | 'maxBuffer' | 'wait'>>
}

type Env = Record<string, string | undefined>

function readInteger (env: Env, name: string, fallback: number, scale = 1): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new InvalidEnvError(name, raw, 'expected a positive integer')
  return Number(raw) * scale
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
 * `VIX_ERR_INVALID_ENV` naming the variable.
 *
 * @example
 * await app.register(vixRealtime, { ...loadConfigFromEnv(process.env) })
 */
export function loadConfigFromEnv (env: Env = process.env): EnvConfig {
  return {
    websocket: {
      maxMessageSize: readInteger(env, 'WEBSOCKET_MAX_MESSAGE_SIZE', websocketDefaults.maxMessageSize),
      idleTimeout: readInteger(env, 'WEBSOCKET_IDLE_TIMEOUT', websocketDefaults.idleTimeout, 1000),
      perMessageDeflate: readBoolean(env, 'WEBSOCKET_ENABLE_DEFLATE', websocketDefaults.perMessageDeflate),
      pingInterval: readInteger(env, 'WEBSOCKET_PING_INTERVAL', websocketDefaults.pingInterval, 1000),
      autoPingPong: readBoolean(env, 'WEBSOCKET_AUTO_PING_PONG', websocketDefaults.autoPingPong)
    },
    longPolling: {
      sessionTtl: readInteger(env, 'LONGPOLL_SESSION_TTL', longPollingDefaults.sessionTtl, 1000),
      maxBuffer: readInteger(env, 'LONGPOLL_MAX_BUFFER', longPollingDefaults.maxBuffer),
      wait: readInteger(env, 'LONGPOLL_WAIT', longPollingDefaults.wait, 1000)
    }
  }
}

/** Defaults of `limitsFromEnv` (the example app's: 50 connections per IP, 20 messages/s burst 40). */
export interface EnvLimitDefaults { maxConnectionsPerIp: number, rate: number, burst: number }

/** A positive integer, or `off` (0 too) to leave the limit out. */
function readLimit (env: Env, name: string, fallback: number): number | undefined {
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
