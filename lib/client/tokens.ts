import type { Emitter } from './emitter.js'
import { ClientErrorCodes, VixClientError } from './errors.js'
import type { ClientState } from './events.js'
import { withQuery } from './long-polling-connection.js'
import type { GetToken, ResolvedOptions } from './options.js'

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
 * const tokens = new Tokens(getToken, 'token', undefined, resolved, events, host)
 * await tokens.beforeConnect() // true: connect; false: unauthorized
 */
export class Tokens {
  private inFlight: Promise<string | undefined> | undefined
  /** A token must be fetched before the next connection. */
  private stale: boolean
  /** The token was fetched for the next connection: a 401 with it is final. */
  private fresh = false
  private refused: VixClientError | undefined

  constructor (
    private readonly getToken: GetToken,
    private readonly param: string,
    private token: string | undefined,
    private readonly options: ResolvedOptions,
    events: Emitter,
    private readonly host: TokenHost
  ) {
    if (typeof getToken !== 'function') throw new VixClientError(ClientErrorCodes.INVALID_OPTION, 'Invalid option "getToken": expected a function')
    if (typeof param !== 'string' || param === '') throw new VixClientError(ClientErrorCodes.INVALID_OPTION, 'Invalid option "tokenParam": expected a query parameter name')
    this.stale = token === undefined || token === ''
    const params = (): Record<string, string> | undefined => this.token === undefined ? undefined : { [this.param]: this.token }
    if (options.longPolling !== false) options.longPolling.params = params
    if (options.sse !== false) options.sse.params = params
    events.add('close', (info: { code: number }) => { if (info.code === 4001) this.stale = true })
    events.add('error', (error: VixClientError) => { this.failedAttempt(error) })
    events.add('open', () => { this.fresh = false })
    events.add('state', (state: ClientState, previous: ClientState) => {
      // A new connect() after `unauthorized` starts over with a new token.
      if (state === 'connecting' && previous === 'unauthorized') {
        this.refused = undefined
        this.stale = true
      }
    })
  }

  /** Before each connection attempt: true to go on now; a promise when a token is fetched first; false when stopped. */
  beforeConnect (): boolean | Promise<boolean> {
    if (this.refused !== undefined) {
      this.host.unauthorized(this.refused)
      return false
    }
    if (!this.stale) return true
    return this.fetch().then((token) => {
      if (token === undefined) return false
      this.use(token)
      return true
    })
  }

  /** `session.expiring`: fetch a token and send it in-band; a refusal ends in `unauthorized`. */
  expiring (): void {
    if (this.inFlight !== undefined) return
    this.fetch().then(async (token) => {
      if (token === undefined) return
      try {
        await this.host.refresh(token)
        // Only once the server took it: until then the old token is the one this session's requests carry.
        this.use(token)
        this.fresh = false
      } catch (error) {
        // A timeout or a lost connection: the next connection carries the new token anyway.
        if (error instanceof VixClientError && REFUSED.has(error.code)) this.host.unauthorized(error)
      }
    }).catch(() => {})
  }

  /** A `session.closed` frame: an expired token is replaced before the reconnect. */
  closedBy (error: unknown): void {
    if (error === 'VIX_ERR_TOKEN_EXPIRED') this.stale = true
  }

  private failedAttempt (error: VixClientError): void {
    if (error.status !== 401) return
    if (this.fresh) this.refused = new VixClientError('VIX_ERR_UNAUTHORIZED', `The server refused a token just fetched: ${error.message}`, { status: 401 })
    this.stale = true
  }

  /** One `getToken` at a time; nothing from it is `unauthorized` (the token is not used yet). */
  private async fetch (): Promise<string | undefined> {
    this.inFlight ??= this.fetchOnce().finally(() => { this.inFlight = undefined })
    return await this.inFlight
  }

  private async fetchOnce (): Promise<string | undefined> {
    let token: string | null | undefined
    try {
      token = await this.getToken()
    } catch (error) {
      this.host.unauthorized(new VixClientError('VIX_ERR_UNAUTHORIZED', `getToken failed: ${(error as Error)?.message ?? String(error)}`, { cause: error }))
      return undefined
    }
    if (typeof token !== 'string' || token === '') {
      this.host.unauthorized(new VixClientError('VIX_ERR_UNAUTHORIZED', 'getToken gave no token'))
      return undefined
    }
    return token
  }

  /** From now on, every connection and long-polling request carries `token`. */
  private use (token: string): void {
    this.token = token
    this.stale = false
    this.fresh = true
    this.options.url = withQuery(this.options.url, { [this.param]: token })
  }
}
