import { useCallback, useEffect, useInsertionEffect, useRef, useState, useSyncExternalStore } from 'react'
import type { ClientState, PresenceMember, PublishAck, RequestOptions, VixClientError, VixMessage } from '@vix-realtime/client'
import { useVix } from './provider.js'
import type { RoomShareState, RoomStatus } from './room-shares.js'

/**
 * The client's connection state: `connecting`, `open`, `reconnecting` or `closed`
 * (`closed` when rendered on a server).
 *
 * @example
 * const state = useConnectionState()
 * return state === 'open' ? null : createElement('p', null, 'Offline')
 */
export function useConnectionState (): ClientState {
  const { client } = useVix()
  const subscribe = useCallback((changed: () => void) => client.on('state', changed), [client])
  return useSyncExternalStore(subscribe, () => client.state, () => 'closed')
}

export interface UseRoomOptions<P> {
  /** Called with each event of the room (the latest function passed: changing it does not rejoin). */
  onMessage?: (message: VixMessage<P>) => void
  /** Where to resume from on the first join (a stored position or id); read once, at the first join. */
  since?: string | null
  /** How many of the room's latest events `messages` keeps (default 100; 0: none, use `onMessage`). */
  keep?: number
}

export interface UseRoomResult<P> {
  /** The room's events received since this component mounted (the last `keep`), oldest first. */
  messages: Array<VixMessage<P>>
  /** Publish to this room; resolves on the server's ack (see `VixClient.publish`). */
  publish: (type: string, payload?: Record<string, unknown>, options?: { id?: string, timeout?: number }) => Promise<PublishAck>
  /** Ask the server and wait for its reply (see `VixClient.request`). */
  request: <R = unknown>(type: string, payload?: Record<string, unknown>, options?: RequestOptions) => Promise<R>
  /** `joining`, `joined` or `failed` (the join was refused: `error` says why). */
  state: RoomStatus
  error?: VixClientError
}

/** Hold `room` while mounted (one wire join shared by every holder) and follow its state. */
function useRoomShare (room: string, since?: string | null): RoomShareState {
  const { rooms } = useVix()
  const sinceRef = useRef(since)
  useEffect(() => rooms.acquire(room, { since: sinceRef.current }), [rooms, room])
  const subscribe = useCallback((changed: () => void) => rooms.subscribe(room, changed), [rooms, room])
  return useSyncExternalStore(subscribe, () => rooms.state(room), () => rooms.state(room))
}

/**
 * Join `room` while the component is mounted and receive its events. However
 * many components use one room, and through StrictMode's double mount, the
 * client joins it once; it leaves `leaveDelay` ms after the last one unmounts.
 *
 * @example
 * const { messages, publish, state } = useRoom<{ text: string }>('general', { onMessage: (msg) => console.log(msg.payload.text) })
 * await publish('chat.message', { text: 'Hello' })
 */
export function useRoom<P = Record<string, any>> (room: string, options: UseRoomOptions<P> = {}): UseRoomResult<P> {
  const { client } = useVix()
  const keep = options.keep ?? 100
  // The latest handler, set once its render commits (before any effect): a new function never resubscribes.
  const onMessage = useRef(options.onMessage)
  useInsertionEffect(() => { onMessage.current = options.onMessage })
  const [received, setReceived] = useState<{ room: string, messages: Array<VixMessage<P>> }>({ room, messages: [] })
  const share = useRoomShare(room, options.since)
  useEffect(() => client.on('message', (message) => {
    if (message.room !== room) return
    if (keep > 0) {
      setReceived((last) => ({ room, messages: [...(last.room === room ? last.messages : []), message as VixMessage<P>].slice(-keep) }))
    }
    onMessage.current?.(message as VixMessage<P>)
  }), [client, room, keep])
  const publish = useCallback<UseRoomResult<P>['publish']>(async (type, payload, publishOptions) => await client.publish(room, type, payload, publishOptions), [client, room])
  const request = useCallback(async <R>(type: string, payload?: Record<string, unknown>, requestOptions?: RequestOptions): Promise<R> => await client.request<R>(type, payload, requestOptions), [client])
  return { messages: received.room === room ? received.messages : [], publish, request, state: share.status, error: share.error }
}

/**
 * The members of a presence room, kept current (the component holds the room
 * like {@link useRoom}: one join shared with the room's other users).
 *
 * @example
 * const members = usePresence('general')
 * return createElement('ul', null, members.map((m) => createElement('li', { key: m.key }, String(m.meta.name))))
 */
export function usePresence (room: string): PresenceMember[] {
  const { client } = useVix()
  const [members, setMembers] = useState<PresenceMember[]>(() => client.presence(room))
  useRoomShare(room)
  useEffect(() => {
    const update = (): void => { setMembers(client.presence(room)) }
    update()
    const offs = [
      client.on('presence', (diff) => { if (diff.room === room) update() }),
      // A presence.state replaces the members: the client applies it right after this event.
      client.on('system', (frame) => { if (frame.type === 'presence.state') queueMicrotask(update) })
    ]
    return () => { for (const off of offs) off() }
  }, [client, room])
  return members
}
