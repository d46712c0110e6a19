// Load-generator clients of the SSE scenario of bench/suite.ts, with the
// RawClient shape of bench/raw-client.ts: a raw `GET /ws/sse` that counts
// `data:` lines without decoding them, and a Socket.IO client on its polling
// transport (for reference). Only 127.0.0.1.
import { connect } from 'node:net'
import { io } from 'socket.io-client'
import { newRawClient, type RawClient } from './raw-client.js'

const DATA = 'data: '

/** A stream of `path` (`/ws/sse?rooms=bench`); `frames` counts its events. Sends are not needed here. */
export async function rawSseClient (port: number, path: string, timeoutMs = 10_000): Promise<RawClient> {
  const socket = connect({ host: '127.0.0.1', port })
  socket.setNoDelay(true)
  let head = ''
  let started = false
  // The end of the previous chunk: a `data: ` split across two reads is still counted once.
  let tail = ''
  const client = newRawClient(socket, () => { throw new Error('rawSseClient does not send') }, () => { socket.destroy() })
  const opened = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`SSE stream not opened (${path})`)), timeoutMs)
    socket.on('error', (error) => { client.closed = true; clearTimeout(timer); reject(error) })
    socket.on('close', () => { client.closed = true })
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      let text = chunk
      if (!started) {
        head += chunk
        const end = head.indexOf('\r\n\r\n')
        if (end === -1) return
        if (!head.startsWith('HTTP/1.1 200')) { reject(new Error(`stream refused: ${head.split('\r\n')[0]}`)); return }
        started = true
        clearTimeout(timer)
        text = head.slice(end + 4)
        resolve()
      }
      const scan = tail + text
      for (let at = scan.indexOf(DATA); at !== -1; at = scan.indexOf(DATA, at + DATA.length)) {
        // A match wholly inside the old tail was counted with the previous chunk.
        if (at + DATA.length <= tail.length) continue
        client.frames++
        client.onFrame?.(client)
      }
      tail = scan.slice(-(DATA.length - 1))
    })
  })
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`)
  await opened
  return client
}

/** A Socket.IO client on long polling only, connected; `frames` counts `chat.message` events. */
export async function socketIoPollingClient (port: number, timeoutMs = 10_000): Promise<RawClient> {
  const socket = io(`http://127.0.0.1:${port}`, { transports: ['polling'], forceNew: true, reconnection: false })
  const client = newRawClient(undefined as never, () => { throw new Error('socketIoPollingClient does not send') }, () => { socket.close() })
  socket.on('chat.message', () => {
    client.frames++
    client.onFrame?.(client)
  })
  socket.on('disconnect', () => { client.closed = true })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Socket.IO polling did not connect')), timeoutMs)
    socket.once('connect', () => { clearTimeout(timer); resolve() })
    socket.once('connect_error', (error) => { clearTimeout(timer); reject(error) })
  })
  return client
}
