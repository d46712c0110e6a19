import { createHash } from 'node:crypto'

/** A 32-bit point on the ring: the first four bytes of the MD5 of `key` (the same on every node and every Node version). */
function point (key: string): number {
  return createHash('md5').update(key).digest().readUInt32BE(0)
}

/**
 * A consistent hash ring: `owner(key)` is a server index, the same on every
 * node that was given the same number of servers. Each server stands on the
 * ring at `virtualNodes` points (`server-<index>-<n>`), so the keys spread
 * evenly and adding a server takes about 1/n of the keys from the others,
 * leaving the rest where they were. Servers are known by their place in the
 * list, not by their URL: every node must list them in the same order (a
 * node may reach one through another address), and a new one goes at the end.
 *
 * @example
 * const ring = new HashRing(3)
 * ring.owner('general') // 0, 1 or 2, on every node alike
 */
export class HashRing {
  /** Points, ascending, and the server at each. */
  private readonly points: Uint32Array
  private readonly servers: Uint16Array

  constructor (readonly size: number, readonly virtualNodes = 256) {
    const entries: Array<[number, number]> = []
    for (let server = 0; server < size; server++) {
      for (let n = 0; n < virtualNodes; n++) entries.push([point(`server-${server}-${n}`), server])
    }
    // Ties (rare) go to the lower index, so the order is total and the same everywhere.
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1])
    this.points = Uint32Array.from(entries, (entry) => entry[0])
    this.servers = Uint16Array.from(entries, (entry) => entry[1])
  }

  /** The server owning `key`: the first point at or after the key's, wrapping around. */
  owner (key: string): number {
    if (this.size === 1) return 0
    const target = point(key)
    let low = 0
    let high = this.points.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.points[middle] < target) low = middle + 1
      else high = middle
    }
    return this.servers[low === this.points.length ? 0 : low]
  }
}
