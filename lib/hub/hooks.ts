import { ErrorCodes } from '../errors.js'
import { sessionLogId } from '../redact.js'
import type { Session } from '../session.js'
import { callSafely } from './maybe.js'
import type { DispatchError, ErrorHandler, Logger } from './types.js'

/**
 * Where application code's failures go: logged, handed to the `onError`
 * handlers, never thrown back into the hub (a throwing `onError` handler is
 * logged too). The client only ever sees `VIX_ERR_INTERNAL`.
 */
export class Hooks {
  constructor (private readonly logger: Logger, private readonly errorHandlers: readonly ErrorHandler[]) {}

  /** Log a failed handler, hand it to `onError`, and answer with the internal error (its cause stays in the log). */
  failed (session: Session, error: unknown): DispatchError {
    const err = error instanceof Error ? error : new Error(String(error))
    this.logger.error({ err, sessionId: sessionLogId(session) }, 'vix-realtime: message handler failed')
    this.emitError(session, err)
    return { ok: false, code: ErrorCodes.INTERNAL, message: 'Internal error while handling the message' }
  }

  /** Run a lifecycle hook; a throw or rejection is logged and reported, never propagated. */
  run (session: Session, fn: () => unknown): void {
    callSafely(fn, (error) => { this.failed(session, error) })
  }

  /** Hand an error (a failed handler, a socket error) to the `onError` handlers. */
  emitError (session: Session | null, error: Error): void {
    for (const handler of this.errorHandlers) {
      try {
        handler(session, error)
      } catch (hookError) {
        this.logger.error({ err: hookError }, 'vix-realtime: onError handler failed')
      }
    }
  }
}
