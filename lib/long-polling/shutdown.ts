import type { ShutdownParticipant } from '../lifecycle.js'
import { goingAwayFrame } from '../frames.js'
import type { LongPollBridge } from './bridge.js'
import type { LongPollManager } from './manager.js'

/**
 * The long-polling transport's part in shutdown: when the stop is requested,
 * every session is sent `server.going_away` (retry after `goingAwayRetryAfter`
 * ms) and a held poll is answered at once; then sessions and bridge close.
 */
export function longPollShutdown (manager: LongPollManager, bridge: LongPollBridge, goingAwayRetryAfter: number): ShutdownParticipant {
  return {
    name: 'long-polling',
    order: 0,
    requestStop () {
      manager.requestStop(JSON.stringify(goingAwayFrame(goingAwayRetryAfter)))
    },
    finalize () {
      manager.close()
      bridge.close()
    }
  }
}
