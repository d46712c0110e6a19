import type { Logger } from '../hub/types.js'
import type { MessageStore, RetentionRule } from './types.js'

/** Retention: a default rule for every room, per-room overrides, and how pruning is paced. */
export interface RetentionOptions extends RetentionRule {
  /** Rules by room name; they replace the default rule for that room. */
  rooms?: Record<string, RetentionRule>
  /** Time between pruning passes in ms (default 60000). */
  interval?: number
  /** Most messages deleted per transaction (default 500), so a publish never waits long behind pruning. */
  batchSize?: number
}

function hasLimit (rule: RetentionRule | undefined): rule is RetentionRule {
  return rule !== undefined && (rule.maxMessages !== undefined || rule.maxAge !== undefined)
}

/**
 * Applies retention on an unref'd timer: each pass walks the stored rooms and
 * deletes their oldest messages beyond the rule, in small batches with a turn
 * of the event loop between batches.
 *
 * @example
 * const sweeper = new RetentionSweeper(store, { maxMessages: 10000, rooms: { audit: { maxAge: 86400000 } } })
 * sweeper.start()
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<number> | undefined
  private stopped = false
  private readonly interval: number
  private readonly batchSize: number

  constructor (
    private readonly store: MessageStore,
    private readonly options: RetentionOptions,
    private readonly logger?: Logger,
    private readonly now: () => number = Date.now
  ) {
    this.interval = options.interval ?? 60_000
    this.batchSize = options.batchSize ?? 500
  }

  /** The rule that applies to `room`, or undefined when it keeps everything. */
  ruleFor (room: string): RetentionRule | undefined {
    const rule = this.options.rooms?.[room] ?? this.options
    return hasLimit(rule) ? rule : undefined
  }

  start (): void {
    if (this.timer !== undefined || this.stopped) return
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => { this.logger?.error({ err: error }, 'vix-realtime: retention pass failed') })
    }, this.interval)
    this.timer.unref()
  }

  /** One pruning pass over every room (a pass already running is joined, not doubled). Returns how many messages were deleted. */
  sweep (): Promise<number> {
    this.running ??= this.pass().finally(() => { this.running = undefined })
    return this.running
  }

  private async pass (): Promise<number> {
    let deleted = 0
    if (this.stopped) return deleted
    for (const room of await this.store.rooms()) {
      const rule = this.ruleFor(room)
      if (rule === undefined) continue
      for (;;) {
        if (this.stopped) return deleted
        const count = await this.store.prune(room, rule, this.now(), this.batchSize)
        deleted += count
        if (count < this.batchSize) break
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
    }
    return deleted
  }

  /** Stop the timer; resolves when a pass in progress has ended. */
  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    this.timer = undefined
    // The timer's own catch reports a failed pass; stopping only waits for it.
    await this.running?.catch(() => {})
  }
}
