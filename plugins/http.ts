import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { httpErrorOf } from '../lib/http-errors.js'

/**
 * The error handler of vix-realtime's HTTP routes: every answer is a coded
 * `VixErrorResponse` (with `Retry-After` when the error says when to come
 * back); a 500 is logged with its cause, which the body never shows.
 */
export function codedErrorHandler (limits: { bodyLimit: number }, what: string) {
  return async (error: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const answer = httpErrorOf(error, limits)
    if (answer.statusCode >= 500 && answer.statusCode !== 503) request.log.error({ err: error }, `vix-realtime: ${what} failed`)
    withRetryAfter(reply, error)
    return await reply.code(answer.statusCode).send(answer)
  }
}

/** Set `Retry-After` from a coded error's `retryAfter` (seconds), when it has one. */
export function withRetryAfter (reply: FastifyReply, error: unknown): void {
  const retryAfter = (error as { retryAfter?: unknown } | null)?.retryAfter
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter))
}
