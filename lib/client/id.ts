/**
 * A fresh message id. `crypto.randomUUID` is only there in secure contexts
 * (https pages, Node); elsewhere `c-` and 128 random bits, as a sender key.
 */
export function newClientId (): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  return typeof crypto?.randomUUID === 'function' ? crypto.randomUUID() : `c-${newSenderKey()}`
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
