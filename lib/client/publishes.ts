import { ClientErrorCodes, VixClientError } from './errors.js'
import { newClientId } from './id.js'
import { Pending } from './pending.js'
import type { OutgoingMessage, PublishAck, VixMessage } from './protocol.js'
import { WaitingMessages, type WaitingMessage } from './waiting.js'

interface UnackedPublish extends WaitingMessage<PublishAck> {
  type_: string
  room_?: string
}

const encoder = new TextEncoder()

/** Is `text` longer than `max` bytes in UTF-8? (At most 3 bytes per UTF-16 unit: encode only when that can matter.) */
function tooLarge (text: string, max: number): boolean {
  if (text.length > max) return true
  if (text.length * 3 <= max) return false
  return encoder.encode(text).length > max
}

/**
 * The text of a message to send and resend as is: throws, before anything is
 * sent, when the server would refuse it as too large (resending it would
 * close every new connection, 1009, forever).
 */
export function outgoingText (message: OutgoingMessage, maxMessageSize: number): string {
  const text = JSON.stringify(message)
  if (tooLarge(text, maxMessageSize)) {
    throw new VixClientError(ClientErrorCodes.PAYLOAD_TOO_LARGE, `Message larger than ${maxMessageSize} bytes`, { id: message.id, room: message.room })
  }
  return text
}

/**
 * Publishes waiting for the server's ack, by message id: sent at once when
 * the client is open, queued otherwise, and resent with their ids on every
 * new connection until an ack, an error frame or their timeout settles them.
 *
 * @example
 * const publishes = new Publishes(timers, { timeout: 10_000, maxMessageSize: 65_536 }, current)
 * const acked = publishes.publish('general', 'chat.message', { text: 'Hello' }, {})
 * publishes.acked(ackFrame.id, ackFrame) // `acked` resolves with { id, type, room, pos? , duplicate? }
 */
export class Publishes extends WaitingMessages<PublishAck, UnackedPublish> {
  /** Throws, before anything is sent, for a duplicate id or a frame the server would refuse as too large. */
  publish (room: string | null, type: string, payload: Record<string, unknown>, options: { id?: string, timeout?: number }): Promise<PublishAck> {
    const id = options.id ?? newClientId()
    if (this.has(id)) throw new VixClientError(ClientErrorCodes.INVALID_MESSAGE, `A publish with id "${id}" is already waiting for its ack`, { id })
    const message: OutgoingMessage = { id, type, payload }
    if (room !== null) message.room = room
    const text = outgoingText(message, this.options_.maxMessageSize)
    const timeout = options.timeout ?? this.options_.timeout
    // The clock runs from each send: queued while offline, the message waits for the connection.
    const answered = new Pending<PublishAck>(this.timers_, {
      ms: timeout,
      armed: false,
      expired: () => {
        this.take_(id)
        return new VixClientError(ClientErrorCodes.TIMEOUT, `No ack for "${type}" within ${timeout} ms (it may still have been delivered)`, { id, room: room ?? undefined })
      }
    })
    const publish: UnackedPublish = { id, type_: type, text_: text, answered_: answered }
    if (room !== null) publish.room_ = room
    return this.send_(publish)
  }

  /** The server acked `id` (an ack frame, or long polling's 202 without one). */
  acked (id: string, frame?: VixMessage, accepted?: { pos?: string, duplicate?: boolean }): void {
    const publish = this.take_(id)
    if (publish === undefined) return
    const ack: PublishAck = { id, type: frame?.type ?? publish.type_ }
    const room = frame?.room ?? publish.room_
    if (room !== undefined) ack.room = room
    // A stored message's ack carries its position; a duplicate's, the original's and `duplicate: true`.
    const payload = (frame?.payload ?? accepted) as { pos?: unknown, duplicate?: unknown } | undefined
    if (typeof payload?.pos === 'string') ack.pos = payload.pos
    if (payload?.duplicate === true) ack.duplicate = true
    publish.answered_.resolve(ack)
  }
}
