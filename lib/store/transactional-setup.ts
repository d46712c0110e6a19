import type { PublishInput } from '../frames.js'
import type { HubObserver, Logger } from '../hub/types.js'
import { Doorbell } from './doorbell.js'
import type { StorePersistence } from './persistence.js'
import { PgNotifyListener, notifyChannel } from './pg-notify.js'
import { PostgresMessageStore } from './postgres.js'
import { SqliteMessageStore } from './sqlite.js'
import { registerTransactions, type TransactionalParts, type Transactions } from './transactional.js'
import { PostgresTransactions } from './transactional-pg.js'
import { SqliteTransactions } from './transactional-sqlite.js'

/** What the message-store plugin hands over from the hub. */
export interface TransactionalSetupParts {
  /** Server code's accept stage (see `TransactionalParts.accept`). */
  accept: (input: PublishInput) => PublishInput
  observers: readonly HubObserver[]
  logger: Logger
}

/** The open transactional side of a store: close its LISTEN connection (shutdown). */
export interface TransactionalSide {
  transactions: Transactions
  listener: PgNotifyListener | null
  close: () => Promise<void>
}

/**
 * Give the hub `publishIn` / `transaction` for its store (PostgreSQL or
 * SQLite; none for a store of another kind) and, on PostgreSQL with `listen`,
 * the LISTEN connection that rings the room streams on every commit:
 * `true` opens it like the store's pool, a URL opens it there (a direct
 * connection when the pool goes through a transaction-mode pooler).
 *
 * @example
 * const side = openTransactions(store, persistence, { accept, observers, logger }, true)
 * await side?.close()
 */
export function openTransactions (store: unknown, persistence: StorePersistence, parts: TransactionalSetupParts, listen: boolean | string | undefined): TransactionalSide | null {
  const doorbell = new Doorbell({ ring: (room, offset) => persistence.ring(room, offset), observers: parts.observers })
  const txParts: TransactionalParts = { accept: parts.accept, shouldPersist: persistence.shouldPersist, ring: (room, offset) => { doorbell.ring(room, offset, false) } }
  let transactions: Transactions
  let listener: PgNotifyListener | null = null
  if (store instanceof PostgresMessageStore) {
    const channel = notifyChannel(store.schema)
    transactions = new PostgresTransactions(txParts, store, channel)
    if (listen !== undefined && listen !== false) {
      listener = new PgNotifyListener({
        notified: (room, offset) => { doorbell.ring(room, offset, true) },
        listening: (again) => {
          persistence.resync()
          if (again) for (const observer of parts.observers) observer.transactionRepaired?.()
        },
        logger: parts.logger
      }, { connection: typeof listen === 'string' ? { connectionString: listen } : store.pool.options, channel })
      listener.start()
    }
  } else if (store instanceof SqliteMessageStore) {
    transactions = new SqliteTransactions(txParts, store)
  } else {
    return null
  }
  persistence.onDelivered = (envelope) => { doorbell.delivered(envelope) }
  registerTransactions(persistence, transactions)
  return { transactions, listener, close: async () => { await listener?.close() } }
}
