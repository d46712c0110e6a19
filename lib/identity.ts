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
