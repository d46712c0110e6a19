// Type-checked by `npm run typecheck`, never run. Without a VixRealtimeTypes
// declaration an identity is `unknown` (narrow it before use), and
// `authenticate` is given the FastifyRequest. The declared case is checked
// against the packed package by test/package.test.ts.
import type { FastifyInstance } from 'fastify'
import vixRealtime, { type Identity, type Session } from '../../plugins/index.js'

export async function register (app: FastifyInstance, session: Session): Promise<void> {
  const identity: Identity = 'anything goes'
  // @ts-expect-error an undeclared identity is unknown
  const admin: boolean = session.identity.admin
  await app.register(vixRealtime, {
    authenticate: (request) => request.headers.authorization,
    authorizeJoin: (session) => typeof session.identity === 'string' && session.identity.length > 0,
    identityKey: () => String(identity) + String(admin)
  })
  // @ts-expect-error the request is a FastifyRequest, not anything
  await app.register(vixRealtime, { authenticate: (request) => request.nope })
}
