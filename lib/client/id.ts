let counter = 0

/**
 * A fresh message id. `crypto.randomUUID` is only there in secure contexts
 * (https pages, Node); elsewhere a time + counter + random id is unique
 * enough for one client's requests.
 */
export function newClientId (): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID()
  counter = (counter + 1) % 0x100000
  return `c-${Date.now().toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 10)}`
}
