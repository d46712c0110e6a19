import type { Transport } from '../../lib/session.js'

/** An in-memory transport for hub unit tests: records what was sent and how it closed. */
export class FakeTransport implements Transport {
  readonly name = 'fake'
  readonly sent: string[] = []
  buffered = 0
  closedWith: { code: number, reason: string } | undefined
  terminated = false

  send (data: string | Buffer): void { this.sent.push(String(data)) }
  bufferedAmount (): number { return this.buffered }
  close (code: number, reason: string): void { this.closedWith = { code, reason } }
  terminate (): void { this.terminated = true }

  /** Parsed frames sent so far. */
  frames (): any[] {
    return this.sent.map((text) => JSON.parse(text))
  }
}
