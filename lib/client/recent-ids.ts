/**
 * The last `capacity` ids seen, for dropping a message delivered twice (a
 * replay overlapping live delivery). Memory is bounded: the oldest id is
 * forgotten when a new one arrives at capacity.
 */
export class RecentIds {
  private readonly ids = new Set<string>()

  constructor (private readonly capacity: number) {}

  has (id: string): boolean {
    return this.ids.has(id)
  }

  /** Remember `id`; returns false when it was already known. */
  add (id: string): boolean {
    if (this.ids.has(id)) return false
    this.ids.add(id)
    // A Set iterates in insertion order: the first key is the oldest.
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string)
    return true
  }

  get size (): number {
    return this.ids.size
  }
}
