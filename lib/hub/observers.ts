import type { HubObserver } from './types.js'

/**
 * The one place frames sent to clients are counted (`vix_ws_messages_outbound_total`):
 * a frame to one session, a fan-out (`frames` recipients, one call), a replay or a
 * release of held messages, a presence diff. Called with 0 too; observers ignore it.
 */
export function countOutbound (observers: readonly HubObserver[], frames: number): void {
  for (const observer of observers) observer.messagesOutbound?.(frames)
}
