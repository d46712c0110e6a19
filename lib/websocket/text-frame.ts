/**
 * A complete server text frame (FIN, opcode 1, unmasked, no RSV bits) in one
 * buffer: the 2-, 4- or 10-byte header, then `text` as UTF-8 — byte for byte
 * what ws's `Sender.frame` makes as two parts (test/ws-private-api.test.ts).
 * One buffer is one `write` when it is the tick's only frame to that socket;
 * `socket.send(text)` makes two (header, then the string) and so a `writev`.
 * Only for a connection without permessage-deflate.
 *
 * @example
 * sender.sendFrame([textFrame('{"kind":"ack","type":"rr","id":"r1","payload":{}}')])
 */
export function textFrame (text: string): Buffer {
  const length = Buffer.byteLength(text)
  const offset = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(offset + length)
  frame[0] = 0x81
  if (offset === 2) {
    frame[1] = length
  } else if (offset === 4) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame[2] = frame[3] = 0
    frame.writeUIntBE(length, 4, 6)
  }
  frame.write(text, offset)
  return frame
}
