/** Who a demo session is: the name it picked, or a guest when it gave none. */
export interface DemoIdentity { name: string, guest?: true }

const GUEST: DemoIdentity = Object.freeze({ name: 'guest', guest: true })

/**
 * The demo's `authenticate`: the name in `?name=` of the WebSocket URL or the
 * long-poll and history requests, trimmed, 1–32 characters, else a 401
 * `VIX_ERR_UNAUTHORIZED` (the hub turns a throw into one). Without `name` the
 * session is a guest. Anyone can claim any name: fine for a demo, not for an
 * app (the README's security checklist).
 */
export function demoIdentity (request: { url: string }): DemoIdentity {
  // The raw URL: route validation strips query parameters a route does not declare.
  const raw = new URL(request.url, 'http://localhost').searchParams.get('name')
  if (raw === null) return GUEST
  const name = raw.trim()
  if (name.length === 0 || [...name].length > 32) throw new Error('`name` must be 1-32 characters')
  return { name }
}

/** Same name, same member (two tabs are one member); every guest (and a session made without a request) is one of its own. */
export function demoIdentityKey (identity: unknown): string | undefined {
  const demo = identity as DemoIdentity | undefined
  return demo === undefined || demo.guest === true ? undefined : `name:${demo.name}`
}

/** What every member sees of a session, in presence and as the `from` of its messages: its name. */
export function demoPublicInfo (identity: unknown): { name: string } {
  return { name: (identity as DemoIdentity | undefined)?.name ?? 'guest' }
}
