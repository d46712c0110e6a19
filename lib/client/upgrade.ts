import type { Connection, ConnectionClosed, ConnectionContext, ConnectionHandlers } from './connection.js'
import type { ResolvedOptions } from './options.js'
import type { TimerSet } from './timers.js'

/** What the probe needs from the reconnector. */
export interface UpgradeHooks {
  /** Open a WebSocket (the client's `openTransport('websocket', ...)`; it may throw on a URL it rejects). */
  open: (context: ConnectionContext) => Connection
  /** The handlers of `connection` once it is the client's connection (they hear only the current one). */
  handlers: (connection: () => Connection | null) => ConnectionHandlers
  /** The probe socket opened: make it the client's connection. */
  upgraded: (connection: Connection) => void
  /** The probe socket did not open (error, refused upgrade, connectTimeout); the next probe is scheduled after this. */
  failed: (info: ConnectionClosed) => void
}

/**
 * The way back to WebSocket: while open on SSE or long polling after a
 * fallback, a WebSocket is tried in the background every `interval` ms; the
 * first that opens is handed to the reconnector. At most one probe (timer or
 * socket) at a time, all on the client's TimerSet. Only a client that fell
 * back needs it: it is part of the HTTP transports' module (see `openHttpTransport`).
 *
 * @example
 * const probe = new UpgradeProbe(options, timers, hooks)
 * probe.schedule() // after the long-polling connection opened
 * probe.stop()     // that connection was lost, or the client closes
 */
export class UpgradeProbe {
  private timer_: unknown
  private probing_: Connection | null = null
  private readonly interval_: number

  constructor (
    private readonly options_: ResolvedOptions,
    private readonly timers_: TimerSet,
    private readonly hooks_: UpgradeHooks
  ) {
    this.interval_ = options_.upgradeInterval
  }

  /** Probe in `interval` ms, unless disabled or a probe is already waiting or in flight. */
  schedule (): void {
    if (this.interval_ === 0 || this.timer_ !== undefined || this.probing_ !== null) return
    this.timer_ = this.timers_.set(() => {
      this.timer_ = undefined
      this.start_()
    }, this.interval_)
  }

  /** Cancel the waiting probe, and close the one in flight without a word. */
  stop (): void {
    this.timers_.clear(this.timer_)
    this.timer_ = undefined
    const probing = this.probing_
    this.probing_ = null
    probing?.close(1000, 'upgrade probe cancelled')
  }

  private start_ (): void {
    let socket: Connection | null = null
    let promoted = false
    const current = this.hooks_.handlers(() => socket)
    const handlers: ConnectionHandlers = {
      ...current,
      // A cancelled probe was closed by stop(): its handlers are not called any more.
      open: () => {
        this.probing_ = null
        promoted = true
        this.hooks_.upgraded(socket as Connection)
      },
      close: (info) => {
        // Once promoted, its close is the client's connection lost: the reconnect path.
        if (promoted) {
          current.close(info)
          return
        }
        this.probing_ = null
        this.failed_(info)
      }
    }
    try {
      socket = this.hooks_.open({ timers: this.timers_, handlers })
    } catch (error) {
      this.failed_({ code: 1006, reason: (error as Error).message, opened: false, error: error as Error })
      return
    }
    this.probing_ = socket
  }

  private failed_ (info: ConnectionClosed): void {
    this.hooks_.failed(info)
    this.schedule()
  }
}
