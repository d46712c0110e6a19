/**
 * A seeded PRNG (mulberry32): the same seed gives the same fault schedule and
 * the same client moves on every machine, so a failing seed can be run again.
 *
 * @example
 * const random = new Prng(7)
 * random.between(1000, 3000) // an integer in [1000, 3000)
 */
export class Prng {
  private state: number

  constructor (seed: number) {
    this.state = seed >>> 0
  }

  /** A float in [0, 1). */
  next (): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let x = this.state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [min, max). */
  between (min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min))
  }

  chance (probability: number): boolean {
    return this.next() < probability
  }

  pick<T> (items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T> (items: readonly T[]): T[] {
    const copy = [...items]
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const held = copy[i]
      copy[i] = copy[j]
      copy[j] = held
    }
    return copy
  }

  /** An independent stream of `seed` for `label` (the schedule, client 3...), so one consumer's draws never shift another's. */
  static derive (seed: number, label: number): Prng {
    const mixed = new Prng((seed ^ Math.imul(label + 1, 0x9e3779b1)) >>> 0)
    mixed.next()
    return mixed
  }
}
