import type { RetentionRule } from './types.js'

/** The age cutoff of a rule at `now` (ms) as a stored `ts` compares: messages with a `ts` below it are too old. */
export function ageCutoff (rule: RetentionRule, now: number): string | undefined {
  return rule.maxAge === undefined ? undefined : new Date(now - rule.maxAge).toISOString()
}

/**
 * The offset up to which a room is pruned, from its oldest messages in offset
 * order (a batch of them): the end of the longest prefix in which every message
 * breaks the rule, too many (at or below `countCutoff`, the offset of the
 * newest message beyond `maxMessages`) or too old. `undefined`: nothing to
 * delete. Only a prefix is deleted, so a surviving id is always followed by
 * every later message.
 */
export function prunePrefixEnd (oldest: Array<{ offset: number | string, ts: string }>, rule: RetentionRule, now: number, countCutoff: number | undefined): number | undefined {
  const tooOldBefore = ageCutoff(rule, now)
  let upTo: number | undefined
  for (const row of oldest) {
    const offset = Number(row.offset)
    const tooMany = countCutoff !== undefined && offset <= countCutoff
    const tooOld = tooOldBefore !== undefined && row.ts < tooOldBefore
    if (!tooMany && !tooOld) break
    upTo = offset
  }
  return upTo
}
