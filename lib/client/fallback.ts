import type { Connection, ConnectionClosed, ConnectionContext, ConnectionHandlers, TransportName } from './connection.js'
import type { Emitter } from './emitter.js'
import type { ResolvedOptions } from './options.js'
import type { TimerSet } from './timers.js'
import { UpgradeProbe } from './upgrade.js'

/**
 * What the fallback works on: the reconnector's state and steps (the
 * `Reconnector` is one). Its code comes with the HTTP transports' module:
 * a client whose WebSocket works never loads it.
 */
export interface FallbackHost {
  readonly options_: ResolvedOptions
  readonly timers_: TimerSet
  readonly events_: Emitter
  readonly hooks_: { ended: () => void, restore: (connection: Connection) => void }
  /** Changes at each close: an HTTP check answering after it is ignored. */
  readonly generation_: number
  current_: Connection | null
  currentTransport_: TransportName
  webSocketFailures_: number
  /** WebSocket kept failing and plain HTTP was found to reach the server: one more WebSocket failure falls back. */
  httpChecked_: boolean
  /** On a later transport because WebSocket failed (not because the app chose it): the probe may bring it back. */
  fellBack_: boolean
  probe_: UpgradeProbe | undefined
  initialTransport_: () => TransportName
  handlers_: (connection: () => Connection | null) => ConnectionHandlers
  openConnection_: () => void
  /** Switch to `next` and open it now (no backoff): a WebSocket refused while HTTP answers. */
  fallBack_: (next: TransportName, info: ConnectionClosed) => true
  openWebSocket_: (context: ConnectionContext) => Connection
  reconnectAfter_: (transport: TransportName, info: ConnectionClosed) => void
  reportFailedAttempt_: (transport: TransportName, info: ConnectionClosed) => void
  upgradeFailed_: (info: ConnectionClosed) => void
}

/**
 * After an attempt that never opened: try another transport now (true),
 * or reconnect on this one (false). WebSocket gives way only when HTTP
 * reaches the server (its upgrade was `answered` with a refusal, or after
 * `afterFailures` failures an HTTP check and one more WebSocket attempt):
 * a server that is down is reconnected to, not a reason to change. A
 * fallback that cannot reach the server either goes back to the first transport.
 * The host counted the WebSocket failure already.
 */
export function changeTransport (host: FallbackHost, transport: TransportName, info: ConnectionClosed, answered: boolean): boolean {
  const { transports, afterFailures } = host.options_
  const next = transports[transports.indexOf(transport) + 1]
  if (transport === 'websocket') {
    if (next === undefined) return false
    if (answered || (host.httpChecked_ && host.webSocketFailures_ >= afterFailures)) return host.fallBack_(next, info)
    if (host.webSocketFailures_ < afterFailures) return false
    checkHttp(host, info)
    return true
  }
  if (!host.fellBack_) return false
  // The server answered but has not this transport (SSE turned off): the next one, at once.
  if (answered && next !== undefined) return host.fallBack_(next, info)
  if (info.status === undefined) backToFirst(host)
  return false
}

/** WebSocket keeps failing: is the server up? Yes: one more WebSocket attempt now (then a fallback); no: reconnect, on WebSocket. */
function checkHttp (host: FallbackHost, info: ConnectionClosed): void {
  const generation = host.generation_
  httpReachable(host.options_, host.timers_, host.options_.connectTimeout).then((reachable) => {
    if (generation !== host.generation_) return
    if (!reachable) {
      host.webSocketFailures_ = 0
      host.reconnectAfter_('websocket', info)
      return
    }
    host.reportFailedAttempt_('websocket', info)
    host.httpChecked_ = true
    host.openConnection_()
  }).catch(() => {})
}

/**
 * Does plain HTTP reach the server? Any answer to `url` says yes (a 404
 * too); a network error or no answer within `timeoutMs` says no: the server
 * is down, which is a reason to reconnect, not to change transport.
 */
async function httpReachable (options: ResolvedOptions, timers: TimerSet, timeoutMs: number): Promise<boolean> {
  if (options.fetch === undefined || options.checkUrl === undefined) return false
  const controller = new AbortController()
  const timer = timers.set(() => { controller.abort() }, timeoutMs)
  try {
    await options.fetch(options.checkUrl, { method: 'GET', headers: {}, signal: controller.signal })
    return true
  } catch {
    return false
  } finally {
    timers.clear(timer)
  }
}

/** A fallback could not reach the server: it is down, so the next attempt is on the best transport again. */
function backToFirst (host: FallbackHost): void {
  const from = host.currentTransport_
  host.currentTransport_ = host.initialTransport_()
  host.fellBack_ = false
  host.webSocketFailures_ = 0
  host.httpChecked_ = false
  if (from !== host.currentTransport_) host.events_.emit('transport', host.currentTransport_, from)
}

/** The probe of the way back to WebSocket, made at the first open after a fallback. */
export function upgradeProbe (host: FallbackHost): UpgradeProbe {
  host.probe_ ??= new UpgradeProbe(host.options_, host.timers_, {
    open: (context) => host.openWebSocket_(context),
    handlers: (connection) => host.handlers_(connection),
    upgraded: (connection) => { upgraded(host, connection) },
    failed: (info) => { host.upgradeFailed_(info) }
  })
  return host.probe_
}

/**
 * The upgrade probe's WebSocket opened while open on SSE or long polling: it takes
 * over without a `close`, `reconnecting` or `open` (the client stays open);
 * rooms are rejoined with `since` and unacked publishes resent on it, as
 * after a reconnect, then `transport` announces the switch.
 */
function upgraded (host: FallbackHost, connection: Connection): void {
  const previous = host.current_
  const from = host.currentTransport_
  host.current_ = connection
  // Closed by us: no handler of it runs, so no reconnect.
  previous?.close(1000, 'upgraded to websocket')
  host.hooks_.ended()
  host.fellBack_ = false
  host.webSocketFailures_ = 0
  host.currentTransport_ = 'websocket'
  host.hooks_.restore(connection)
  host.events_.emit('transport', 'websocket', from)
}
