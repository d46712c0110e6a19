import type Database from 'better-sqlite3'
import type { PublishInput, RealtimeMessage } from '../frames.js'
import { withPosition } from './room-streams.js'
import type { SqliteMessageStore } from './sqlite.js'
import { TRANSACTION_SENDER, misuse, ringCommitted, transactionalMessage, type TransactionalParts, type Transactions } from './transactional.js'
import type { AppendResult } from './types.js'

/**
 * Publishing inside a synchronous transaction on the SQLite store's
 * database (one node): `transaction` runs the application's function in
 * `BEGIN IMMEDIATE`; `publishIn` inside it stores the message with the
 * store's own append (`storeIn`), and the messages are delivered once it
 * committed; a throw rolls everything back and nothing is delivered.
 *
 * @example
 * tx.transaction((db) => { db.prepare('UPDATE topics SET text = ? WHERE room = ?').run(text, room); tx.publishIn(db, { room, type: 'topic', payload: { text } }) })
 */
export class SqliteTransactions implements Transactions {
  /** The appends of the transaction running now (null: none). */
  private published: AppendResult[] | null = null

  constructor (private readonly parts: TransactionalParts, private readonly store: SqliteMessageStore) {}

  publishIn (db: Database.Database, input: PublishInput): RealtimeMessage {
    if (db !== this.store.db || this.published === null) throw misuse('publishIn(db): only inside app.realtime.transaction((db) => ...), with the db it hands over')
    const message = transactionalMessage(this.parts, input)
    const [result] = this.store.storeIn([{ message, sender: TRANSACTION_SENDER }])
    this.published.push(result)
    return withPosition(result.message, result.position.offset, result.position.epoch)
  }

  transaction<T> (run: (db: Database.Database) => T): T {
    if (this.published !== null) throw misuse('transaction: already inside one (use the db it handed over)')
    const published: AppendResult[] = []
    this.published = published
    let result: T
    try {
      result = this.store.db.transaction(() => run(this.store.db)).immediate()
    } finally {
      this.published = null
    }
    ringCommitted(this.parts, published)
    return result
  }
}
