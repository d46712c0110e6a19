import { createHash } from 'node:crypto'

/**
 * A long-poll `session_id` is the session's secret and travels in the query
 * string, which request logs print. Replace its value before a URL is logged.
 *
 * @example
 * Fastify({ logger: { serializers: { req: (req) => ({ method: req.method, url: redactSessionId(req.url) }) } } })
 */
export function redactSessionId (url: string): string {
  return url.replace(/([?&]session_id=)[^&#]*/g, '$1[redacted]')
}

/**
 * How a session appears in logs. A WebSocket session's id is a name; a
 * long-poll session's id is its secret (whoever holds it polls and sends as
 * that session), so it is logged as a fingerprint instead: the same session
 * gives the same `lp:` value, from which the id cannot be read back.
 *
 * @example
 * logger.error({ err, sessionId: sessionLogId(session) }, 'handler failed')
 */
export function sessionLogId (session: { id: string, transport: { name: string } }): string {
  if (session.transport.name === 'websocket') return session.id
  return `lp:${createHash('sha256').update(session.id).digest('base64url').slice(0, 12)}`
}

/** Query parameters that carry secrets (a long-poll session id, bearer tokens, keys); matched case-insensitively. */
export const secretQueryParams: readonly string[] = [
  'session_id', 'client_key', 'token', 'access_token', 'id_token', 'refresh_token', 'auth', 'authorization', 'jwt', 'key', 'api_key', 'apikey', 'password', 'secret'
]

/** Headers that carry secrets. */
export const secretHeaders: readonly string[] = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'sec-websocket-protocol']

const secretParam = new RegExp(`([?&](?:${secretQueryParams.join('|')})=)[^&#]*`, 'gi')

/**
 * Replace the value of every secret query parameter (`secretQueryParams`)
 * of a URL before it is logged.
 *
 * @example
 * redactUrl('/ws?token=abc&room=x') // '/ws?token=[redacted]&room=x'
 */
export function redactUrl (url: string): string {
  return url.indexOf('?') === -1 ? url : url.replace(secretParam, '$1[redacted]')
}

type Serializer = (value: any) => unknown

/**
 * Wrap a request-log serializer (Fastify's, or the application's own) so
 * that what it produces carries no secret: the `url` through `redactUrl`,
 * and secret headers (`secretHeaders`) replaced, whatever it chose to log.
 *
 * @example
 * const req = redactingSerializer((request) => ({ url: request.url, headers: request.headers }))
 */
export function redactingSerializer (serialize: Serializer): Serializer {
  return (value) => {
    const serialized = serialize(value)
    if (typeof serialized !== 'object' || serialized === null) return serialized
    const copy: Record<string, unknown> = { ...serialized as Record<string, unknown> }
    if (typeof copy.url === 'string') copy.url = redactUrl(copy.url)
    const headers = copy.headers
    if (typeof headers === 'object' && headers !== null) {
      const safe: Record<string, unknown> = { ...headers as Record<string, unknown> }
      for (const name of Object.keys(safe)) if (secretHeaders.includes(name.toLowerCase())) safe[name] = '[redacted]'
      copy.headers = safe
    }
    return copy
  }
}

/** Fastify's default `req` serializer, for loggers that have none. */
export function defaultRequestSerializer (request: { method?: string, url?: string, headers?: Record<string, unknown>, host?: string, ip?: string, socket?: { remotePort?: number } }): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url,
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}

/** The serializers a pino logger holds (pino keeps them under a symbol of that name). */
export function serializersOf (logger: object): Record<string, Serializer> | undefined {
  const symbol = Object.getOwnPropertySymbols(logger).find((s) => s.description === 'pino.serializers')
  return symbol === undefined ? undefined : (logger as Record<symbol, Record<string, Serializer>>)[symbol]
}

/**
 * A connection URL as it may be logged: the password of its userinfo and
 * every secret query parameter (`secretQueryParams`) replaced.
 *
 * @example
 * redactCredentials('postgres://app:s3cret@db:5432/app') // 'postgres://app:[redacted]@db:5432/app'
 */
export function redactCredentials (url: string): string {
  return redactUrl(url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*:)[^/?#]*@/i, '$1[redacted]@'))
}
