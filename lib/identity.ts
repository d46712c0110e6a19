/**
 * The default `identityKey`: an identity's JSON (so `{ user: 'ada' }` from two
 * connections is the same client), or its string form when it has none.
 * `undefined` (auth off) has no key: every anonymous session is its own client.
 */
export function defaultIdentityKey (identity: unknown): string | undefined {
  if (identity === undefined) return undefined
  try {
    return JSON.stringify(identity) ?? String(identity)
  } catch {
    return String(identity)
  }
}

/** What `authenticate` (or `refresh`) may return for a token that expires: the identity, and when (ms since the epoch, or a Date). */
export interface Expiring<I = unknown> {
  identity: I
  expiresAt: number | Date
}

/**
 * An identity as `authenticate` returned it: an object with exactly the keys
 * `identity` and `expiresAt` (a finite number or a valid Date) is a token
 * that expires; anything else is the identity itself, which never expires.
 */
export function unwrapIdentity (result: unknown): { identity: unknown, expiresAt: number | undefined } {
  if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
    const keys = Object.keys(result)
    if (keys.length === 2 && 'identity' in result && 'expiresAt' in result) {
      const { identity, expiresAt } = result as Expiring
      const at = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt
      if (typeof at === 'number' && Number.isFinite(at)) return { identity, expiresAt: at }
    }
  }
  return { identity: result, expiresAt: undefined }
}
