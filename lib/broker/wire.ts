import type { BrokerEvents, ControlMessage, Envelope } from './types.js'

/**
 * The names a networked broker publishes on, under its prefix: one per room
 * (`<prefix>room<separator><room>`), one for room-less broadcasts
 * (`<prefix>all`) and the node-to-node control channel (`<prefix>control`).
 * How a room name becomes part of a channel is the broker's: Redis takes it
 * as it is, NATS encodes it into one subject token.
 *
 * @example
 * const names = new ChannelNames('chat:', (room) => `:${room}`)
 * names.room('general') // 'chat:room:general'
 */
export class ChannelNames {
  readonly broadcast: string
  readonly control: string

  constructor (readonly prefix: string, private readonly roomSuffix: (room: string) => string) {
    this.broadcast = `${prefix}all`
    this.control = `${prefix}control`
  }

  room (room: string): string {
    return `${this.prefix}room${this.roomSuffix(room)}`
  }
}

function isEnvelope (value: unknown): value is Envelope {
  const candidate = value as Partial<Envelope> | null
  return typeof candidate === 'object' && candidate !== null && typeof candidate.node === 'string' &&
    typeof candidate.message === 'object' && candidate.message !== null && typeof candidate.message.type === 'string'
}

function isControl (value: unknown): value is ControlMessage {
  const candidate = value as Partial<ControlMessage> | null
  return typeof candidate === 'object' && candidate !== null && typeof candidate.node === 'string' && typeof candidate.type === 'string'
}

/** What travels on a channel: JSON, the same for every broker, so nodes on different brokers' clients read each other. */
export function encodeWire (value: Envelope | ControlMessage): string {
  return JSON.stringify(value)
}

function decode<T> (data: string, accept: (value: unknown) => value is T, what: string, events: BrokerEvents | undefined): T | undefined {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch (error) {
    events?.error(error)
    return undefined
  }
  if (accept(value)) return value
  events?.error(new Error(`not ${what}`))
  return undefined
}

/** An envelope read from a room or broadcast channel; what is not one is reported as an error and dropped. */
export function decodeEnvelope (data: string, events: BrokerEvents | undefined): Envelope | undefined {
  return decode(data, isEnvelope, 'an envelope', events)
}

/** A control message read from the control channel; what is not one is reported as an error and dropped. */
export function decodeControl (data: string, events: BrokerEvents | undefined): ControlMessage | undefined {
  return decode(data, isControl, 'a control message', events)
}
