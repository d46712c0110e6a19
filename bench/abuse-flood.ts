// The attacker of bench/abuse.ts, in its own process: mixed floods for a
// bounded time, each kind from its own loopback address (127.0.0.x), so each
// meets its own per-IP caps. Every loop ends at the deadline; sockets held are capped.
import { request, Agent } from 'node:http'
import WebSocket from 'ws'
import { frame, rawUpgrade } from '../test/helpers/raw.js'

const port = Number(process.argv[2])
const durationMs = Number(process.argv[3])
const key = process.argv[4]
const deadline = Date.now() + durationMs
const counts: Record<string, number> = {}
const count = (what: string, n = 1): void => { counts[what] = (counts[what] ?? 0) + n }
const live = (): boolean => Date.now() < deadline
const pause = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function ws (localAddress: string): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { localAddress })
    socket.once('open', () => resolve(socket))
    socket.once('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode ?? 0); socket.terminate() })
    socket.once('error', () => resolve(0))
  })
}

/** Open sockets as fast as the server answers, holding at most 100. */
async function connections (): Promise<void> {
  const held: WebSocket[] = []
  while (live()) {
    const socket = await ws('127.0.0.2')
    if (typeof socket === 'number') { count(`ws refused ${socket}`); continue }
    count('ws opened')
    held.push(socket)
    if (held.length > 100) held.shift()?.terminate()
  }
  for (const socket of held) socket.terminate()
}

/** A socket that sends 3000 relays to the monitor's room at once, then waits to be closed; again. */
async function frames (address: string): Promise<void> {
  const text = JSON.stringify({ room: 'monitor', type: 'chat.message', payload: { text: 'flood' } })
  while (live()) {
    const socket = await ws(address)
    if (typeof socket === 'number') { count(`ws refused ${socket}`); await pause(50); continue }
    socket.send(JSON.stringify({ type: 'room.join', payload: { room: 'monitor' } }))
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    for (let i = 0; i < 3000; i++) socket.send(text)
    count('frames sent', 3000)
    const code = await Promise.race([closed, pause(3000).then(() => 0)])
    count(`frame flooder closed ${code}`)
    socket.terminate()
  }
}

/** Tiny fragments of one never-ending message, until the server closes the socket. */
async function fragments (): Promise<void> {
  const fragment = frame(0x0, Buffer.from('x'), { fin: false })
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => fragment))
  while (live()) {
    let raw
    try { raw = await rawUpgrade(port, '/ws', '', '127.0.0.4') } catch { count('fragment upgrade refused'); await pause(50); continue }
    raw.write(frame(0x1, Buffer.from('x'), { fin: false }))
    while (live() && !raw.socket.destroyed && raw.socket.writable) {
      if (!raw.write(batch)) await new Promise((resolve) => { raw.socket.once('drain', resolve); raw.socket.once('close', resolve) })
      else await new Promise((resolve) => setImmediate(resolve)) // let the other floods run
      count('fragments written', 1000)
    }
    count(`fragment flooder closed ${(await Promise.race([raw.closeCode(), pause(2000).then(() => 'none')])) ?? 'none'}`)
    raw.destroy()
  }
}

function http (method: string, path: string, localAddress: string, agent: Agent, headers: Record<string, string> = {}, body?: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path, localAddress, agent, headers }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) })
    req.on('error', () => resolve(0))
    req.end(body)
  })
}

/** New long-poll sessions as fast as the server answers. */
async function polls (): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4, localAddress: '127.0.0.5' })
  while (live()) count(`poll create ${await http('GET', '/ws/poll', '127.0.0.5', agent)}`)
  agent.destroy()
}

/** Server-side publishes: with the key (to the monitor's room), without it, and malformed. */
async function publishes (): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4, localAddress: '127.0.0.6' })
  const good = JSON.stringify({ room: 'monitor', type: 'chat.message', payload: { text: 'server flood' } })
  for (let i = 0; live(); i++) {
    const kind = i % 3
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (kind !== 1) headers.authorization = `Bearer ${key}`
    count(`publish ${kind === 0 ? 'keyed' : kind === 1 ? 'no key' : 'malformed'} ${await http('POST', '/ws/send', '127.0.0.6', agent, headers, kind === 2 ? '{"type":' : good)}`)
  }
  agent.destroy()
}

await Promise.all([connections(), frames('127.0.0.3'), frames('127.0.0.7'), fragments(), polls(), publishes()])
process.send?.({ counts })
process.exit(0)
