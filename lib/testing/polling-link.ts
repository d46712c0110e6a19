import type { InProcessApp } from './app.js'
import type { VixMessage } from '../client/protocol.js'
import type { TestLink, TestLinkSink } from './link.js'
import { toFrame } from './link.js'

/** The close a long-poll session gets when the server forgot it (swept, closed by server code, or unknown): its poll answered 404. */
export const SESSION_GONE = 4404

/** The close a long-poll session gets when the app was closed before it could poll again (as a dropped connection: 1006). */
export const SERVER_CLOSED = 1006

const isTyped = (value: unknown): value is VixMessage =>
  value !== null && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string'

/**
 * A long-poll session through `app.inject`: created by `GET <path>/poll`,
 * fed by `POST <path>/send` (`query` and `headers` on every request, as the client sends them), read by polls with `wait=0` (so no poll is ever
 * held open and nothing waits on the server's timers), each acking what the
 * last one returned.
 */
export async function openPollingLink (app: InProcessApp, path: string, query: Record<string, string>, headers: Record<string, string>, sink: TestLinkSink): Promise<TestLink> {
  const created = await app.inject({ url: `${path}/poll`, query, headers })
  if (created.statusCode !== 200) throw new Error(`vix-realtime/testing: GET ${path}/poll answered ${created.statusCode} ${created.body}`)
  const sessionId: string = created.json().session_id
  let next: number = created.json().next
  let open = true

  const end = (code: number, reason: string): void => {
    if (!open) return
    open = false
    sink.end({ code, reason })
  }

  const poll = async (): Promise<void> => {
    if (!open) return
    let response
    try {
      response = await app.inject({ url: `${path}/poll`, query: { ...query, session_id: sessionId, ack: String(next), wait: '0' }, headers })
    } catch (error) {
      // The app was closed under the session (inject refuses once app.close() began).
      end(SERVER_CLOSED, (error as Error).message)
      return
    }
    if (response.statusCode === 404) { end(SESSION_GONE, 'session not found'); return }
    if (response.statusCode !== 200) throw new Error(`vix-realtime/testing: poll answered ${response.statusCode} ${response.body}`)
    const body = response.json()
    next = body.next
    for (const message of body.messages as unknown[]) {
      // A raw text frame comes as the string, or, when that text is JSON, as its value.
      const frame = isTyped(message) ? message : toFrame(typeof message === 'string' ? message : JSON.stringify(message))
      sink.frame(frame)
      if (frame.kind === 'system' && frame.type === 'server.going_away') end(1001, 'server going away')
    }
  }

  let inFlight: Promise<void> | undefined

  return {
    send: async (text, id) => {
      if (!open) return
      const response = await app.inject({ method: 'POST', url: `${path}/send`, query: { ...query, session_id: sessionId }, headers: { ...headers, 'content-type': 'application/json' }, payload: text })
      if (response.statusCode === 202) return
      const body = response.json()
      const frame = { kind: 'error' as const, type: 'error', ts: new Date().toISOString(), payload: { ...body, status: response.statusCode } }
      sink.frame(id === undefined ? frame : { ...frame, id })
    },
    // One poll at a time, as the server wants (a second would be answered 409): concurrent waits share it.
    pull: async () => {
      inFlight ??= poll().finally(() => { inFlight = undefined })
      await inFlight
    },
    close: async () => {
      if (!open) return
      open = false
      // A closed app has ended the session already.
      await app.inject({ method: 'DELETE', url: `${path}/poll`, query: { ...query, session_id: sessionId }, headers }).catch(() => {})
      sink.end({ code: 1000, reason: '' })
    }
  }
}
