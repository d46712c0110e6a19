import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { demoIdentity, type DemoIdentity } from './identity.js'

/** The demo's tokens: `<base64url {name, exp}>.<HMAC-SHA256>`, valid `ttl` seconds. */
export interface DemoTokens {
  /** Seconds a token is valid. */
  readonly ttl: number
  issue: (name: string) => { token: string, expiresAt: number }
  /** The name and expiry of a token this app signed, or null (bad signature, malformed). An expired one is returned too: the hub refuses it. */
  verify: (token: string) => { name: string, expiresAt: number } | null
}

/**
 * `VIX_DEMO_TOKEN_TTL=<seconds>` (1 to 86400) turns demo tokens on, signed
 * with `VIX_DEMO_TOKEN_SECRET` (default: random per process, so every node of
 * a cluster needs the same one set). Unset: undefined, and the app behaves as
 * without tokens.
 */
export function demoTokensFromEnv (env: Record<string, string | undefined>, now: () => number = Date.now): DemoTokens | undefined {
  const raw = env.VIX_DEMO_TOKEN_TTL
  if (raw === undefined || raw.trim() === '') return undefined
  const ttl = Number(raw)
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) throw new Error(`Invalid environment variable VIX_DEMO_TOKEN_TTL=${raw}: expected whole seconds from 1 to 86400`)
  const secret = env.VIX_DEMO_TOKEN_SECRET ?? randomBytes(32).toString('hex')
  const sign = (body: string): Buffer => createHmac('sha256', secret).update(body).digest()
  return {
    ttl,
    issue (name) {
      const expiresAt = now() + ttl * 1000
      const body = Buffer.from(JSON.stringify({ name, exp: expiresAt })).toString('base64url')
      return { token: `${body}.${sign(body).toString('base64url')}`, expiresAt }
    },
    verify (token) {
      const [body, signature, extra] = token.split('.')
      if (body === undefined || signature === undefined || extra !== undefined) return null
      const given = Buffer.from(signature, 'base64url')
      const expected = sign(body)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { name?: unknown, exp?: unknown }
      return typeof claims.name === 'string' && typeof claims.exp === 'number' ? { name: claims.name, expiresAt: claims.exp } : null
    }
  }
}

/** The token of a request: `?token=` of the raw URL (routes strip undeclared query parameters), or the query of an `auth.refresh`'s request. */
function tokenOf (request: { url?: string, query?: unknown }): string | null {
  if (request.url === undefined) return (request.query as { token?: string } | undefined)?.token ?? null
  return new URL(request.url, 'http://localhost').searchParams.get('token')
}

/**
 * The demo's `authenticate` with tokens: a request with `?token=` is the
 * token's name until it expires (`{ identity, expiresAt }`: the hub sends
 * `session.expiring`, and the chat page's `auth.refresh` extends it); a bad
 * token is a 401; without one, the `?name=` identity as before.
 */
export function tokenIdentity (tokens: DemoTokens) {
  return (request: { url?: string, query?: unknown }): DemoIdentity | { identity: DemoIdentity, expiresAt: number } => {
    const token = tokenOf(request)
    if (token === null) return demoIdentity(request as { url: string })
    const claims = tokens.verify(token)
    if (claims === null) throw new Error('invalid demo token')
    return { identity: { name: claims.name }, expiresAt: claims.expiresAt }
  }
}

export const WhoamiReply = Type.Object({ name: Type.String(), expiresAt: Type.Union([Type.Number(), Type.Null()]) }, { additionalProperties: false })

/** `GET /demo/token?name=ada` → `{ token, expiresAt }`, and the `whoami` request type → `{ name, expiresAt }`. */
export function registerDemoTokens (app: FastifyInstance, tokens: DemoTokens): void {
  app.get('/demo/token', {
    schema: {
      querystring: Type.Object({ name: Type.String({ minLength: 1, maxLength: 32 }) }),
      response: { 200: Type.Object({ token: Type.String(), expiresAt: Type.Number() }) }
    }
  }, async (request) => tokens.issue((request.query as { name: string }).name.trim()))
  app.realtime.on('whoami', { schema: Type.Object({}, { additionalProperties: false }), reply: WhoamiReply, description: 'Who this session is, and when its token expires (ms since the epoch, null: never)' },
    (session) => ({ name: (session.identity as DemoIdentity | undefined)?.name ?? 'guest', expiresAt: session.expiresAt ?? null }))
}
