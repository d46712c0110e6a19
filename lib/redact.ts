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
