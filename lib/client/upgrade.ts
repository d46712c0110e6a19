import type { Connection, ConnectionClosed, ConnectionHandlers } from './connection.js'
import type { ResolvedOptions } from './options.js'
import type { TimerSet } from './timers.js'
import { openWebSocket, type WebSocketConnectionOptions } from './websocket-connection.js'

/** The WebSocket options of the client's resolved options (it must have a WebSocket class). */
export function webSocketOptionsOf (options: ResolvedOptions): WebSocketConnectionOptions {
  return { url: options.url, WebSocket: options.WebSocket!, webSocketOptions: options.webSocketOptions, connectTimeout: options.connectTimeout }
}

/** What the probe needs from the reconnector. */
export interface UpgradeHooks {
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
 * socket) at a time, all on the client's TimerSet.
 *
 * @example
 * const probe = new UpgradeProbe(options, timers, hooks)
 * probe.schedule() // after the long-polling connection opened
 * probe.stop()     // that connection was lost, or the client closes
 */
export class UpgradeProbe {
  private timer: unknown
  private probing: Connection | null = null
  private readonly interval: number

  constructor (
    private readonly options: ResolvedOptions,
    private readonly timers: TimerSet,
    private readonly hooks: UpgradeHooks
  ) {
    this.interval = options.upgradeInterval
  }

  /** Probe in `interval` ms, unless disabled or a probe is already waiting or in flight. */
  schedule (): void {
    if (this.interval === 0 || this.timer !== undefined || this.probing !== null) return
    this.timer = this.timers.set(() => {
      this.timer = undefined
      this.start()
    }, this.interval)
  }

  /** Cancel the waiting probe, and close the one in flight without a word. */
  stop (): void {
    this.timers.clear(this.timer)
    this.timer = undefined
    const probing = this.probing
    this.probing = null
    probing?.close(1000, 'upgrade probe cancelled')
  }

  private start (): void {
    let socket: Connection | null = null
    let promoted = false
    const current = this.hooks.handlers(() => socket)
    const handlers: ConnectionHandlers = {
      ...current,
      // A cancelled probe was closed by stop(): its handlers are not called any more.
      open: () => {
        this.probing = null
        promoted = true
        this.hooks.upgraded(socket as Connection)
      },
      close: (info) => {
        // Once promoted, its close is the client's connection lost: the reconnect path.
        if (promoted) {
          current.close(info)
          return
        }
        this.probing = null
        this.failed(info)
      }
    }
    try {
      socket = openWebSocket(webSocketOptionsOf(this.options), { timers: this.timers, handlers })
    } catch (error) {
      this.failed({ code: 1006, reason: (error as Error).message, opened: false, error: error as Error })
      return
    }
    this.probing = socket
  }

  private failed (info: ConnectionClosed): void {
    this.hooks.failed(info)
    this.schedule()
  }
}
