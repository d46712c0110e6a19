/**
 * One part of the system that takes part in shutdown (a transport, the store,
 * the metrics registry). `order` sorts the second phase: transports first,
 * storage after them, so the last commit lands before the database closes.
 */
export interface ShutdownParticipant {
  name: string
  order?: number
  /** Phase 1: stop taking new work and tell peers to go. Must not block. */
  requestStop?: () => void
  /** Phase 2: wait for in-flight work, then release resources, by `deadline` (ms epoch). */
  finalize?: (deadline: number) => Promise<void> | void
}

export interface LifecycleOptions {
  /** How long phase 2 waits for peers before it forces them (ms). */
  shutdownTimeout: number
  logger?: { error: (obj: unknown, msg?: string) => void }
}

/**
 * Two-phase shutdown, in the spirit of an attached runtime: `requestStop`
 * is non-blocking and only starts the stop; `finalizeShutdown` waits and
 * releases. Both are idempotent.
 */
export class Lifecycle {
  private readonly participants: ShutdownParticipant[] = []
  private stopRequested = false
  private finalizing: Promise<void> | undefined

  constructor (readonly options: LifecycleOptions) {}

  /** True once phase 1 has started: no new connections or sessions. */
  get stopping (): boolean {
    return this.stopRequested
  }

  add (participant: ShutdownParticipant): void {
    this.participants.push(participant)
    this.participants.sort((a, b) => (a.order ?? 0) - (b.order ?? 0))
  }

  requestStop (): void {
    if (this.stopRequested) return
    this.stopRequested = true
    for (const participant of this.participants) {
      try {
        participant.requestStop?.()
      } catch (error) {
        this.options.logger?.error({ err: error, participant: participant.name }, 'vix-realtime: requestStop failed')
      }
    }
  }

  finalizeShutdown (): Promise<void> {
    this.requestStop()
    this.finalizing ??= this.runFinalize()
    return this.finalizing
  }

  private async runFinalize (): Promise<void> {
    const deadline = Date.now() + this.options.shutdownTimeout
    for (const participant of this.participants) {
      try {
        await participant.finalize?.(deadline)
      } catch (error) {
        this.options.logger?.error({ err: error, participant: participant.name }, 'vix-realtime: finalizeShutdown failed')
      }
    }
  }
}
