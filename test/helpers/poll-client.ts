import http from 'node:http'
import type { FastifyInstance } from 'fastify'
import { waitFor } from './wait.js'

/** A long-poll client over `app.inject`: it keeps the session id and acks what it received. */
export class PollClient {
  next = 0
  readonly received: any[] = []

  constructor (readonly app: FastifyInstance, readonly sessionId: string, readonly headers: Record<string, string> = {}, readonly prefix = '/ws') {}

  /** Create a session (`GET /ws/poll`, with `query`) and return a client for it. */
  static async create (app: FastifyInstance, headers: Record<string, string> = {}, prefix = '/ws', query: Record<string, string> = {}): Promise<PollClient> {
    const response = await app.inject({ url: `${prefix}/poll`, query, headers })
    if (response.statusCode !== 200) throw new Error(`create failed: ${response.statusCode} ${response.body}`)
    const client = new PollClient(app, response.json().session_id, headers, prefix)
    client.next = response.json().next
    return client
  }

  /** Poll once, acking the last `next` (unless `ack` is given, or null to send none). */
  async poll (query: { ack?: number | null, wait?: number, max?: number } = {}): Promise<{ statusCode: number, body: any }> {
    const params = new URLSearchParams({ session_id: this.sessionId, wait: String(query.wait ?? 0) })
    const ack = query.ack === undefined ? this.next : query.ack
    if (ack !== null) params.set('ack', String(ack))
    if (query.max !== undefined) params.set('max', String(query.max))
    const response = await this.app.inject({ url: `${this.prefix}/poll?${params.toString()}`, headers: this.headers })
    const body = response.json()
    if (response.statusCode === 200) {
      this.next = body.next
      this.received.push(...body.messages)
    }
    return { statusCode: response.statusCode, body }
  }

  /** Poll until `count` received frames match `predicate`. */
  async pollUntil (predicate: (frame: any) => boolean, count = 1, timeoutMs = 3000): Promise<any[]> {
    return await waitFor(() => {
      const found = this.received.filter(predicate)
      return found.length >= count && found
    }, {
      timeout: timeoutMs,
      next: (remaining) => this.poll({ wait: Math.min(500, remaining) }),
      message: () => `only ${this.received.filter(predicate).length}/${count} matching frames within ${timeoutMs} ms; got ${JSON.stringify(this.received)}`
    })
  }

  /** `POST /ws/send` as this session. */
  async send (message: unknown): Promise<{ statusCode: number, body: any }> {
    const response = await this.app.inject({
      method: 'POST',
      url: `${this.prefix}/send?session_id=${this.sessionId}`,
      headers: { ...this.headers, 'content-type': 'application/json' },
      payload: typeof message === 'string' ? message : JSON.stringify(message)
    })
    return { statusCode: response.statusCode, body: response.json() }
  }

  /** Join a room and wait (by polling) for the ack. */
  async join (room: string, since?: string): Promise<any> {
    const sent = await this.send({ type: 'room.join', payload: since === undefined ? { room } : { room, since } })
    if (sent.statusCode !== 202) throw new Error(`join failed: ${sent.statusCode} ${JSON.stringify(sent.body)}`)
    const [ack] = await this.pollUntil((f) => f.kind === 'ack' && f.type === 'room.join' && f.room === room)
    return ack
  }
}

/** A `chat.message` to `room`, with an `id` when one is given. */
export const chatMessage = (room: string, text: string, id?: string): Record<string, unknown> =>
  id === undefined ? { room, type: 'chat.message', payload: { text } } : { id, room, type: 'chat.message', payload: { text } }

/** A real HTTP GET on its own connection (a poll held open, which `app.inject` cannot abandon); resolves with status and parsed body. */
export async function httpGet (url: string, signal?: AbortSignal): Promise<{ statusCode: number, body: any, headers: http.IncomingHttpHeaders }> {
  return await new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, signal }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => { resolve({ statusCode: response.statusCode as number, body: JSON.parse(text), headers: response.headers }) })
      response.on('error', reject)
    })
    request.on('error', reject)
  })
}
