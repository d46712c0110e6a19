/** The part of a fetch `Response` the client reads (`body`: a stream, for SSE without EventSource). */
export interface ResponseLike {
  readonly status: number
  readonly headers: { get: (name: string) => string | null }
  json: () => Promise<unknown>
  readonly body?: { getReader: () => { read: () => Promise<{ done: boolean, value?: Uint8Array }>, cancel: () => Promise<void> } } | null
}

/** The part of `fetch` the client uses; the global `fetch` of browsers and Node 20 fits. */
export type FetchLike = (url: string, init: {
  method: string
  headers: Record<string, string>
  body?: string
  signal: AbortSignal
  /** Set on the request that ends the session as the client closes: it may outlive a closing page. */
  keepalive?: boolean
}) => Promise<ResponseLike>

/** Extra request headers (a token...), or a function called before every request so a token can be refreshed. */
export type HeadersOption = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>)
