import { randomBytes } from 'node:crypto'
import type { Broker, ControlMessage } from '../broker/types.js'
import { CloseCodes, InvalidOptionError } from '../errors.js'
import { systemFrame, type RealtimeMessage } from '../frames.js'
import { checkInteger } from '../options.js'
import type { Session } from '../session.js'
import { closedFrame } from './expiry.js'
import { callSafely } from './maybe.js'
import type { Logger } from './types.js'

/** Whose sessions a server call acts on: every session of an identity (compared by `identityKey`), or one session by id. */
export type ControlTarget = { identity: unknown } | { session: string }

/** How long a server call waits for the other nodes, and how many it expects. */
export interface ControlOptions {
  /** Wait at most this long for the other nodes' answers, ms (default 1000; 0 to 60000). */
  timeout?: number
  /** Resolve as soon as this many nodes (this one included) have answered, instead of at `timeout`. */
  nodes?: number
}

/** How `disconnect` closes: a close code (4000 to 4999, default 4000), a reason (at most 120 bytes) and whether the client may reconnect (default true). */
export interface DisconnectOptions extends ControlOptions {
  code?: number
  reason?: string
  reconnect?: boolean
}

/** What a server call did: the sessions it acted on (or counted), over all nodes that answered, and per node id. */
export interface ControlResult {
  sessions: number
  nodes: Record<string, number>
}

/** What the control part needs from the hub. */
export interface ControlParts {
  nodeId: string
  broker: Pick<Broker, 'publishControl'>
  sessions: ReadonlyMap<string, Session>
  identityKey: (identity: unknown) => string | undefined
  leave: (session: Session, room: string) => boolean
  send: (session: Session, frame: RealtimeMessage) => boolean
  logger: Pick<Logger, 'warn' | 'debug'>
}

type Action = { action: 'disconnect', code: number, reason: string, reconnect: boolean } | { action: 'leave', room: string } | { action: 'count' }
type Request = Action & { key?: string, session?: string }

interface Pending {
  result: ControlResult
  expect: number
  finish: () => void
}

/** Request ids a node remembers, so a request delivered twice acts once. */
const SEEN = 1024

/**
 * Server calls that reach every node over the broker's control channel:
 * `disconnect`, `leave` and `connections`. The calling node acts on its own
 * sessions at once, publishes a `control.request` with a request id, and each
 * other node acts on its sessions (once per id) and answers a `control.reply`
 * with how many it acted on. Without a broker control channel, local only.
 *
 * @example
 * const result = await control.disconnect({ identity: { user: 'ada' } }, { code: 4003, reason: 'banned', reconnect: false })
 * result.sessions // 3, and result.nodes { a: 1, b: 2 }
 */
export class Control {
  private readonly pending = new Map<string, Pending>()
  private readonly seen = new Set<string>()

  constructor (private readonly parts: ControlParts) {}

  /** Close the target's sessions on every node, each told why (`session.closed`) before its close. */
  async disconnect (target: ControlTarget, options: DisconnectOptions = {}): Promise<ControlResult> {
    const code = checkInteger('disconnect.code', options.code ?? CloseCodes.DISCONNECTED, 4000, 4999)
    const reason = options.reason ?? 'disconnected by the server'
    if (typeof reason !== 'string' || Buffer.byteLength(reason) > 120) throw new InvalidOptionError('disconnect.reason', 'expected a string of at most 120 bytes')
    return await this.run(target, { action: 'disconnect', code, reason, reconnect: options.reconnect !== false }, options)
  }

  /** Take the identity's sessions out of `room` on every node, each sent `room.left`. */
  async leave (target: { identity: unknown }, room: string, options: ControlOptions = {}): Promise<ControlResult> {
    if (typeof room !== 'string' || room.length === 0) throw new InvalidOptionError('leave.room', 'expected a room name')
    return await this.run(target, { action: 'leave', room }, options)
  }

  /** Count the identity's sessions on every node. */
  async connections (target: { identity: unknown }, options: ControlOptions = {}): Promise<ControlResult> {
    return await this.run(target, { action: 'count' }, options)
  }

  /** A control message from another node (the hub hands it every one; others' types are ignored). */
  receive (message: ControlMessage): void {
    if (message.node === this.parts.nodeId) return
    if (message.type === 'control.reply') this.replied(message)
    else if (message.type === 'control.request') this.requested(message)
  }

  private async run (target: ControlTarget, action: Action, options: ControlOptions): Promise<ControlResult> {
    const timeout = checkInteger('timeout', options.timeout ?? 1000, 0, 60_000)
    const expect = options.nodes === undefined ? Infinity : checkInteger('nodes', options.nodes, 1)
    const request: Request = { ...action, ...this.targetOf(target) }
    const result: ControlResult = { sessions: 0, nodes: {} }
    this.count(result, this.parts.nodeId, this.act(request))
    const publish = this.parts.broker.publishControl
    if (publish === undefined || timeout === 0 || expect <= 1) return result
    const id = randomBytes(12).toString('base64url')
    return await new Promise<ControlResult>((resolve) => {
      const timer = setTimeout(() => { finish() }, timeout)
      const finish = (): void => {
        clearTimeout(timer)
        this.pending.delete(id)
        resolve(result)
      }
      this.pending.set(id, { result, expect, finish })
      callSafely(() => publish.call(this.parts.broker, { node: this.parts.nodeId, type: 'control.request', id, ...request }), (error) => {
        this.parts.logger.warn({ err: error }, 'vix-realtime: a server call could not reach the other nodes')
        finish()
      })
    })
  }

  private targetOf (target: ControlTarget): { key?: string, session?: string } {
    if (typeof target === 'object' && target !== null) {
      if ('session' in target && typeof target.session === 'string') return { session: target.session }
      if ('identity' in target) {
        const key = this.parts.identityKey(target.identity)
        if (key !== undefined) return { key }
      }
    }
    throw new InvalidOptionError('target', 'expected { identity } (an identity with a key) or { session: id }')
  }

  private count (result: ControlResult, node: string, sessions: number): void {
    result.nodes[node] = sessions
    result.sessions += sessions
  }

  /** Act on this node's sessions of the target: how many. */
  private act (request: Request): number {
    let acted = 0
    for (const session of this.matching(request)) {
      if (request.action === 'disconnect') {
        this.parts.send(session, closedFrame(request.code, request.reason, request.reconnect))
        session.close(request.code, request.reason)
      } else if (request.action === 'leave') {
        if (!this.parts.leave(session, request.room)) continue
        const frame = systemFrame('room.left', { room: request.room, reason: 'removed by the server' })
        frame.room = request.room
        this.parts.send(session, frame)
      }
      acted++
    }
    return acted
  }

  private matching (request: Request): Session[] {
    if (request.session !== undefined) {
      const session = this.parts.sessions.get(request.session)
      return session === undefined || session.closed ? [] : [session]
    }
    const found: Session[] = []
    for (const session of this.parts.sessions.values()) {
      if (!session.closed && session.identityKey === request.key) found.push(session)
    }
    return found
  }

  private requested (message: ControlMessage): void {
    const request = requestOf(message)
    if (request === undefined || typeof message.id !== 'string') {
      this.parts.logger.debug({ node: message.node }, 'vix-realtime: malformed control request ignored')
      return
    }
    if (this.seen.has(message.id)) return
    this.seen.add(message.id)
    if (this.seen.size > SEEN) this.seen.delete(this.seen.values().next().value as string)
    const reply = { node: this.parts.nodeId, type: 'control.reply', id: message.id, to: message.node, sessions: this.act(request) }
    callSafely(() => this.parts.broker.publishControl?.(reply), (error) => {
      this.parts.logger.warn({ err: error }, 'vix-realtime: a server call\'s answer could not be sent')
    })
  }

  private replied (message: ControlMessage): void {
    if (message.to !== this.parts.nodeId || typeof message.id !== 'string' || typeof message.sessions !== 'number') return
    const pending = this.pending.get(message.id)
    if (pending === undefined || message.node in pending.result.nodes) return
    this.count(pending.result, message.node, message.sessions)
    if (Object.keys(pending.result.nodes).length >= pending.expect) pending.finish()
  }
}

/** A request as it came over the wire, checked field by field; undefined when malformed. */
function requestOf (message: ControlMessage): Request | undefined {
  const target = typeof message.session === 'string' ? { session: message.session } : typeof message.key === 'string' ? { key: message.key } : undefined
  if (target === undefined) return undefined
  if (message.action === 'count') return { action: 'count', ...target }
  if (message.action === 'leave' && typeof message.room === 'string') return { action: 'leave', room: message.room, ...target }
  if (message.action === 'disconnect' && typeof message.code === 'number' && typeof message.reason === 'string') {
    return { action: 'disconnect', code: message.code, reason: message.reason, reconnect: message.reconnect !== false, ...target }
  }
  return undefined
}
