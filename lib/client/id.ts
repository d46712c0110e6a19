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

/**
 * This client's sender key (`client_key`, 128 random bits, URL-safe): the
 * server takes an anonymous client's messages on every session it opens as
 * one sender's, so a publish resent after a reconnect is recognized as the
 * same message (acked `duplicate`) instead of stored twice. A secret: sent
 * only when a connection opens, never in a message.
 */
export function newSenderKey (): string {
  const crypto = (globalThis as { crypto?: { getRandomValues?: (bytes: Uint8Array) => Uint8Array } }).crypto
  const bytes = new Uint8Array(16)
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
