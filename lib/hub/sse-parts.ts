import type { SseParts } from '../sse/streams.js'
import type { Hub } from './hub.js'

/** The SSE streams' view of the hub (built here: hub.ts has no room for another method). */
export function sseParts (hub: Hub): SseParts {
  return {
    openSession: hub.openSession,
    closeSession: hub.closeSession,
    receiveRequest: async (session, text) => await hub.receiveRequest(session, text),
    identityKey: (identity) => hub.identityKey(identity)
  }
}
