import { request } from 'node:http'
import { connect as tcpConnect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'

/** What a refused upgrade answered (status, headers, JSON body); null when it was upgraded (the socket is then closed). */
export async function upgradeAnswer (url: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: any } | null> {
  const target = new URL(url)
  return await new Promise((resolve, reject) => {
    const req = request({
      host: target.hostname,
      port: target.port,
      path: target.pathname + target.search,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers }
    })
    req.on('upgrade', (_res, socket) => { socket.destroy(); resolve(null) })
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => {
        let body: unknown = text
        try { body = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * One WebSocket frame built by hand (RFC 6455 §5.2), the way ws's own tests
 * do: any opcode, FIN and RSV bits, masked or not, of any length.
 */
export function frame (opcode: number, payload: Buffer, options: { fin?: boolean, rsv?: number, mask?: boolean } = {}): Buffer {
  const fin = options.fin ?? true
  const masked = options.mask ?? true
  const length = payload.length
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8
  const header = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0))
  header[0] = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode
  header[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127)
  if (lengthBytes === 2) header.writeUInt16BE(length, 2)
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2)
  if (!masked) return Buffer.concat([header, payload])
  const key = randomBytes(4)
  key.copy(header, 2 + lengthBytes)
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4]
  return Buffer.concat([header, body])
}

/** A raw TCP client that has done a WebSocket handshake: write bytes, read what comes back. */
export class RawSocket {
  private buffer = Buffer.alloc(0)
  readonly ended: Promise<void>

  constructor (readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => { this.buffer = Buffer.concat([this.buffer, chunk]) })
    socket.on('error', () => {})
    this.ended = new Promise((resolve) => { socket.once('close', () => { resolve() }) })
  }

  write (bytes: Buffer): boolean {
    return this.socket.write(bytes)
  }

  /** The close code of the first close frame the server sent (waits for the connection to end). */
  async closeCode (): Promise<number | undefined> {
    await this.ended
    return parseCloseCode(this.buffer)
  }

  destroy (): void {
    this.socket.destroy()
  }
}

/** Scan server frames (unmasked) for the first close frame and return its code. */
export function parseCloseCode (bytes: Buffer): number | undefined {
  let offset = 0
  while (offset + 2 <= bytes.length) {
    const opcode = bytes[offset] & 0x0f
    let length = bytes[offset + 1] & 0x7f
    let start = offset + 2
    if (length === 126) { length = bytes.readUInt16BE(start); start += 2 } else if (length === 127) { length = Number(bytes.readBigUInt64BE(start)); start += 8 }
    if (opcode === 0x8) return length >= 2 ? bytes.readUInt16BE(start) : 1005
    offset = start + length
  }
  return undefined
}

/** Open a TCP connection and do the WebSocket handshake by hand (optionally offering permessage-deflate). */
export async function rawUpgrade (port: number, path = '/ws', extraHeaders = '', localAddress?: string): Promise<RawSocket> {
  const socket = tcpConnect({ host: '127.0.0.1', port, localAddress })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n${extraHeaders}\r\n`)
  await new Promise<void>((resolve, reject) => {
    let head = ''
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      if (!head.startsWith('HTTP/1.1 101')) { reject(new Error(`handshake refused: ${head.slice(0, 40)}`)); return }
      const rest = Buffer.from(head.slice(end + 4), 'latin1')
      if (rest.length > 0) socket.unshift(rest)
      resolve()
    }
    socket.on('data', onData)
  })
  return new RawSocket(socket)
}
