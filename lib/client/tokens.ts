import type { Emitter } from './emitter.js'
import type { VixClientError } from './errors.js'
import type { ClientState } from './events.js'
import type { GetToken, ResolvedOptions } from './options.js'
import type { ClientParts } from './parts.js'

/** What the tokens need from the client. */
export interface TokenHost {
  /** Send `auth.refresh` `{ token }` and wait for its ack (rejects with the server's code). */
  refresh: (token: string) => Promise<unknown>
  /** No token, or a refused one: stop for good, in the `unauthorized` state. */
  unauthorized: (error: VixClientError) => void
}

/** Server codes that mean the token itself was refused. */
const REFUSED = new Set<string>(['VIX_ERR_UNAUTHORIZED', 'VIX_ERR_TOKEN_EXPIRED'])

/**
 * The connection token, when the client has a `getToken` option: carried as
 * the `tokenParam` query parameter (default `token`) of the WebSocket URL and
 * of every long-polling request, so each reconnect uses the latest one.
 * Fetched before the first connection (unless `query` has one), before a
 * reconnect after the token expired (close `4001`) or was refused (HTTP 401),
 * and on `session.expiring`, when it is sent in-band (`auth.refresh`). At most
 * one `getToken` runs at a time. No token, a throwing `getToken`, a refused
 * refresh, or a 401 with a token just fetched end in `unauthorized`: the
 * client stops, it does not loop.
 *
 * @example
 * const tokens = new Tokens(getToken, 'token', undefined, resolved, events, host, clientParts)
 * await tokens.beforeConnect() // true: connect; false: unauthorized
 */
export class Tokens {
  private inFlight_: Promise<string | undefined> | undefined
  /** A token must be fetched before the next connection. */
  private stale_: boolean
  /** The token was fetched for the next connection: a 401 with it is final. */
  private fresh_ = false
  private refused_: VixClientError | undefined

  constructor (
    private readonly getToken_: GetToken,
    private readonly param_: string,
    private token_: string | undefined,
    private readonly options_: ResolvedOptions,
    events: Emitter,
    private readonly host_: TokenHost,
    /** The client's error class and URL helper: this module is a chunk of the browser bundle (see `ClientParts`). */
    private readonly parts_: ClientParts
  ) {
    this.stale_ = token_ === undefined || token_ === ''
    const params = (): Record<string, string> | undefined => this.token_ === undefined ? undefined : { [this.param_]: this.token_ }
    if (options_.longPolling !== false) options_.longPolling.params = params
    if (options_.sse !== false) options_.sse.params = params
    events.add('close', (info: { code: number }) => { if (info.code === 4001) this.stale_ = true })
    events.add('error', (error: VixClientError) => { this.failedAttempt_(error) })
    events.add('open', () => { this.fresh_ = false })
    events.add('state', (state: ClientState, previous: ClientState) => {
      // A new connect() after `unauthorized` starts over with a new token.
      if (state === 'connecting' && previous === 'unauthorized') {
        this.refused_ = undefined
        this.stale_ = true
      }
    })
  }

  /** Before each connection attempt: true to go on now; a promise when a token is fetched first; false when stopped. */
  beforeConnect (): boolean | Promise<boolean> {
    if (this.refused_ !== undefined) {
      this.host_.unauthorized(this.refused_)
      return false
    }
    if (!this.stale_) return true
    return this.fetch_().then((token) => {
      if (token === undefined) return false
      this.use_(token)
      return true
    })
  }

  /** `session.expiring`: fetch a token and send it in-band; a refusal ends in `unauthorized`. */
  expiring (): void {
    if (this.inFlight_ !== undefined) return
    this.fetch_().then(async (token) => {
      if (token === undefined) return
      try {
        await this.host_.refresh(token)
        // Only once the server took it: until then the old token is the one this session's requests carry.
        this.use_(token)
        this.fresh_ = false
      } catch (error) {
        // A timeout or a lost connection: the next connection carries the new token anyway.
        if (error instanceof this.parts_.VixClientError && REFUSED.has(error.code)) this.host_.unauthorized(error)
      }
    }).catch(() => {})
  }

  /** A `session.closed` frame: an expired token is replaced before the reconnect. */
  closedBy (error: unknown): void {
    if (error === 'VIX_ERR_TOKEN_EXPIRED') this.stale_ = true
  }

  private failedAttempt_ (error: VixClientError): void {
    if (error.status !== 401) return
    if (this.fresh_) this.refused_ = new this.parts_.VixClientError('VIX_ERR_UNAUTHORIZED', `The server refused a token just fetched: ${error.message}`, { status: 401 })
    this.stale_ = true
  }

  /** One `getToken` at a time; nothing from it is `unauthorized` (the token is not used yet). */
  private async fetch_ (): Promise<string | undefined> {
    this.inFlight_ ??= this.fetchOnce_().finally(() => { this.inFlight_ = undefined })
    return await this.inFlight_
  }

  private async fetchOnce_ (): Promise<string | undefined> {
    let token: string | null | undefined
    try {
      token = await this.getToken_()
    } catch (error) {
      this.host_.unauthorized(new this.parts_.VixClientError('VIX_ERR_UNAUTHORIZED', `getToken failed: ${(error as Error)?.message ?? String(error)}`, { cause: error }))
      return undefined
    }
    if (typeof token !== 'string' || token === '') {
      this.host_.unauthorized(new this.parts_.VixClientError('VIX_ERR_UNAUTHORIZED', 'getToken gave no token'))
      return undefined
    }
    return token
  }

  /** From now on, every connection and long-polling request carries `token`. */
  private use_ (token: string): void {
    this.token_ = token
    this.stale_ = false
    this.fresh_ = true
    this.options_.url = this.parts_.withQuery(this.options_.url, { [this.param_]: token })
  }
}
