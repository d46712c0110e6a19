import type { VixMessage } from '../client/protocol.js'

/** How a test client's connection ended: a WebSocket close code, or (long polling) 1000 for a session ended by `close()` and 1001 / 4404 for one the server ended or forgot. */
export interface TestClose {
  code: number
  reason: string
}

/** What the test client needs of a transport: frames out, frames in, an end. */
export interface TestLink {
  /** Hand one frame (a JSON text, or raw text) to the server; a refusal the transport answers in HTTP comes back as an error frame. */
  send: (text: string, id?: string) => Promise<void>
  /** Fetch whatever the server queued (long polling polls once; WebSocket pushes, so nothing). */
  pull: () => Promise<void>
  close: () => Promise<void>
}

/** Where a link delivers: each frame the server sent, and the end. */
export interface TestLinkSink {
  frame: (frame: VixMessage) => void
  end: (close: TestClose) => void
}

/** A frame's text as the server sent it, typed when it is a JSON object with a `type` (else a `raw` system frame carrying the text). */
export function toFrame (text: string): VixMessage {
  try {
    const value: unknown = JSON.parse(text)
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof (value as VixMessage).type === 'string') return value as VixMessage
  } catch {}
  return { kind: 'system', type: 'raw', ts: new Date(0).toISOString(), payload: { text } }
}
