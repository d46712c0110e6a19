import { backoffDelay, goingAwayDelay } from './backoff.js'
import type { Connection, ConnectionClosed, ConnectionHandlers, CurrentConnection, TransportName } from './connection.js'
import type { Emitter } from './emitter.js'
import { ClientErrorCodes, VixClientError } from './errors.js'
import type { ClientState } from './events.js'
import type { ResolvedOptions } from './options.js'
import { PendingGroup } from './pending.js'
import type { TimerSet } from './timers.js'
import { httpReachable, openTransport } from './transports.js'
import { UpgradeProbe } from './upgrade.js'

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
  /** Before each connection attempt (a token to fetch): true to go on, false to stop, or a promise of either. */
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
 * `upgrade_failed` and failed attempts (`error`).
 *
 * @example
 * const reconnector = new Reconnector(options, timers, events, hooks)
 * await reconnector.connect()
 * reconnector.connection?.send('{"type":"ping"}')
 */
export class Reconnector implements CurrentConnection {
  private current: Connection | null = null
  private currentState: ClientState = 'closed'
  private currentTransport: TransportName
  private attempt = 0
  private webSocketFailures = 0
  /** On a later transport because WebSocket failed (not because the app chose it): the probe may bring it back. */
  private fellBack = false
  /** The server said not to reconnect (`session.closed` with `reconnect: false`): the close that follows is final. */
  private stayClosed = false
  /** WebSocket kept failing and plain HTTP was found to reach the server: one more WebSocket failure falls back. */
  private httpChecked = false
  /** After `server.going_away`: the server is expected back soon, so no backoff delay grows past this (ms). */
  private restartCap: number | undefined
  /** Changes at each close: an HTTP check answering after it is ignored. */
  private generation = 0
  private readonly opens: PendingGroup<void>
  private readonly probe: UpgradeProbe

  constructor (
    private readonly options: ResolvedOptions,
    private readonly timers: TimerSet,
    private readonly events: Emitter,
    private readonly hooks: ReconnectHooks
  ) {
    this.opens = new PendingGroup(timers)
    this.currentTransport = this.initialTransport()
    this.probe = new UpgradeProbe(options, timers, {
      handlers: (connection) => this.handlers(connection),
      upgraded: (connection) => { this.upgraded(connection) },
      failed: (info) => {
        this.events.emit('upgrade_failed', { reason: reasonOf(info), status: info.status, retryInMs: options.upgradeInterval })
      }
    })
  }

  get state (): ClientState {
    return this.currentState
  }

  get open (): boolean {
    return this.currentState === 'open'
  }

  get connection (): Connection | null {
    return this.current
  }

  /** The transport in use, or to be tried next. */
  get transport (): TransportName {
    return this.currentTransport
  }

  /** Resolves at the next open, however many attempts that takes; starts connecting when closed. */
  connect (): Promise<void> {
    const opened = this.opens.add()
    // A caller that does not await must not get an unhandled rejection from close().
    opened.catch(() => {})
    if (this.currentState === 'closed' || this.currentState === 'unauthorized') {
      this.stayClosed = false
      this.setState('connecting')
      this.openConnection()
    }
    return opened
  }

  /** Close the connection and every timer, reject every waiter (with `error`, else `VIX_ERR_CLIENT_CLOSED`), and start over from the first transport. */
  close (error?: VixClientError, state: ClientState = 'closed'): void {
    const previous = this.currentState
    const connection = this.current
    this.current = null
    connection?.close(1000, 'client closed')
    this.probe.stop()
    // Every timer of the client: reconnects, the transports' and every request's deadline.
    this.timers.clearAll()
    const closed = (): VixClientError => error ?? new VixClientError(ClientErrorCodes.CLOSED, 'The client was closed')
    this.hooks.abandon(closed)
    this.opens.rejectAll(closed)
    this.attempt = 0
    this.webSocketFailures = 0
    this.fellBack = false
    this.httpChecked = false
    this.restartCap = undefined
    this.generation++
    this.currentTransport = this.initialTransport()
    this.setState(state)
    if (previous === 'open' && connection !== null) {
      this.events.emit('close', { code: 1000, reason: 'client closed', transport: connection.transport, willReconnect: false })
    }
  }

  /** No token, or a refused one: close for good in the `unauthorized` state, waiters rejected with `error`, which is emitted. */
  unauthorized (error: VixClientError): void {
    this.close(error, 'unauthorized')
    this.events.emit('error', error)
  }

  /** The server is closing this connection and said not to reconnect. */
  stayClosedAfter (): void {
    this.stayClosed = true
  }

  /** The server is shutting down (`server.going_away`): reconnect after its `retryAfterMs`, else after `minDelay`. */
  goingAway (advised: unknown): void {
    const retryAfterMs = typeof advised === 'number' && advised >= 0 ? advised : (this.options.reconnect === false ? 0 : this.options.reconnect.minDelay)
    this.events.emit('going_away', { retryAfterMs })
    // A restart: retry at least every 2 × retryAfterMs until it is back, so a page is back within that of the server.
    this.restartCap = 2 * Math.max(retryAfterMs, 1)
    // Do not wait for the server's close: this node is going, reconnect on our schedule.
    const connection = this.current
    if (connection === null) return
    this.current = null
    connection.close(1000, 'server going away')
    this.connectionLost({ code: 1001, reason: 'server going away', opened: true }, retryAfterMs)
  }

  private initialTransport (): TransportName {
    return this.options.transports[0]
  }

  private setState (state: ClientState): void {
    const previous = this.currentState
    if (previous === state) return
    this.currentState = state
    this.events.emit('state', state, previous)
  }

  /** The handlers of a connection: one that was replaced or closed may still report, and only the current one is heard. */
  private handlers (connection: () => Connection | null): ConnectionHandlers {
    const { hooks } = this
    return {
      open: () => { if (this.current === connection()) this.connectionOpened() },
      frame: (data) => { if (this.current === connection()) hooks.frame(data) },
      close: (info) => {
        if (this.current !== connection()) return
        this.current = null
        this.connectionLost(info)
      },
      accepted: (id, ack) => { hooks.accepted(id, ack) },
      rejected: (id, error) => { hooks.rejected(id, error) },
      dropped: (count) => { if (this.current === connection()) hooks.dropped(count) }
    }
  }

  /** Open a connection once `beforeConnect` agrees (at once when it has nothing to wait for). */
  private openConnection (): void {
    const ready = this.hooks.beforeConnect?.() ?? true
    if (ready === true) this.openNow()
    else if (ready !== false) {
      ready.then((go) => {
        if (go && this.current === null && (this.currentState === 'connecting' || this.currentState === 'reconnecting')) this.openNow()
      }).catch(() => {})
    }
  }

  private openNow (): void {
    let connection: Connection | null = null
    const context = { timers: this.timers, handlers: this.handlers(() => connection) }
    try {
      connection = openTransport(this.currentTransport, this.options, context)
    } catch (error) {
      // A WebSocket constructor throws synchronously on a URL it rejects.
      this.connectionLost({ code: 1006, reason: (error as Error).message, opened: false, error: error as Error })
      return
    }
    this.current = connection
  }

  private connectionOpened (): void {
    const connection = this.current as Connection
    this.attempt = 0
    if (connection.transport === 'websocket') this.webSocketFailures = 0
    this.httpChecked = false
    this.restartCap = undefined
    // Restore before announcing `open`: rooms first (a publish to a room needs
    // membership and frames are processed in order), then unacked publishes
    // with their original ids, then whatever listeners of `open` send.
    this.hooks.restore(connection)
    this.setState('open')
    this.opens.resolveAll()
    this.events.emit('open', { transport: connection.transport })
    if (this.fellBack) this.probe.schedule()
  }

  /**
   * The upgrade probe's WebSocket opened while open on SSE or long polling: it takes
   * over without a `close`, `reconnecting` or `open` (the client stays open);
   * rooms are rejoined with `since` and unacked publishes resent on it, as
   * after a reconnect, then `transport` announces the switch.
   */
  private upgraded (connection: Connection): void {
    const previous = this.current
    const from = this.currentTransport
    this.current = connection
    // Closed by us: no handler of it runs, so no reconnect.
    previous?.close(1000, 'upgraded to websocket')
    this.hooks.ended()
    this.fellBack = false
    this.webSocketFailures = 0
    this.currentTransport = 'websocket'
    this.hooks.restore(connection)
    this.events.emit('transport', 'websocket', from)
  }

  private connectionLost (info: ConnectionClosed, retryAfterMs?: number): void {
    const transport = this.currentTransport
    // Reconnecting stays on the transport that worked last; the probe resumes once it is open again.
    this.probe.stop()
    this.hooks.ended()
    if (!info.opened && this.changeTransport(transport, info)) return
    this.reconnectAfter(transport, info, retryAfterMs)
  }

  /**
   * After an attempt that never opened: try another transport now (true),
   * or reconnect on this one (false). WebSocket gives way only when HTTP
   * reaches the server (its upgrade was answered with a refusal, or after
   * `afterFailures` failures an HTTP check and one more WebSocket attempt):
   * a server that is down is reconnected to, not a reason to change. A
   * fallback that cannot reach the server either goes back to the first transport.
   */
  private changeTransport (transport: TransportName, info: ConnectionClosed): boolean {
    const next = this.options.transports[this.options.transports.indexOf(transport) + 1]
    if (transport === 'websocket') {
      this.webSocketFailures++
      if (next === undefined) return false
      if (answered(info) || (this.httpChecked && this.webSocketFailures >= this.options.afterFailures)) return this.fallBack(next, info)
      if (this.webSocketFailures < this.options.afterFailures) return false
      this.checkHttp(info)
      return true
    }
    if (!this.fellBack) return false
    // The server answered but has not this transport (SSE turned off): the next one, at once.
    if (answered(info) && next !== undefined) return this.fallBack(next, info)
    if (info.status === undefined) this.backToFirst()
    return false
  }

  private fallBack (next: TransportName, info: ConnectionClosed): true {
    const from = this.currentTransport
    this.reportFailedAttempt(from, info)
    this.currentTransport = next
    this.fellBack = true
    this.events.emit('transport', next, from)
    // Part of connecting, not a reconnection: no backoff, and it happens even with reconnect off.
    this.timers.set(() => { this.openConnection() }, 0)
    return true
  }

  /** WebSocket keeps failing: is the server up? Yes: one more WebSocket attempt now (then a fallback); no: reconnect, on WebSocket. */
  private checkHttp (info: ConnectionClosed): void {
    const generation = this.generation
    httpReachable(this.options, this.timers, this.options.connectTimeout).then((reachable) => {
      if (generation !== this.generation) return
      if (!reachable) {
        this.webSocketFailures = 0
        this.reconnectAfter('websocket', info)
        return
      }
      this.reportFailedAttempt('websocket', info)
      this.httpChecked = true
      this.openConnection()
    }).catch(() => {})
  }

  /** A fallback could not reach the server: it is down, so the next attempt is on the best transport again. */
  private backToFirst (): void {
    const from = this.currentTransport
    this.currentTransport = this.initialTransport()
    this.fellBack = false
    this.webSocketFailures = 0
    this.httpChecked = false
    if (from !== this.currentTransport) this.events.emit('transport', this.currentTransport, from)
  }

  private reconnectAfter (transport: TransportName, info: ConnectionClosed, retryAfterMs?: number): void {
    const reconnect = this.options.reconnect
    // The server closing an open connection normally means "go away and stay away" (a kick).
    const kicked = (info.opened && info.code === 1000) || this.stayClosed
    const willReconnect = reconnect !== false && !kicked
    if (info.opened) {
      this.events.emit('close', { code: info.code, reason: info.reason, transport, willReconnect })
    } else {
      this.reportFailedAttempt(transport, info)
    }
    if (!willReconnect) {
      // A kick is not an error: the `close` event above says it all.
      this.giveUp(kicked ? undefined : new VixClientError(ClientErrorCodes.RECONNECT_FAILED, 'The connection was lost and reconnect is off'))
      return
    }
    let delay: number | undefined
    if (retryAfterMs !== undefined) delay = goingAwayDelay(retryAfterMs, reconnect.jitter, this.options.random)
    else if (info.sessionLost === true) delay = 0
    else if (info.retryAfterMs !== undefined) delay = goingAwayDelay(info.retryAfterMs, reconnect.jitter, this.options.random)
    this.scheduleReconnect(delay)
  }

  private reportFailedAttempt (transport: TransportName, info: ConnectionClosed): void {
    const status = info.status === undefined ? '' : ` (HTTP ${info.status})`
    this.events.emit('error', new VixClientError(ClientErrorCodes.CONNECT, `Cannot connect over ${transport}${status}: ${reasonOf(info)}`, { status: info.status }))
  }

  private scheduleReconnect (override?: number): void {
    const reconnect = this.options.reconnect as Exclude<ResolvedOptions['reconnect'], false>
    this.attempt++
    if (this.attempt > reconnect.maxAttempts) {
      this.giveUp(new VixClientError(ClientErrorCodes.RECONNECT_FAILED, `Could not reconnect after ${reconnect.maxAttempts} attempts`))
      return
    }
    const timing = this.restartCap === undefined ? reconnect : { ...reconnect, maxDelay: Math.min(reconnect.maxDelay, Math.max(reconnect.minDelay, this.restartCap)) }
    const delay = override ?? backoffDelay(this.attempt, timing, this.options.random)
    this.setState('reconnecting')
    this.events.emit('reconnecting', { attempt: this.attempt, delay, transport: this.currentTransport })
    this.timers.set(() => { this.openConnection() }, delay)
  }

  private giveUp (error?: VixClientError): void {
    this.close()
    if (error !== undefined) this.events.emit('error', error)
  }
}
