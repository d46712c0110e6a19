/** Private state keys shared between lib/ and plugins/, never part of the public API. */
export const kHub = Symbol.for('vix-realtime.hub')
export const kSession = Symbol.for('vix-realtime.session')
export const kShuttingDown = Symbol.for('vix-realtime.shuttingDown')
/** The store's sequence number on a stored message object; a symbol key, so JSON.stringify never sends it. */
export const kSeq = Symbol.for('vix-realtime.seq')
