/** A room name that is a token as it is (most are): the hot path skips the byte loop. */
const plain = /^[A-Za-z0-9-]+$/

/**
 * A room name as one NATS subject token. NATS forbids `.` (the token
 * separator), `*` and `>` (wildcards) and whitespace in a token, and an empty
 * token; a room name may hold any of them. Letters, digits and `-` stay as
 * they are (so `general` is `general`); every other UTF-8 byte becomes `_`
 * and two upper-case hex digits, and the empty name is `_` alone. Reversible
 * (`decodeSubjectToken`) and injective: two rooms never share a subject.
 *
 * @example
 * encodeSubjectToken('team.a b') // 'team_2Ea_20b'
 */
export function encodeSubjectToken (room: string): string {
  if (room === '') return '_'
  if (plain.test(room)) return room
  let token = ''
  for (const byte of Buffer.from(room, 'utf8')) {
    const char = String.fromCharCode(byte)
    token += /[A-Za-z0-9-]/.test(char) ? char : `_${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return token
}

/** The room name of a token made by `encodeSubjectToken`; anything else throws. */
export function decodeSubjectToken (token: string): string {
  if (token === '_') return ''
  if (!/^(?:[A-Za-z0-9-]|_[0-9A-F]{2})+$/.test(token)) throw new Error(`not an encoded room: ${token}`)
  const bytes: number[] = []
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '_') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      bytes.push(token.charCodeAt(i))
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

/**
 * Whether `prefix` can stand before the subject names: no whitespace, no
 * wildcard, no empty token (no leading `.`, no `..`). A trailing `.` is
 * usual (`chat.` gives `chat.room.<token>`).
 */
export function isSubjectPrefix (prefix: string): boolean {
  return prefix.length > 0 && !/[\s*>]/.test(prefix) && !prefix.startsWith('.') && !prefix.includes('..')
}
