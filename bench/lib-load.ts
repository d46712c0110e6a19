// Load generators for a vix-realtime server in another process (bench/compare.ts):
// WebSocket room fan-out with a bounded number of messages in flight, and
// request/response echo round trips. Each opens its sockets once, then runs
// any number of measured windows on them (so two servers can be measured in
// alternating short windows). Event-driven (no polling loop); every window is
// bounded in count and in time. Only 127.0.0.1.
import { execFileSync } from 'node:child_process'
import WebSocket from 'ws'

/** The server's CPU time so far, in µs (user + system), asked of the server process. */
export type CpuProbe = () => Promise<number>

/** One measured window. `latenciesUs` (sorted) only for request/response loads. */
export interface Window { count: number, seconds: number, serverCpuUs: number, latenciesUs?: Float64Array }

export interface Load {
  /** Run `count` units of work (messages fanned out, or round trips per client) and measure them. */
  measure: (count: number) => Promise<Window>
  close: () => Promise<void>
}

export interface FanoutOptions {
  port: number
  /** Room members; the first one is also the publisher (it gets its own messages back, as every member does). */
  subscribers: number
  /** Messages in flight: the publisher waits while the slowest member is this far behind. */
  window: number
  timeoutMs: number
  cpu: CpuProbe
}

export interface EchoOptions {
  port: number
  clients: number
  timeoutMs: number
  cpu: CpuProbe
}

const ROOM = 'bench'

/** Race `work` against a timer of `ms`; the error says `what()`. */
async function bounded<T> (ms: number, what: () => string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms)
  })
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}

async function open (port: number, timeoutMs: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  await bounded(timeoutMs, () => 'WebSocket open', new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  }))
  return ws
}

/** Make `count` things with `make`, `size` at a time (a connection storm is not what is measured). */
export async function inBatches<T> (count: number, size: number, make: () => Promise<T>): Promise<T[]> {
  const made: T[] = []
  for (let i = 0; i < count; i += size) {
    made.push(...await Promise.all(Array.from({ length: Math.min(size, count - i) }, make)))
  }
  return made
}

/** Open `count` sockets, ten at a time. */
async function openMany (port: number, count: number, timeoutMs: number): Promise<WebSocket[]> {
  return await inBatches(count, 10, async () => await open(port, timeoutMs))
}

/** Close every socket and wait (bounded) for the close handshakes, so the server is idle again. */
async function closeAll (sockets: WebSocket[], timeoutMs = 5000): Promise<void> {
  const closed = sockets.map(async (ws) => {
    if (ws.readyState === WebSocket.CLOSED) return
    await new Promise<void>((resolve) => { ws.once('close', () => resolve()); ws.close() })
  })
  try {
    await bounded(timeoutMs, () => 'closing sockets', Promise.all(closed))
  } catch {
    for (const ws of sockets) ws.terminate()
  }
}

async function joinRoom (ws: WebSocket, timeoutMs: number): Promise<void> {
  await bounded(timeoutMs, () => 'room.join ack', new Promise<void>((resolve, reject) => {
    ws.once('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.kind === 'ack' && frame.type === 'room.join') resolve()
      else reject(new Error(`unexpected frame before the join ack: ${data.toString()}`))
    })
    ws.send(JSON.stringify({ type: 'room.join', payload: { room: ROOM } }))
  }))
}

/**
 * One publisher relays `chat.message` to a room of `subscribers` members,
 * `window` messages in flight. Deliveries are counted, not parsed. Each socket
 * receives in order, so within a window message k is fully delivered when the
 * last member gets its k-th frame, and messages complete in order. A window
 * starts and ends with nothing in flight.
 */
export async function fanoutLoad (options: FanoutOptions): Promise<Load> {
  const { port, subscribers, window, timeoutMs, cpu } = options
  const sockets = await openMany(port, subscribers, timeoutMs)
  try {
    for (const ws of sockets) await joinRoom(ws, timeoutMs)
  } catch (error) {
    await closeAll(sockets)
    throw error
  }
  const publisher = sockets[0]
  // State of the current window (none between windows: a frame then is an error).
  let arrivals = new Uint32Array(0)
  const counts = new Uint32Array(subscribers)
  let total = 0
  let sent = 0
  let complete = 0
  let done: (() => void) | undefined
  let fail: ((error: Error) => void) | undefined
  let closing = false
  const pump = (): void => {
    while (sent < total && sent - complete < window) {
      publisher.send(JSON.stringify({ room: ROOM, type: 'chat.message', payload: { text: 'hello, room', i: sent } }))
      sent++
    }
  }
  sockets.forEach((ws, c) => {
    ws.on('message', () => {
      const k = counts[c]++
      if (k >= total) { fail?.(new Error(`member ${c} got a frame outside a window`)); return }
      if (++arrivals[k] === subscribers) {
        if (++complete === total) done?.()
        else pump()
      }
    })
    ws.on('close', (code) => { if (!closing) fail?.(new Error(`member ${c} closed (${code})`)) })
  })
  return {
    async measure (messages) {
      arrivals = new Uint32Array(messages)
      counts.fill(0)
      total = messages
      sent = 0
      complete = 0
      const cpuStart = await cpu()
      const started = process.hrtime.bigint()
      try {
        await bounded(timeoutMs, () => `fan-out: ${complete}/${messages} messages fully delivered, ${sent} sent`, new Promise<void>((resolve, reject) => {
          done = resolve
          fail = reject
          pump()
        }))
      } finally {
        done = undefined
        fail = undefined
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const serverCpuUs = await cpu() - cpuStart
      total = 0
      return { count: messages * subscribers, seconds, serverCpuUs }
    },
    async close () {
      closing = true
      await closeAll(sockets)
    }
  }
}

/**
 * `clients` sockets, each doing sequential `echo` request/response round trips
 * (one in flight per client), latency measured per round trip. Replies are
 * parsed and checked in the first window (the warm-up), counted after that.
 */
export async function echoLoad (options: EchoOptions): Promise<Load> {
  const { port, clients, timeoutMs, cpu } = options
  const sockets = await openMany(port, clients, timeoutMs)
  let checked = false
  return {
    async measure (roundTrips) {
      const check = !checked
      checked = true
      let finished = 0
      const progress = new Uint32Array(clients)
      const latencies = new Float64Array(clients * roundTrips)
      const detach: Array<() => void> = []
      const cpuStart = await cpu()
      const started = process.hrtime.bigint()
      try {
        await bounded(timeoutMs, () => `echo: ${finished}/${clients} clients done, round trips ${Array.from(progress).join(',')} of ${roundTrips}`, new Promise<void>((resolve, reject) => {
          sockets.forEach((ws, c) => {
            let sentAt = 0n
            const send = (): void => {
              sentAt = process.hrtime.bigint()
              ws.send(`{"type":"echo","payload":{"n":${progress[c]}}}`)
            }
            const onMessage = (data: WebSocket.RawData): void => {
              const now = process.hrtime.bigint()
              if (check) {
                const frame = JSON.parse(data.toString())
                if (frame.kind !== 'ack' || frame.type !== 'echo' || frame.payload?.n !== progress[c]) {
                  reject(new Error(`unexpected echo reply: ${data.toString()}`))
                  return
                }
              }
              latencies[c * roundTrips + progress[c]] = Number(now - sentAt) / 1000
              if (++progress[c] < roundTrips) send()
              else if (++finished === clients) resolve()
            }
            const onClose = (code: number): void => reject(new Error(`echo client ${c} closed (${code})`))
            ws.on('message', onMessage)
            ws.on('close', onClose)
            detach.push(() => { ws.off('message', onMessage); ws.off('close', onClose) })
            send()
          })
        }))
      } finally {
        for (const off of detach) off()
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const serverCpuUs = await cpu() - cpuStart
      return { count: clients * roundTrips, seconds, serverCpuUs, latenciesUs: latencies.sort() }
    },
    async close () {
      await closeAll(sockets)
    }
  }
}

/** The value at fraction `p` of a sorted array. */
export function percentile (sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

/** Pin this process to `core` with taskset; false when taskset is missing or refuses. */
export function pinSelf (core: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-cp', String(core), String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
