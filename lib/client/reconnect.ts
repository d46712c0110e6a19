import { backoffDelay, goingAwayDelay } from './backoff.js'
import type { Connection, ConnectionClosed, ConnectionContext, ConnectionHandlers, CurrentConnection, TransportName } from './connection.js'
import type { Emitter } from './emitter.js'
import { ClientErrorCodes, VixClientError } from './errors.js'
import type { ClientState } from './events.js'
import type { ResolvedOptions } from './options.js'
import { PendingGroup } from './pending.js'
import type { TimerSet } from './timers.js'
import type { FallbackHost } from './fallback.js'
import { httpTransportsLoaded, loadHttpTransports, openTransport } from './transports.js'
import type { UpgradeProbe } from './upgrade.js'

/** An HTTP answer to the attempt that is not about auth or load: HTTP reaches the server, and it refused this transport. */
function answered (info: ConnectionClosed): boolean {
  return info.status !== undefined && ![401, 403, 429, 503].includes(info.status)
}

/** Why a connection failed, in words. */
function reasonOf (info: ConnectionClosed): string {
  return info.reason !== '' ? info.reason : (info.error?.message ?? 'connection failed')
}

/**
 * What the reconnector needs from the rest of the client. `frame`, `accepted`,
 * `rejected` and `dropped` are the current connection's reports, passed on.
 */
export interface ReconnectHooks extends Omit<ConnectionHandlers, 'open' | 'close'> {
  /** A connection opened: restore rooms and unacked publishes on it, before `open` is announced. */
  restore: (connection: Connection) => void
  /** The connection ended: requests in flight on it are void. */
  ended: () => void
  /** The client closes: reject every waiting request with an error from `closed`. */
  abandon: (closed: () => VixClientError) => void
  /** Before each connection attempt (a token to fetch): true to go on, false to stop, or a promise of either (rejected: the attempt failed). */
  beforeConnect?: () => boolean | Promise<boolean>
}

/**
 * The client's connection lifecycle: one connection at a time, the first of
 * `transports` first and the next ones when WebSocket is blocked while HTTP
 * reaches the server, reconnection with backoff
 * (or at the time a going-away server advised), giving up after
 * `reconnect.maxAttempts`, and back to WebSocket (the upgrade probe) once it
 * works again after a fallback. It owns the client's `state` and announces
 * `state`, `open`, `close`, `reconnecting`, `transport`, `going_away`,
 * `upgrade_failed` and failed attempts (`error`). Which transport comes
 * next, and the way back, are the fallback's (`FallbackHost`, fallback.ts,
 * loaded with the HTTP transports): the members ending in `_` that are not
 * `private` are the state and steps it works on, for it alone.
 *
 * @example
 * const reconnector = new Reconnector(options, timers, events, hooks)
 * await reconnector.connect()
 * reconnector.connection?.send('{"type":"ping"}')
 */
export class Reconnector implements CurrentConnection, FallbackHost {
  current_: Connection | null = null
  private currentState_: ClientState = 'closed'
  currentTransport_: TransportName
  private attempt_ = 0
  webSocketFailures_ = 0
  /** On a later transport because WebSocket failed (not because the app chose it): the probe may bring it back. */
  fellBack_ = false
  /** The server said not to reconnect (`session.closed` with `reconnect: false`): the close that follows is final. */
  private stayClosed_ = false
  /** WebSocket kept failing and plain HTTP was found to reach the server: one more WebSocket failure falls back. */
  httpChecked_ = false
  /** After `server.going_away`: the server is expected back soon, so no backoff delay grows past this (ms). */
  private restartCap_: number | undefined
  /** Changes at each close: an HTTP check answering after it is ignored. */
  generation_ = 0
  private readonly opens_: PendingGroup<void>
  /** Made at the first open after a fallback (its code comes with the HTTP transports). */
  probe_: UpgradeProbe | undefined

  constructor (
    readonly options_: ResolvedOptions,
    readonly timers_: TimerSet,
    readonly events_: Emitter,
    readonly hooks_: ReconnectHooks
  ) {
    this.opens_ = new PendingGroup(timers_)
    this.currentTransport_ = this.initialTransport_()
  }

  get state (): ClientState {
    return this.currentState_
  }

  get open (): boolean {
    return this.currentState_ === 'open'
  }

  get connection (): Connection | null {
    return this.current_
  }

  /** The transport in use, or to be tried next. */
  get transport (): TransportName {
    return this.currentTransport_
  }

  /** Resolves at the next open, however many attempts that takes; starts connecting when closed. */
  connect (): Promise<void> {
    const opened = this.opens_.add()
    // A caller that does not await must not get an unhandled rejection from close().
    opened.catch(() => {})
    if (this.currentState_ === 'closed' || this.currentState_ === 'unauthorized') {
      this.stayClosed_ = false
      this.setState_('connecting')
      this.openConnection_()
    }
    return opened
  }

  /** Close the connection and every timer, reject every waiter (with `error`, else `VIX_ERR_CLIENT_CLOSED`), and start over from the first transport. */
  close (error?: VixClientError, state: ClientState = 'closed'): void {
    const previous = this.currentState_
    const connection = this.current_
    this.current_ = null
    connection?.close(1000, 'client closed')
    this.probe_?.stop()
    // Every timer of the client: reconnects, the transports' and every request's deadline.
    this.timers_.clearAll()
    const closed = (): VixClientError => error ?? new VixClientError(ClientErrorCodes.CLOSED, 'The client was closed')
    this.hooks_.abandon(closed)
    this.opens_.rejectAll(closed)
    this.attempt_ = 0
    this.webSocketFailures_ = 0
    this.fellBack_ = false
    this.httpChecked_ = false
    this.restartCap_ = undefined
    this.generation_++
    this.currentTransport_ = this.initialTransport_()
    this.setState_(state)
    if (previous === 'open' && connection !== null) {
      this.events_.emit('close', { code: 1000, reason: 'client closed', transport: connection.transport, willReconnect: false })
    }
  }

  /** No token, or a refused one: close for good in the `unauthorized` state, waiters rejected with `error`, which is emitted. */
  unauthorized (error: VixClientError): void {
    this.close(error, 'unauthorized')
    this.events_.emit('error', error)
  }

  /** The server is closing this connection and said not to reconnect. */
  stayClosedAfter (): void {
    this.stayClosed_ = true
  }

  /** The server is shutting down (`server.going_away`): reconnect after its `retryAfterMs`, else after `minDelay`. */
  goingAway (advised: unknown): void {
    const retryAfterMs = typeof advised === 'number' && advised >= 0 ? advised : (this.options_.reconnect === false ? 0 : this.options_.reconnect.minDelay)
    this.events_.emit('going_away', { retryAfterMs })
    // A restart: retry at least every 2 × retryAfterMs until it is back, so a page is back within that of the server.
    this.restartCap_ = 2 * Math.max(retryAfterMs, 1)
    // Do not wait for the server's close: this node is going, reconnect on our schedule.
    const connection = this.current_
    if (connection === null) return
    this.current_ = null
    connection.close(1000, 'server going away')
    this.connectionLost_({ code: 1001, reason: 'server going away', opened: true }, retryAfterMs)
  }

  initialTransport_ (): TransportName {
    return this.options_.transports[0]
  }

  private setState_ (state: ClientState): void {
    const previous = this.currentState_
    if (previous === state) return
    this.currentState_ = state
    this.events_.emit('state', state, previous)
  }

  /** The handlers of a connection: one that was replaced or closed may still report, and only the current one is heard. */
  handlers_ (connection: () => Connection | null): ConnectionHandlers {
    const { hooks_: hooks } = this
    return {
      open: () => { if (this.current_ === connection()) this.connectionOpened_() },
      frame: (data) => { if (this.current_ === connection()) hooks.frame(data) },
      close: (info) => {
        if (this.current_ !== connection()) return
        this.current_ = null
        this.connectionLost_(info)
      },
      accepted: (id, ack) => { hooks.accepted(id, ack) },
      rejected: (id, error) => { hooks.rejected(id, error) },
      dropped: (count) => { if (this.current_ === connection()) hooks.dropped(count) }
    }
  }

  /** Open a connection once `beforeConnect` agrees (at once when it has nothing to wait for). */
  openConnection_ (): void {
    const ready = this.hooks_.beforeConnect?.() ?? true
    if (ready === true) this.openNow_()
    else if (ready !== false) {
      ready.then((go) => {
        if (go && this.waitsToOpen_()) this.openNow_()
      }, (error: Error) => {
        // Nothing was tried (the tokens' module could not be loaded): a failed attempt, retried after the backoff.
        if (this.waitsToOpen_()) this.reconnectAfter_(this.currentTransport_, { code: 1006, reason: error.message, opened: false, error })
      })
    }
  }

  /** Connecting or reconnecting, with no connection yet: what a delayed attempt checks before it goes on. */
  private waitsToOpen_ (): boolean {
    return this.current_ === null && (this.currentState_ === 'connecting' || this.currentState_ === 'reconnecting')
  }

  private openNow_ (): void {
    let connection: Connection | null = null
    const context = { timers: this.timers_, handlers: this.handlers_(() => connection) }
    try {
      connection = openTransport(this.currentTransport_, this.options_, context)
    } catch (error) {
      // A WebSocket constructor throws synchronously on a URL it rejects.
      this.connectionLost_({ code: 1006, reason: (error as Error).message, opened: false, error: error as Error })
      return
    }
    this.current_ = connection
  }

  private connectionOpened_ (): void {
    const connection = this.current_ as Connection
    this.attempt_ = 0
    if (connection.transport === 'websocket') this.webSocketFailures_ = 0
    this.httpChecked_ = false
    this.restartCap_ = undefined
    // Restore before announcing `open`: rooms first (a publish to a room needs
    // membership and frames are processed in order), then unacked publishes
    // with their original ids, then whatever listeners of `open` send.
    this.hooks_.restore(connection)
    this.setState_('open')
    this.opens_.resolveAll()
    this.events_.emit('open', { transport: connection.transport })
    if (this.fellBack_) httpTransportsLoaded()?.upgradeProbe(this).schedule()
  }

  private connectionLost_ (info: ConnectionClosed, retryAfterMs?: number): void {
    const transport = this.currentTransport_
    // Reconnecting stays on the transport that worked last; the probe resumes once it is open again.
    this.probe_?.stop()
    this.hooks_.ended()
    if (!info.opened && this.changeTransport_(transport, info)) return
    this.reconnectAfter_(transport, info, retryAfterMs)
  }

  /**
   * After an attempt that never opened: another transport now (true), or a
   * reconnect on this one (false)? The fallback decides (`changeTransport`,
   * with the HTTP transports). Until their module is loaded, what needs none
   * is decided here: a WebSocket refusal HTTP answered falls back at once;
   * fewer than `afterFailures` failures reconnect; more load the fallback,
   * which checks HTTP. (An HTTP transport that failed before its module could
   * even be loaded is reconnected to as is.)
   */
  private changeTransport_ (transport: TransportName, info: ConnectionClosed): boolean {
    if (transport === 'websocket') this.webSocketFailures_++
    const loaded = httpTransportsLoaded()
    if (loaded !== undefined) return loaded.changeTransport(this, transport, info, answered(info))
    const { transports, afterFailures } = this.options_
    const next = transports[transports.indexOf(transport) + 1]
    if (transport !== 'websocket' || next === undefined) return false
    if (answered(info)) return this.fallBack_(next, info)
    if (this.webSocketFailures_ < afterFailures) return false
    const generation = this.generation_
    loadHttpTransports().then((module) => {
      if (generation === this.generation_) module.changeTransport(this, transport, info, false)
    }, () => {
      // Not even the module comes: the server is down, not a reason to change transport.
      if (generation !== this.generation_) return
      this.webSocketFailures_ = 0
      this.reconnectAfter_(transport, info)
    })
    return true
  }

  fallBack_ (next: TransportName, info: ConnectionClosed): true {
    const from = this.currentTransport_
    this.reportFailedAttempt_(from, info)
    this.currentTransport_ = next
    this.fellBack_ = true
    this.events_.emit('transport', next, from)
    // Part of connecting, not a reconnection: no backoff, and it happens even with reconnect off.
    this.timers_.set(() => { this.openConnection_() }, 0)
    return true
  }

  reconnectAfter_ (transport: TransportName, info: ConnectionClosed, retryAfterMs?: number): void {
    const reconnect = this.options_.reconnect
    // The server closing an open connection normally means "go away and stay away" (a kick).
    const kicked = (info.opened && info.code === 1000) || this.stayClosed_
    const willReconnect = reconnect !== false && !kicked
    if (info.opened) {
      this.events_.emit('close', { code: info.code, reason: info.reason, transport, willReconnect })
    } else {
      this.reportFailedAttempt_(transport, info)
    }
    if (!willReconnect) {
      // A kick is not an error: the `close` event above says it all.
      this.giveUp_(kicked ? undefined : new VixClientError(ClientErrorCodes.RECONNECT_FAILED, 'The connection was lost and reconnect is off'))
      return
    }
    let delay: number | undefined
    if (retryAfterMs !== undefined) delay = goingAwayDelay(retryAfterMs, reconnect.jitter, this.options_.random)
    else if (info.sessionLost === true) delay = 0
    else if (info.retryAfterMs !== undefined) delay = goingAwayDelay(info.retryAfterMs, reconnect.jitter, this.options_.random)
    this.scheduleReconnect_(delay)
  }

  /** The upgrade probe's WebSocket. */
  openWebSocket_ (context: ConnectionContext): Connection {
    return openTransport('websocket', this.options_, context)
  }

  /** The upgrade probe's WebSocket did not open (the next one is scheduled). */
  upgradeFailed_ (info: ConnectionClosed): void {
    this.events_.emit('upgrade_failed', { reason: reasonOf(info), status: info.status, retryInMs: this.options_.upgradeInterval })
  }

  reportFailedAttempt_ (transport: TransportName, info: ConnectionClosed): void {
    const status = info.status === undefined ? '' : ` (HTTP ${info.status})`
    this.events_.emit('error', new VixClientError(ClientErrorCodes.CONNECT, `Cannot connect over ${transport}${status}: ${reasonOf(info)}`, { status: info.status }))
  }

  private scheduleReconnect_ (override?: number): void {
    const reconnect = this.options_.reconnect as Exclude<ResolvedOptions['reconnect'], false>
    this.attempt_++
    if (this.attempt_ > reconnect.maxAttempts) {
      this.giveUp_(new VixClientError(ClientErrorCodes.RECONNECT_FAILED, `Could not reconnect after ${reconnect.maxAttempts} attempts`))
      return
    }
    const timing = this.restartCap_ === undefined ? reconnect : { ...reconnect, maxDelay: Math.min(reconnect.maxDelay, Math.max(reconnect.minDelay, this.restartCap_)) }
    const delay = override ?? backoffDelay(this.attempt_, timing, this.options_.random)
    this.setState_('reconnecting')
    this.events_.emit('reconnecting', { attempt: this.attempt_, delay, transport: this.currentTransport_ })
    this.timers_.set(() => { this.openConnection_() }, delay)
  }

  private giveUp_ (error?: VixClientError): void {
    this.close()
    if (error !== undefined) this.events_.emit('error', error)
  }
}
