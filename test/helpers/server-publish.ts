import type { FastifyInstance } from 'fastify'

/** A `longPolling.serverPublish.key` for tests (16 characters, the shortest accepted). */
export const PUBLISH_KEY = 'k'.repeat(16)
/** The Authorization header carrying `PUBLISH_KEY`. */
export const bearer = { authorization: `Bearer ${PUBLISH_KEY}` }

/** A server-side publish: `POST /ws/send` without a session (with the bearer key unless `headers` say otherwise). */
export async function serverPublish (app: FastifyInstance, payload: unknown, headers: Record<string, string> = bearer): Promise<{ statusCode: number, headers: Record<string, unknown>, body: any }> {
  const response = await app.inject({ method: 'POST', url: '/ws/send', headers, payload: payload as Record<string, unknown> })
  return { statusCode: response.statusCode, headers: response.headers, body: response.json() }
}
