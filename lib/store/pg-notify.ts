import type pg from 'pg'
import type { Logger } from '../hub/types.js'
import { optionalPackage } from '../optional.js'

const pgDriver = optionalPackage<typeof pg>('pg', 'store.listen')

/** The NOTIFY channel of a store's schema (at most 63 bytes, PostgreSQL's identifier length). */
export function notifyChannel (schema: string): string {
  return `vix_${schema}`.slice(0, 63)
}

/**
 * The SQL that rings a doorbell on `channel` (SQL expressions all three):
 * the payload is `<offset> <room>`, never the message (NOTIFY stops at 8000
 * bytes; the node reads it by position).
 */
export function doorbellSql (channel: string, offset: string, room: string): string {
  return `pg_notify(${channel}, ${offset}::text || ' ' || ${room})`
}

/** The room and offset of a doorbell's payload, or null for anything else. */
export function parseDoorbell (payload: string | undefined): { room: string, offset: number } | null {
  const space = payload?.indexOf(' ') ?? -1
  if (payload === undefined || space <= 0) return null
  const offset = Number(payload.slice(0, space))
  if (!Number.isSafeInteger(offset) || offset < 1) return null
  return { room: payload.slice(space + 1), offset }
}

/** What the listener tells the node. */
export interface PgNotifyParts {
  /** A committed message was announced: `offset` of `room`. */
  notified: (room: string, offset: number) => void
  /** The LISTEN connection opened (again): announcements may have been missed meanwhile; `again`: not the first time. */
  listening: (again: boolean) => void
  logger: Logger
}

export interface PgNotifyOptions {
  /** The connection of its own (a direct one: LISTEN does not work through a transaction-mode pooler). */
  connection: pg.ClientConfig
  channel: string
  /** First wait before reconnecting, in ms; doubles per failure up to `retryMax` (defaults 100 and 2000). */
  retryMin?: number
  retryMax?: number
}

/**
 * `LISTEN` on a dedicated PostgreSQL connection: each notification is a
 * doorbell (room, offset). The connection is reopened with capped backoff
 * whenever it breaks, and each (re)open is reported so the node catches up by
 * position: a missed notification delays a message, never loses it.
 *
 * @example
 * const listener = new PgNotifyListener({ notified: (room, offset) => streams.ring(room, offset), listening: () => streams.resync(), logger }, { connection: { connectionString }, channel: notifyChannel('public') })
 * listener.start()
 * await listener.close()
 */
export class PgNotifyListener {
  private client: pg.Client | null = null
  private timer: ReturnType<typeof setTimeout> | null = null
  private closed = false
  private failures = 0
  private opened = 0
  private connecting: Promise<void> | null = null

  constructor (private readonly parts: PgNotifyParts, private readonly options: PgNotifyOptions) {}

  start (): void {
    this.attempt()
  }

  private attempt (): void {
    this.timer = null
    this.connecting = this.connect().finally(() => { this.connecting = null })
  }

  private async connect (): Promise<void> {
    if (this.closed) return
    const client = new (pgDriver().Client)({ keepAlive: true, connectionTimeoutMillis: 5000, ...this.options.connection })
    // A broken connection emits 'error' then 'end': the reconnect is scheduled on 'end'.
    client.on('error', () => {})
    client.on('notification', (message) => {
      const doorbell = message.channel === this.options.channel ? parseDoorbell(message.payload) : null
      if (doorbell !== null) this.parts.notified(doorbell.room, doorbell.offset)
    })
    client.on('end', () => { this.lost(client) })
    try {
      await client.connect()
      await client.query(`LISTEN "${this.options.channel}"`)
    } catch (error) {
      if (this.failures++ === 0 && !this.closed) this.parts.logger.warn({ err: error }, 'vix-realtime: the LISTEN connection to PostgreSQL failed; retrying (committed messages are caught up by position)')
      await client.end().catch(() => {})
      this.schedule()
      return
    }
    if (this.closed) {
      await client.end().catch(() => {})
      return
    }
    this.client = client
    this.failures = 0
    this.parts.listening(this.opened++ > 0)
  }

  private lost (client: pg.Client): void {
    if (this.client !== client) return
    this.client = null
    if (this.closed) return
    this.parts.logger.warn({}, 'vix-realtime: the LISTEN connection to PostgreSQL broke; reconnecting')
    this.schedule()
  }

  private schedule (): void {
    if (this.closed || this.timer !== null) return
    const { retryMin = 100, retryMax = 2000 } = this.options
    this.timer = setTimeout(() => { this.attempt() }, Math.min(retryMax, retryMin * 2 ** Math.min(this.failures, 16)))
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.connecting
    const client = this.client
    this.client = null
    await client?.end().catch(() => {})
  }
}
