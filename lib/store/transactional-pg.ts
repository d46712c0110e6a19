import type pg from 'pg'
import { StoreUnavailableError } from '../errors.js'
import type { PublishInput, RealtimeMessage } from '../frames.js'
import { isUnavailable } from './postgres-schema.js'
import type { PostgresMessageStore } from './postgres.js'
import { withPosition } from './room-streams.js'
import { TRANSACTION_SENDER, misuse, ringCommitted, transactionalMessage, type TransactionalParts, type Transactions } from './transactional.js'
import type { AppendResult, StorableMessage } from './types.js'

/** `pg` 8.20+: I idle, T in a transaction, E in a failed one. */
interface TransactionStatus { getTransactionStatus: () => string | null }

/** PostgreSQL's "no transaction in progress" (SAVEPOINT outside BEGIN). */
const NO_TRANSACTION = '25P01'

/**
 * Publishing inside the application's PostgreSQL transaction. `publishIn`
 * runs the store's own append statements (`storeIn`) on the application's
 * client (under a savepoint when the client cannot say whether it is in a
 * transaction; when it fails the application's transaction is failed and must roll back): the room's counter row stays locked until the
 * application's transaction ends, so offsets follow commit order; a
 * rollback leaves nothing. A `NOTIFY` of (room, offset) goes in the same
 * transaction, so every listening node hears of it only if it commits, and
 * reads the message by position.
 *
 * @example
 * const tx = new PostgresTransactions(parts, store, notifyChannel(store.schema))
 * await tx.transaction(async (client) => { await client.query('UPDATE topics SET ...'); await tx.publishIn(client, { room: 'r', type: 'topic', payload: {} }) })
 */
export class PostgresTransactions implements Transactions {
  /** The appends of each transaction the `transaction` helper runs, rung on this node once it committed. */
  private readonly open = new WeakMap<pg.ClientBase, AppendResult[]>()

  constructor (private readonly parts: TransactionalParts, private readonly store: PostgresMessageStore, private readonly channel: string) {}

  async publishIn (client: pg.ClientBase, input: PublishInput): Promise<RealtimeMessage> {
    if (typeof client?.query !== 'function') throw misuse('publishIn: expected a pg client inside its transaction')
    const message = transactionalMessage(this.parts, input)
    await this.store.ready()
    // pg 8.20+ says where the client stands: no savepoint needed (two round trips fewer). A client that cannot say gets one.
    const status = typeof (client as Partial<TransactionStatus>).getTransactionStatus === 'function' ? (client as unknown as TransactionStatus).getTransactionStatus() : null
    if (status === 'I') throw misuse('publishIn: the client has no transaction open (BEGIN first)')
    if (status !== null) return await this.append(client, message)
    try {
      await client.query('SAVEPOINT vix_publish')
    } catch (error) {
      if ((error as { code?: string }).code === NO_TRANSACTION) throw misuse('publishIn: the client has no transaction open (BEGIN first)')
      throw error
    }
    try {
      const published = await this.append(client, message)
      await client.query('RELEASE SAVEPOINT vix_publish')
      return published
    } catch (error) {
      // The application's transaction goes on without this publish (it may still roll back as a whole).
      await client.query('ROLLBACK TO SAVEPOINT vix_publish').catch(() => {})
      throw error
    }
  }

  /** The store's own append on the application's client, and the doorbell in the same transaction. */
  private async append (client: pg.ClientBase, message: StorableMessage): Promise<RealtimeMessage> {
    // The doorbell (NOTIFY of the room and its offset) goes in the append's last statement.
    const [result] = await this.store.storeIn(client, [{ message, sender: TRANSACTION_SENDER }], this.channel)
    this.open.get(client)?.push(result)
    return withPosition(result.message, result.position.offset, result.position.epoch)
  }

  /** `run` inside BEGIN ... COMMIT on a connection of the store's pool; rolled back when it throws; its messages are delivered on this node at once after the commit. The database out of reach is `VIX_ERR_STORE_UNAVAILABLE`. */
  async transaction<T> (run: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.store.ready()
    let client: pg.PoolClient
    try {
      client = await this.store.pool.connect()
    } catch (error) {
      throw storeUnavailable(error)
    }
    const published: AppendResult[] = []
    this.open.set(client, published)
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      let result: T
      try {
        result = await run(client)
        await client.query('COMMIT')
      } catch (error) {
        await client.query('ROLLBACK').catch((failed: Error) => { broken = failed })
        throw error
      }
      ringCommitted(this.parts, published)
      return result
    } catch (error) {
      if (!isUnavailable(error)) throw error
      broken ??= error as Error
      throw storeUnavailable(error)
    } finally {
      this.open.delete(client)
      client.release(broken)
    }
  }
}

function storeUnavailable (error: unknown): Error {
  return Object.assign(new StoreUnavailableError((error as Error).message), { cause: error })
}
