import { ErrorCodes, codedError } from '../errors.js'
import { stampEvent, type PublishInput, type RealtimeMessage } from '../frames.js'
import type { AppendResult, StorableMessage } from './types.js'

/** What publishing inside the application's transaction needs of the hub and the store's persistence. */
export interface TransactionalParts {
  /** Server code's accept stage, as `publish()` runs it: the envelope (and a given `from`) checked; throws the coded error. */
  accept: (input: PublishInput) => PublishInput
  /** Whether the store keeps this message: only a stored room message can be published in a transaction. */
  shouldPersist: (message: RealtimeMessage) => boolean
  /** After a commit on this node: `offset` of `room` is committed, deliver it here by position. */
  ring: (room: string, offset: number) => void
}

/** `publishIn` and `transaction` of one store kind (PostgreSQL: async on a `pg` client; SQLite: synchronous on the database). */
export interface Transactions {
  publishIn (handle: any, input: PublishInput): RealtimeMessage | Promise<RealtimeMessage>
  transaction (run: (handle: any) => any): unknown
}

/** The idempotency scope of a message published in a transaction: server code's, as `publish()`. */
export const TRANSACTION_SENDER = 'server'

/**
 * The message as `publish()` would store it: accepted (envelope checked
 * before anything is written), stamped (id, time), and refused unless its
 * room is stored (a message that is not stored cannot be announced by position).
 */
export function transactionalMessage (parts: TransactionalParts, input: PublishInput): StorableMessage {
  const message = stampEvent(parts.accept({ ...input, payload: input.payload ?? {} }))
  if (message.room === undefined || !parts.shouldPersist(message)) {
    throw codedError(ErrorCodes.INVALID_MESSAGE, '/room: a message published in a transaction must go to a room the store keeps', { path: '/room' })
  }
  return message as StorableMessage
}

/** Misuse of the API by server code (no store, a client outside a transaction): a coded setup error. */
export function misuse (message: string): Error {
  return codedError(ErrorCodes.INVALID_OPTION, message)
}

/** Ring each new message once its transaction committed (a duplicate was announced when it was first stored). */
export function ringCommitted (parts: TransactionalParts, published: AppendResult[]): void {
  for (const { duplicate, message, position } of published) if (!duplicate) parts.ring(message.room, position.offset)
}

const registry = new WeakMap<object, Transactions>()

/** Make `transactions` the ones of the hub whose persistence is `persistence` (the message-store plugin does). */
export function registerTransactions (persistence: object, transactions: Transactions): void {
  registry.set(persistence, transactions)
}

/** The transactions of a hub's persistence; `VIX_ERR_INVALID_OPTION` when its store has none (no store, or one of the app's own kind). */
export function transactionsOf (persistence: object | null): Transactions {
  const transactions = persistence === null ? undefined : registry.get(persistence)
  if (transactions === undefined) throw misuse('publishIn and transaction need the message store on PostgreSQL or SQLite (the store option)')
  return transactions
}
