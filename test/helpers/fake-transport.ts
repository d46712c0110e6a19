import type { Broker, Envelope } from '../../lib/broker/types.js'
import type { RealtimeMessage } from '../../lib/frames.js'
import type { Hub } from '../../lib/hub/hub.js'
import type { PersistResult, Persistence } from '../../lib/hub/pipeline.js'
import type { Logger, RecoveryResult } from '../../lib/hub/types.js'
import type { Session, Transport } from '../../lib/session.js'

/** An in-memory transport for hub unit tests: records what was sent and how it closed. */
export class FakeTransport implements Transport {
  readonly name: string
  readonly sent: string[] = []
  /** What `bufferedAmount()` answers: set it above `maxBufferedAmount` to make a slow consumer. */
  buffered = 0
  closedWith: { code: number, reason: string } | undefined
  terminated = false
  private readonly parsed: any[] = []
  private readonly listeners = new Set<() => void>()

  constructor (name = 'fake') {
    this.name = name
  }

  send (data: string | Buffer): void {
    this.sent.push(String(data))
    this.parsed.push(JSON.parse(String(data)))
    for (const listener of [...this.listeners]) listener()
  }

  bufferedAmount (): number { return this.buffered }
  close (code: number, reason: string): void { this.closedWith = { code, reason } }
  terminate (): void { this.terminated = true }

  /** Parsed frames sent so far; with `kind`, only those of that kind (`event`, `ack`, `error`, `system`). */
  frames (kind?: string): any[] {
    return kind === undefined ? [...this.parsed] : this.parsed.filter((frame) => frame.kind === kind)
  }

  /**
   * Resolve with the frames matching `predicate` once there are at least
   * `count` of them. Checked on every send, synchronously: the hub sends from
   * microtasks, so a wake-up registered a tick late would be lost.
   */
  async waitForFrames (count: number, predicate: (frame: any) => boolean = () => true, timeout = 3000): Promise<any[]> {
    const matching = (): any[] | undefined => {
      const found = this.parsed.filter(predicate)
      return found.length >= count ? found : undefined
    }
    const now = matching()
    if (now !== undefined) return now
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const found = matching()
        if (found === undefined) return
        clearTimeout(timer)
        this.listeners.delete(check)
        resolve(found)
      }
      const timer = setTimeout(() => {
        this.listeners.delete(check)
        reject(new Error(`only ${this.parsed.filter(predicate).length}/${count} matching frames within ${timeout} ms; got ${this.sent.join(' ')}`))
      }, timeout)
      this.listeners.add(check)
    })
  }
}

/** A session of `hub` over a new fake transport. */
export function openFake (hub: Hub, identity?: unknown, id?: string): { session: Session, transport: FakeTransport } {
  const transport = new FakeTransport()
  return { transport, session: hub.openSession(transport, identity, id) }
}

/**
 * A session of `hub` in room `r` whose stored relays wait: the hub's
 * persistence is a `FakePersistence` holding every commit until the test
 * releases (or fails) it.
 */
export function heldRelaySession (hub: Hub): { session: Session, transport: FakeTransport, persistence: FakePersistence } {
  const persistence = new FakePersistence(hub)
  persistence.hold = true
  hub.attachPersistence(persistence)
  const { session, transport } = openFake(hub)
  hub.join(session, 'r')
  return { session, transport, persistence }
}

/** A hub logger that keeps what was logged at error level, as `[message, object]`. */
export function recordingLogger (): Logger & { errors: Array<[string | undefined, unknown]> } {
  const errors: Array<[string | undefined, unknown]> = []
  return { errors, debug () {}, warn () {}, error (obj, msg) { errors.push([msg, obj]) } }
}

/** A promise with its resolve and reject at hand (Promise.withResolvers is Node 22+). */
export function deferred<T = void> (): { promise: Promise<T>, resolve: (value: T) => void, reject: (error: unknown) => void } {
  const handles: { resolve?: (value: T) => void, reject?: (error: unknown) => void } = {}
  const promise = new Promise<T>((resolve, reject) => { handles.resolve = resolve; handles.reject = reject })
  return { promise, resolve: handles.resolve as (value: T) => void, reject: handles.reject as (error: unknown) => void }
}

/**
 * The store stage of the hub's pipeline, in memory: room messages get dense
 * offsets per room under epoch `e1`, a known id is a duplicate. With `hold` set,
 * commits wait for `release()` (or fail with `fail(error)`), so a test can
 * look at the hub while messages are in the pipeline.
 */
export class FakePersistence implements Persistence {
  hold = false
  /** Messages whose commit was asked for, in call order. */
  readonly persisted: RealtimeMessage[] = []
  readonly joins: Array<{ room: string, since: string | undefined }> = []
  recovery: RecoveryResult = { recovered: false, replayed: 0, latestId: null, pos: null }
  private readonly offsets = new Map<string, number>()
  private readonly stored = new Map<string, PersistResult>()
  private held: Array<{ message: RealtimeMessage, resolve: (result: PersistResult) => void, reject: (error: unknown) => void }> = []

  /** `hub`: where stored messages are delivered (in the order they arrive: nothing to sequence here). */
  constructor (private readonly hub: Hub) {}

  shouldPersist (message: RealtimeMessage): boolean {
    return message.room !== undefined
  }

  /** Commits are keyed by room and id, whatever the sender (the real stores' per-sender rule is tested on them). */
  async persist (message: RealtimeMessage, _sender: string): Promise<PersistResult> {
    this.persisted.push(message)
    if (!this.hold) return this.commit(message)
    return await new Promise((resolve, reject) => { this.held.push({ message, resolve, reject }) })
  }

  /** Commit every held message, in order. */
  release (): void {
    for (const { message, resolve } of this.takeHeld()) resolve(this.commit(message))
  }

  /** Fail every held commit with `error`. */
  fail (error: Error): void {
    for (const { reject } of this.takeHeld()) reject(error)
  }

  async joinWithRecovery (_session: Session, room: string, since: string | undefined, join: () => void): Promise<RecoveryResult> {
    this.joins.push({ room, since })
    join()
    return this.recovery
  }

  sequence (envelope: Envelope): void {
    this.hub.deliverLocal(envelope)
  }

  private takeHeld (): FakePersistence['held'] {
    const held = this.held
    this.held = []
    return held
  }

  private commit (message: RealtimeMessage): PersistResult {
    const key = `${message.room as string}/${message.id as string}`
    const known = this.stored.get(key)
    if (known !== undefined) return { ...known, duplicate: true }
    const offset = (this.offsets.get(message.room as string) ?? 0) + 1
    this.offsets.set(message.room as string, offset)
    const result = { duplicate: false, message, position: { offset, epoch: 'e1' } }
    this.stored.set(key, result)
    return result
  }
}

/** A broker that records what the hub asks of it; `onPublish`/`onSubscribe` decide how each call goes. */
export class FakeBroker implements Broker {
  readonly published: Envelope[] = []
  readonly calls: string[] = []
  deliver: (envelope: Envelope) => void = () => { throw new Error('the hub never started the broker') }
  onPublish: (envelope: Envelope) => void | Promise<void> = () => {}
  onSubscribe: (room: string) => void | Promise<void> = () => {}
  start (deliver: (envelope: Envelope) => void): void { this.deliver = deliver }
  publish (envelope: Envelope): void | Promise<void> { this.published.push(envelope); return this.onPublish(envelope) }
  subscribe (room: string): void | Promise<void> { this.calls.push(`subscribe ${room}`); return this.onSubscribe(room) }
  unsubscribe (room: string): void { this.calls.push(`unsubscribe ${room}`) }
  close (): void { this.calls.push('close') }
}
