import type { AdmissionPolicy, Admitted } from '../admission.js'
import { CloseCodes, SessionBusyError, SessionNotFoundError } from '../errors.js'
import { errorOfDispatch } from '../http-errors.js'
import type { DispatchOk, DispatchResult } from '../hub/types.js'
import type { LongPollBridge } from './bridge.js'
import type { HeldPoll, LongPollManager } from './manager.js'
import type { ResolvedLongPollingOptions } from './options.js'
import type { PublishRequest } from './server-publish.js'
import type { Session } from '../session.js'
import type { PollSession } from './session.js'

/** What the long-polling requests need of the hub: a new client admitted, a later request authenticated. */
export interface LongPollRequestParts {
  admit: (request: unknown, policy: AdmissionPolicy) => Promise<Admitted>
  authenticate: (request: unknown) => Promise<unknown>
  /** Another transport's session that sends over `POST /send` (an SSE stream's), when it belongs to `identity`. */
  streamSession?: (id: string, identity: unknown) => { session: Session } | undefined
}

/** The poll's querystring as the client sent it; absent values take the server's defaults. */
export interface PollParams {
  ack?: number
  wait?: number
  max?: number
}

/** The body of a `202` from `POST /ws/send`. */
export type Accepted = Omit<DispatchOk, 'ok'>

/**
 * What each long-polling request does, HTTP aside: the plugin's routes read
 * the request and write the answer, this decides it. A refusal is thrown as
 * a coded error, which the routes' error handler answers.
 *
 * @example
 * const requests = new LongPollRequests({ admit, authenticate }, manager, bridge, resolveLongPollingOptions({}))
 * const created = await requests.create(request, request.ip) // '{"session_id":"…","messages":[],"next":0}'
 */
export class LongPollRequests {
  constructor (
    private readonly parts: LongPollRequestParts,
    private readonly manager: LongPollManager,
    private readonly bridge: LongPollBridge,
    private readonly config: Pick<ResolvedLongPollingOptions, 'wait' | 'maxWait' | 'maxBuffer'>
  ) {}

  /** Admit a new client and open its session: the body answering it. */
  async create (request: unknown, ip: string, senderKey?: string): Promise<string> {
    const admitted = await this.parts.admit(request, { transport: 'long-polling', ip, senderKey })
    const { poll } = this.manager.create(admitted.identity, admitted.slot, admitted.senderKey, admitted.expiresAt)
    return this.manager.respondCreated(poll)
  }

  /** The session `id` names, when it is bound to the identity `request` authenticates as. */
  async session (request: unknown, id: string): Promise<PollSession> {
    const identity = await this.parts.authenticate(request)
    const session = this.manager.get(id, identity)
    if (session === undefined) throw new SessionNotFoundError()
    return session
  }

  /** Poll a session: the body of the frames queued, or a poll held until some are (`wait` capped by `maxWait`). */
  async poll (request: unknown, id: string, params: PollParams): Promise<string | HeldPoll> {
    const session = await this.session(request, id)
    const outcome = this.manager.poll(session, {
      ack: params.ack,
      wait: Math.min(params.wait ?? this.config.wait, this.config.maxWait),
      max: params.max ?? this.config.maxBuffer
    })
    if (outcome === 'busy') throw new SessionBusyError()
    return outcome
  }

  /** End a session as a WebSocket closing would: out of every room (presence sees it leave) and its slot given back, at once. */
  async end (request: unknown, id: string): Promise<void> {
    this.manager.expire(await this.session(request, id), CloseCodes.NORMAL)
  }

  /** A message of a session (a long-poll one, or an SSE stream's), processed exactly as that frame on its WebSocket. */
  async send (request: unknown, id: string, text: string): Promise<DispatchResult> {
    const identity = await this.parts.authenticate(request)
    const target = this.manager.get(id, identity) ?? this.parts.streamSession?.(id, identity)
    if (target === undefined) throw new SessionNotFoundError()
    return await this.bridge.send(target, text)
  }

  /** A server-side publish: `serverPublish` is this path's authentication (a key or a callback); it is off by default. */
  async publish (request: PublishRequest, text: string, ip: string): Promise<DispatchResult> {
    return await this.bridge.publish(text, request, ip)
  }
}

/** The `202` body of an accepted message; a refused one is thrown as its coded error (the code its error frame would carry). */
export function acceptedOf (result: DispatchResult): Accepted {
  if (!result.ok) throw errorOfDispatch(result)
  const { ok, ...accepted } = result
  return accepted
}
