import { goingAwayFrame } from '../frames.js'
import type { ShutdownParticipant } from '../lifecycle.js'
import type { SseStreams } from './streams.js'

/**
 * The SSE transport's part in shutdown: when the stop is requested, every
 * stream is sent `server.going_away` and `retry:` `goingAwayRetryAfter` ms,
 * then ended (its session closes 1001); then any stream left is cut.
 */
export function sseShutdown (streams: SseStreams, goingAwayRetryAfter: number): ShutdownParticipant {
  return {
    name: 'sse',
    order: 0,
    requestStop () {
      streams.requestStop(JSON.stringify(goingAwayFrame(goingAwayRetryAfter)), goingAwayRetryAfter)
    },
    finalize () {
      streams.close()
    }
  }
}
