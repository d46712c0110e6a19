// A minimal WebSocket client for load generation (bench/suite.ts): the HTTP
// upgrade by hand, then server frames are counted by reading their headers,
// not decoded, so one load-generator core can take far more deliveries per
// second than the servers measured can send. It answers pings (and Socket.IO
// pings) so connections can be held. Only 127.0.0.1.
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'

export interface RawClient {
  /** Data frames received since the last `reset`. */
  frames: number
  /** Text of the first frames (kept while `keep` > 0), for checks. */
  kept: string[]
  send: (text: string) => void
  reset: () => void
  close: () => void
  socket: Socket
  /** Called on every data frame (after counting). */
  onFrame: ((client: RawClient) => void) | null
  /** Set when the peer closed or the socket failed. */
  closed: boolean
}

/** A client at 0 frames over `socket` (which may stand for another library's client). */
export function newRawClient (socket: Socket, send: (text: string) => void, close: () => void): RawClient {
  const client: RawClient = { frames: 0, kept: [], socket, onFrame: null, closed: false, send, reset: () => { client.frames = 0 }, close }
  return client
}

/** A masked client text frame (mask key 0: the payload goes as it is, which the protocol allows). */
export function clientFrame (text: string, opcode = 1): Buffer {
  const payload = Buffer.from(text)
  const n = payload.length
  const header = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n, 0, 0, 0, 0]) : Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 255, 0, 0, 0, 0])
  return Buffer.concat([header, payload])
}

/**
 * Open one connection to `path` (`/ws`, or Socket.IO's `/socket.io/?EIO=4&transport=websocket`).
 * `socketIo`: answer engine.io pings ("2" -> "3") and connect to the main namespace.
 */
export async function rawClient (port: number, path: string, options: { socketIo?: boolean, keep?: number, timeoutMs?: number } = {}): Promise<RawClient> {
  const socket = connect({ host: '127.0.0.1', port })
  socket.setNoDelay(true)
  const key = randomBytes(16).toString('base64')
  const keep = options.keep ?? 0
  let buffer: Buffer = Buffer.alloc(0)
  let upgraded = false
  const client = newRawClient(socket, (text) => { socket.write(clientFrame(text)) }, () => { socket.destroy() })
  const opened = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`upgrade timed out (${path})`)), options.timeoutMs ?? 10_000)
    socket.on('error', (error) => { client.closed = true; clearTimeout(timer); reject(error) })
    socket.on('close', () => { client.closed = true })
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end === -1) return
        const head = buffer.subarray(0, end).toString()
        if (!head.startsWith('HTTP/1.1 101')) { reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`)); return }
        upgraded = true
        clearTimeout(timer)
        buffer = buffer.subarray(end + 4)
        resolve()
      }
      let offset = 0
      while (buffer.length - offset >= 2) {
        const opcode = buffer[offset] & 0x0f
        let length = buffer[offset + 1] & 0x7f
        let start = offset + 2
        if (length === 126) {
          if (buffer.length - offset < 4) break
          length = buffer.readUInt16BE(offset + 2)
          start += 2
        } else if (length === 127) {
          if (buffer.length - offset < 10) break
          length = Number(buffer.readBigUInt64BE(offset + 2))
          start += 8
        }
        if (buffer.length < start + length) break
        if (opcode === 9) {
          socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | length, 0, 0, 0, 0]), buffer.subarray(start, start + length)]))
        } else if (opcode === 1 || opcode === 2) {
          if (options.socketIo === true && length === 1 && buffer[start] === 0x32) socket.write(clientFrame('3'))
          else {
            if (client.kept.length < keep) client.kept.push(buffer.subarray(start, start + length).toString())
            client.frames++
            client.onFrame?.(client)
          }
        } else if (opcode === 8) {
          socket.end()
        }
        offset = start + length
      }
      buffer = offset === buffer.length ? Buffer.alloc(0) : buffer.subarray(offset)
    })
  })
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  await opened
  return client
}

/** Wait until `ready(client)` holds, or fail after `ms`. Event-driven through `onFrame`. */
export async function untilFrames (client: RawClient, count: number, ms: number): Promise<void> {
  if (client.frames >= count) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { client.onFrame = null; reject(new Error(`timed out after ${ms} ms: ${client.frames}/${count} frames`)) }, ms)
    client.onFrame = (c) => {
      if (c.frames < count) return
      clearTimeout(timer)
      c.onFrame = null
      resolve()
    }
  })
}
