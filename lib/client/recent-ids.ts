/**
 * The last `capacity` ids seen, for dropping a message delivered twice (a
 * replay overlapping live delivery). Memory is bounded: the oldest id is
 * forgotten when a new one arrives at capacity.
 */
export class RecentIds {
  private readonly ids_ = new Set<string>()

  constructor (private readonly capacity_: number) {}

  has (id: string): boolean {
    return this.ids_.has(id)
  }

  /** Remember `id`; returns false when it was already known. */
  add (id: string): boolean {
    if (this.ids_.has(id)) return false
    this.ids_.add(id)
    // A Set iterates in insertion order: the first key is the oldest.
    if (this.ids_.size > this.capacity_) this.ids_.delete(this.ids_.values().next().value as string)
    return true
  }

  get size (): number {
    return this.ids_.size
  }
}
