type Listener = (...args: any[]) => void

/**
 * A minimal event emitter that works the same in browsers and Node. A
 * throwing listener never breaks the client: its error goes to `onListenerError`.
 */
export class Emitter {
  private readonly listeners_ = new Map<string, Set<Listener>>()

  constructor (private readonly onListenerError_: (error: unknown, name: string) => void) {}

  add (name: string, listener: Listener): () => void {
    let set = this.listeners_.get(name)
    if (set === undefined) {
      set = new Set()
      this.listeners_.set(name, set)
    }
    set.add(listener)
    return () => { this.remove(name, listener) }
  }

  remove (name: string, listener: Listener): void {
    const set = this.listeners_.get(name)
    if (set === undefined) return
    set.delete(listener)
    if (set.size === 0) this.listeners_.delete(name)
  }

  emit (name: string, ...args: unknown[]): void {
    const set = this.listeners_.get(name)
    if (set === undefined) return
    // A copy: a listener may remove itself (once) while we iterate.
    for (const listener of [...set]) {
      try {
        listener(...args)
      } catch (error) {
        this.onListenerError_(error, name)
      }
    }
  }
}
