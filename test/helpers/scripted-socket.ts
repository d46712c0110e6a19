/** A WebSocket the test drives by hand: open it, make the server "send", read what the client sent. */
export class ScriptedSocket {
  static sockets: ScriptedSocket[] = []
  readyState = 0
  binaryType = 'blob'
  onopen: ((e: unknown) => void) | null = null
  onmessage: ((e: unknown) => void) | null = null
  onclose: ((e: unknown) => void) | null = null
  onerror: ((e: unknown) => void) | null = null
  readonly sent: any[] = []
  /** Did the client close it? */
  closed = false

  constructor (readonly url: string) {
    ScriptedSocket.sockets.push(this)
  }

  send (data: string): void { this.sent.push(JSON.parse(data)) }
  close (): void { this.readyState = 3; this.closed = true }
  open (): void { this.readyState = 1; this.onopen?.({}) }
  receive (frame: unknown): void { this.onmessage?.({ data: JSON.stringify(frame) }) }
  drop (): void { this.readyState = 3; this.onclose?.({ code: 1006, reason: '' }) }
}
