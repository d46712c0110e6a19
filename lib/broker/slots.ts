import { createHash } from 'node:crypto'

/** Slots of a Redis Cluster: every key and shard channel hashes to one of them. */
export const clusterSlots = 16384

/** CRC16-CCITT (XMODEM), as Redis Cluster hashes keys, one byte at a time from a table. */
const crcTable = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8
  for (let bit = 0; bit < 8; bit++) crc = (crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  return crc
})

function crc16 (bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ crcTable[((crc >> 8) ^ byte) & 0xff]
  return crc
}

/**
 * The slot of a key or shard channel: the CRC16 of its hash tag (what is
 * between the first `{` and the next `}`, when not empty) or of the whole
 * name, modulo 16384, exactly as Redis Cluster computes it.
 *
 * @example
 * keySlot('{user1000}.following') === keySlot('{user1000}.followers') // true
 */
export function keySlot (key: string): number {
  const open = key.indexOf('{')
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) key = key.slice(open + 1, close)
  }
  return crc16(Buffer.from(key)) % clusterSlots
}

/**
 * One hash tag per partition, each on its own slot and the slots evenly
 * spaced over the 16384 (partition `i` on slot `⌊(i + ½) · 16384 / n⌋`):
 * whatever contiguous ranges the cluster's masters own, each carries the
 * same share of partitions, give or take one. Naive tags (`{0}`, `{1}`, ...)
 * hash wherever CRC16 puts them, and some master gets far more than its
 * share. The tags are found by trying short strings in a fixed order, so
 * every node computes the same ones.
 *
 * @example
 * const tags = partitionTags(64) // tags[i] hashes to slot floor((i + 0.5) * 256)
 */
export function partitionTags (partitions: number): string[] {
  const wanted = new Map<number, number[]>()
  for (let i = 0; i < partitions; i++) {
    const slot = Math.floor((i + 0.5) * clusterSlots / partitions)
    wanted.set(slot, [...(wanted.get(slot) ?? []), i])
  }
  const tags: string[] = new Array<string>(partitions)
  let missing = wanted.size
  for (let n = 0; missing > 0; n++) {
    const tag = n.toString(36)
    const partitionsOfSlot = wanted.get(crc16(Buffer.from(tag)) % clusterSlots)
    if (partitionsOfSlot === undefined) continue
    for (const partition of partitionsOfSlot) tags[partition] = tag
    wanted.delete(crc16(Buffer.from(tag)) % clusterSlots)
    missing--
  }
  return tags
}

/** The partition of a room: the first four bytes of its name's MD5, modulo `partitions` (the same on every node). */
export function partitionOf (room: string, partitions: number): number {
  return createHash('md5').update(room).digest().readUInt32BE(0) % partitions
}
