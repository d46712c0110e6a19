import { reconnectDefaults, type ReconnectOptions } from './backoff.js'
import { newSenderKey } from './id.js'
import { ClientErrorCodes, VixClientError } from './errors.js'
import type { FetchLike, HeadersOption } from './http-types.js'
import { defaultTimers, type Timers } from './timers.js'
import type { WebSocketConstructor } from './websocket-connection.js'
import type { TransportName } from './connection.js'
import type { EventSourceConstructor } from './sse-connection.js'
import { withQuery } from './url.js'

/** A transport of the `transports` option. */
export type TransportOption = 'websocket' | 'sse' | 'polling'

const transportNames: Record<TransportOption, TransportName> = { websocket: 'websocket', sse: 'sse', polling: 'long-polling' }

/** Where and how to long-poll when the WebSocket cannot connect. */
export interface LongPollingClientOptions {
  /** `http(s)://host:port` of the server (default: the origin of `url`). */
  baseUrl?: string
  /** Path of the poll endpoint (default `/ws/poll`). */
  pollPath?: string
  /** Path of the send endpoint (default `/ws/send`). */
  sendPath?: string
  /** How long the server may hold one poll, ms (default 25000). */
  wait?: number
  /** Fall back after this many WebSocket attempts in a row that never opened (default 2). */
  afterFailures?: number
  /**
   * After a fallback, try a WebSocket in the background every this many ms
   * while open on long polling, and switch back when it opens (default 30000;
   * `0` or `false`: stay on long polling).
   */
  upgradeInterval?: number | false
}

/** The client's `getToken` option: a new token, or nothing (`''`, `null`, `undefined`) when the user has none any more. */
export type GetToken = () => string | null | undefined | Promise<string | null | undefined>

/** Options of {@link VixClient}. Only `url` is required. */
export interface VixClientOptions {
  /** The WebSocket endpoint, e.g. `wss://example.com/ws` (`http(s)` is turned into `ws(s)`). */
  url: string
  /** WebSocket class: default `globalThis.WebSocket`; in Node 20 pass `WebSocket` from `ws`; `null`: long polling only. */
  WebSocket?: WebSocketConstructor | null
  /** Third argument to the WebSocket constructor (for `ws`: `{ headers }`, an agent...). */
  webSocketOptions?: unknown
  /** fetch implementation for long polling (default `globalThis.fetch`). */
  fetch?: FetchLike
  /** Headers for every long-polling request (e.g. `authorization`); a function is called per request. */
  headers?: HeadersOption
  /** Query parameters added to every URL (e.g. a token, since browsers cannot set WebSocket headers). */
  query?: Record<string, string>
  /**
   * Fetch a connection token (see `Tokens`): called before the first connection (unless `query` has one),
   * on `session.expiring` (sent in-band as `auth.refresh`) and before a reconnect after the token
   * expired or was refused; carried as the `tokenParam` query parameter. No token: `unauthorized`.
   */
  getToken?: GetToken
  /** The query parameter that carries the token of `getToken` (default `token`). */
  tokenParam?: string
  /** Long-polling fallback, or `false` for WebSocket only. */
  longPolling?: LongPollingClientOptions | false
  /**
   * Transports in order of preference (default `['websocket', 'sse', 'polling']`;
   * `['websocket']` with `longPolling: false`).
   * The first that can be used is tried first; the next ones only when
   * WebSocket fails while plain HTTP to the server works, never because the
   * server is down. `['sse']` alone suits a read-mostly page. One without what it needs
   * (no WebSocket class; `longPolling: false`; no fetch) is left out.
   */
  transports?: TransportOption[]
  /** EventSource class for SSE: default `globalThis.EventSource` (browsers); `null`, or `headers` given: the stream is read with fetch. */
  EventSource?: EventSourceConstructor | null
  /** Reconnection timing, or `false` to never reconnect. */
  reconnect?: Partial<ReconnectOptions> | false
  /** How long `join`, `leave` and `publish` wait for the server's ack, ms (default 10000). */
  timeout?: number
  /** How long a WebSocket may stay connecting, ms (default 10000). */
  connectTimeout?: number
  /** Largest publish in UTF-8 bytes, as the server's `maxMessageSize` (default 65536): larger ones reject with `VIX_ERR_PAYLOAD_TOO_LARGE` instead of being sent. */
  maxMessageSize?: number
  /** Message ids remembered per room to drop duplicates (default 1000). */
  dedupeWindow?: number
  /**
   * Rejoins that fill a hole in a room's positions: the first at once, the
   * next ones after an exponential backoff from `minDelay` (default 100 ms)
   * capped at `maxDelay` (default 5000 ms), with `reconnect.jitter`; after
   * `maxAttempts` rejoins (default 5) that do not fill it, `recovery_failed`.
   */
  gapRecovery?: Partial<GapRecoveryOptions>
  /** Node only: `unref()` the client's timers so they do not keep the process alive (default false). */
  autoUnref?: boolean
  /** Timer functions (a fake clock in tests). */
  timers?: Timers
  /** Random source for jitter, 0 <= x < 1 (default `Math.random`). */
  random?: () => number
}

/** Timing of the rejoins that fill a gap (milliseconds). */
export interface GapRecoveryOptions {
  minDelay: number
  maxDelay: number
  maxAttempts: number
}

export const gapRecoveryDefaults: GapRecoveryOptions = { minDelay: 100, maxDelay: 5000, maxAttempts: 5 }

/** Query parameters added to each HTTP request when it is made (the latest token of `getToken`). */
export type QueryParams = () => Record<string, string> | undefined

export interface ResolvedOptions {
  url: string
  WebSocket: WebSocketConstructor | undefined
  webSocketOptions: unknown
  fetch: FetchLike | undefined
  headers: HeadersOption | undefined
  longPolling: { pollUrl: string, createUrl?: string, sendUrl: string, wait: number, afterFailures: number, upgradeInterval: number, params?: QueryParams } | false
  /** The transports that can be used, in order (never empty). */
  transports: TransportName[]
  /** The SSE stream (with the `client_key`) and send URLs; `false` when SSE is not listed or there is no fetch. */
  sse: { url: string, sendUrl: string, params?: QueryParams } | false
  EventSource: EventSourceConstructor | undefined
  /** WebSocket attempts that never opened before HTTP is checked and, when it works, the next transport tried. */
  afterFailures: number
  /** After a fallback, a WebSocket is tried every this many ms (0: never). */
  upgradeInterval: number
  /** Fetched when WebSocket keeps failing: any answer means HTTP reaches the server (it is not down). */
  checkUrl: string | undefined
  reconnect: ReconnectOptions | false
  timeout: number
  connectTimeout: number
  dedupeWindow: number
  /** With `factor` 2 and `jitter` from `reconnect` (0.5 when reconnect is off). */
  gapRecovery: GapRecoveryOptions & { factor: number, jitter: number }
  maxMessageSize: number
  autoUnref: boolean
  timers: Timers
  random: () => number
}

function invalid (name: string, why: string): VixClientError {
  return new VixClientError(ClientErrorCodes.INVALID_OPTION, `Invalid option "${name}": ${why}`)
}

function checkNumber (name: string, value: number, min: number, integer = false): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (integer && !Number.isInteger(value) && value !== Infinity)) {
    throw invalid(name, `expected a${integer ? 'n integer' : ' number'} >= ${min}, got ${String(value)}`)
  }
  return value
}

/** A timer delay, or `false`/`0` for never: setTimeout fires at once on anything above 2^31 - 1 ms. */
function checkInterval (name: string, value: number | false): number {
  if (value === false) return 0
  if (checkNumber(name, value, 0) > MAX_TIMER_DELAY) throw invalid(name, `expected at most ${MAX_TIMER_DELAY} ms (or false), got ${String(value)}`)
  return value
}

const MAX_TIMER_DELAY = 2_147_483_647

/** Resolve defaults once and check every option, so a mistake fails at construction, not at the first reconnect. */
export function resolveOptions (options: VixClientOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalid('options', 'expected an object')
  const url = webSocketUrlOf(options.url)
  const globals = globalThis as unknown as { WebSocket?: WebSocketConstructor, fetch?: FetchLike, EventSource?: EventSourceConstructor }
  const WebSocketClass = options.WebSocket === null ? undefined : options.WebSocket ?? globals.WebSocket
  if (WebSocketClass !== undefined && typeof WebSocketClass !== 'function') throw invalid('WebSocket', 'expected a WebSocket class')
  const fetchFn = options.fetch ?? (typeof globals.fetch === 'function' ? globals.fetch.bind(globalThis) : undefined)
  if (fetchFn !== undefined && typeof fetchFn !== 'function') throw invalid('fetch', 'expected a function')
  const listed = transportsOf(options.transports, options.longPolling === false)
  const polling = options.longPolling === false ? {} : options.longPolling ?? {}
  const fallback = {
    afterFailures: checkNumber('longPolling.afterFailures', polling.afterFailures ?? 2, 1, true),
    upgradeInterval: checkInterval('longPolling.upgradeInterval', polling.upgradeInterval ?? 30_000)
  }
  const longPolling = longPollingOf(options, url, fetchFn, listed.includes('polling'), fallback)
  // One per client, on every session it opens: its resends across reconnects are one sender's (see newSenderKey).
  const sender = { client_key: newSenderKey() }
  if (longPolling !== false) longPolling.createUrl = withQuery(longPolling.pollUrl, sender)
  const http = httpOriginOf(options, url)
  const sse = listed.includes('sse') && fetchFn !== undefined
    ? { url: withQuery(withQuery(new URL('/ws/sse', http), options.query), sender), sendUrl: withQuery(new URL(sendPathOf(options), http), options.query) }
    : false
  const usable: Record<TransportOption, boolean> = { websocket: WebSocketClass !== undefined, sse: sse !== false, polling: longPolling !== false }
  const transports = listed.filter((name) => usable[name]).map((name) => transportNames[name])
  if (transports.length === 0) {
    throw invalid('transports', `none of ${JSON.stringify(listed)} can be used: no WebSocket class (Node 20 has none: pass \`WebSocket\` from the ws package), long polling is off, or no fetch for SSE`)
  }
  if (options.getToken !== undefined) checkTokenOptions(options.getToken, options.tokenParam ?? 'token')
  const reconnect = reconnectOf(options.reconnect)
  const gapRecovery = gapRecoveryOf(options.gapRecovery, reconnect)
  return {
    url: withQuery(withQuery(url, options.query), sender),
    WebSocket: WebSocketClass,
    webSocketOptions: options.webSocketOptions,
    fetch: fetchFn,
    headers: options.headers,
    longPolling,
    transports,
    sse,
    EventSource: options.EventSource === null ? undefined : options.EventSource ?? globals.EventSource,
    ...fallback,
    checkUrl: fetchFn === undefined ? undefined : withQuery(new URL('/ws/health', http), options.query),
    reconnect,
    timeout: checkNumber('timeout', options.timeout ?? 10_000, 1),
    connectTimeout: checkNumber('connectTimeout', options.connectTimeout ?? 10_000, 1),
    dedupeWindow: checkNumber('dedupeWindow', options.dedupeWindow ?? 1000, 1, true),
    gapRecovery,
    maxMessageSize: checkNumber('maxMessageSize', options.maxMessageSize ?? 65_536, 1, true),
    autoUnref: options.autoUnref ?? false,
    timers: options.timers ?? defaultTimers(),
    random: options.random ?? Math.random
  }
}

/** Checked here, at construction: the tokens' own module is loaded later (a chunk of the browser bundle). */
function checkTokenOptions (getToken: unknown, param: unknown): void {
  if (typeof getToken !== 'function') throw invalid('getToken', 'expected a function')
  if (typeof param !== 'string' || param === '') throw invalid('tokenParam', 'expected a query parameter name')
}

/** `url` as a WebSocket URL: `http(s)` becomes `ws(s)`. */
function webSocketUrlOf (value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalid('url', `not a URL: ${String(value)}`)
  }
  if (url.protocol === 'http:') url.protocol = 'ws:'
  else if (url.protocol === 'https:') url.protocol = 'wss:'
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw invalid('url', 'expected ws:, wss:, http: or https:')
  return url
}

/** Transports as listed (default websocket, sse, polling; websocket alone with `longPolling: false`), checked. */
function transportsOf (option: TransportOption[] | undefined, webSocketOnly: boolean): TransportOption[] {
  // `longPolling: false` has always meant "WebSocket only".
  const listed = option ?? (webSocketOnly ? ['websocket'] : ['websocket', 'sse', 'polling'])
  if (!Array.isArray(listed) || listed.length === 0 || listed.some((name) => !Object.hasOwn(transportNames, name)) || new Set(listed).size !== listed.length) {
    throw invalid('transports', `expected a non-empty list of distinct "websocket", "sse", "polling", got ${JSON.stringify(option)}`)
  }
  return listed
}

/** The HTTP origin of polling and SSE: the WebSocket's, unless `longPolling.baseUrl` says otherwise. */
function httpOriginOf (options: VixClientOptions, url: URL): string {
  const polling = options.longPolling === false ? {} : options.longPolling ?? {}
  try {
    return new URL(polling.baseUrl ?? `${url.protocol === 'wss:' ? 'https:' : 'http:'}//${url.host}`).origin
  } catch {
    throw invalid('longPolling.baseUrl', `not a URL: ${String(polling.baseUrl)}`)
  }
}

function sendPathOf (options: VixClientOptions): string {
  return (options.longPolling === false ? undefined : options.longPolling?.sendPath) ?? '/ws/send'
}

/** The poll and send URLs (on the WebSocket's origin unless `baseUrl` says otherwise) and the fallback's timing; `false` when off. */
function longPollingOf (options: VixClientOptions, url: URL, fetchFn: FetchLike | undefined, listed: boolean, fallback: { afterFailures: number, upgradeInterval: number }): ResolvedOptions['longPolling'] {
  if (options.longPolling === false || !listed) return false
  const polling = options.longPolling ?? {}
  const origin = httpOriginOf(options, url)
  if (fetchFn === undefined) throw invalid('fetch', 'long polling needs fetch: pass one or set longPolling: false')
  return {
    pollUrl: withQuery(new URL(polling.pollPath ?? '/ws/poll', origin), options.query),
    sendUrl: withQuery(new URL(sendPathOf(options), origin), options.query),
    wait: checkNumber('longPolling.wait', polling.wait ?? 25_000, 0, true),
    ...fallback
  }
}

function reconnectOf (option: VixClientOptions['reconnect']): ReconnectOptions | false {
  if (option === false) return false
  const reconnect = { ...reconnectDefaults, ...option }
  checkNumber('reconnect.minDelay', reconnect.minDelay, 0)
  checkNumber('reconnect.maxDelay', reconnect.maxDelay, reconnect.minDelay)
  checkNumber('reconnect.factor', reconnect.factor, 1)
  if (checkNumber('reconnect.jitter', reconnect.jitter, 0) > 1) throw invalid('reconnect.jitter', 'expected 0..1')
  checkNumber('reconnect.maxAttempts', reconnect.maxAttempts, 1, true)
  return reconnect
}

function gapRecoveryOf (option: VixClientOptions['gapRecovery'], reconnect: ReconnectOptions | false): ResolvedOptions['gapRecovery'] {
  const gapRecovery = { ...gapRecoveryDefaults, ...option, factor: 2, jitter: reconnect === false ? 0.5 : reconnect.jitter }
  checkNumber('gapRecovery.minDelay', gapRecovery.minDelay, 0)
  checkNumber('gapRecovery.maxDelay', gapRecovery.maxDelay, gapRecovery.minDelay)
  if (gapRecovery.maxDelay > MAX_TIMER_DELAY) throw invalid('gapRecovery.maxDelay', `expected at most ${MAX_TIMER_DELAY} ms, got ${String(gapRecovery.maxDelay)}`)
  checkNumber('gapRecovery.maxAttempts', gapRecovery.maxAttempts, 1, true)
  if (gapRecovery.maxAttempts === Infinity) throw invalid('gapRecovery.maxAttempts', 'expected a finite number: a gap that cannot be filled must end')
  return gapRecovery
}
