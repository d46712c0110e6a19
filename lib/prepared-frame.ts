import * as ws from 'ws'

/** The subset of ws's `Sender.frame` options a server text frame needs. */
interface FrameOptions { fin: boolean, opcode: number, mask: boolean, readOnly: boolean, rsv1: boolean }
/** ws's framing function (`WebSocket.Sender.frame`); @types/ws does not declare `Sender`. */
type FrameFn = (data: Buffer, options: FrameOptions) => Buffer[]

const frameOf = (ws as unknown as { Sender: { frame: FrameFn } }).Sender.frame
// A final, unmasked, uncompressed text frame: what a server sends with permessage-deflate off.
const TEXT_FRAME: FrameOptions = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }

/**
 * One outbound message, prepared once for every recipient: its JSON text,
 * and on first use its UTF-8 bytes and its whole WebSocket text frame
 * (header and payload in one buffer, built with ws's own `Sender.frame`, as
 * socket.io's `wsPreEncodedFrame`). Recipients share the same buffers, so a
 * fan-out costs no encoding, no header and no allocation per recipient.
 *
 * @example
 * const frame = new PreparedFrame(JSON.stringify(message))
 * for (const session of members) session.sendPrepared(frame)
 */
export class PreparedFrame {
  private utf8: Buffer | undefined
  private framed: Buffer | undefined

  constructor (readonly text: string) {}

  /** The text as UTF-8, encoded on first use. */
  get bytes (): Buffer {
    if (this.utf8 === undefined) this.utf8 = Buffer.from(this.text)
    return this.utf8
  }

  /** The complete WebSocket frame (only valid on a connection without permessage-deflate), built on first use. */
  get wsFrame (): Buffer {
    if (this.framed === undefined) {
      const parts = frameOf(this.bytes, TEXT_FRAME)
      this.framed = parts.length === 1 ? parts[0] : Buffer.concat(parts)
    }
    return this.framed
  }
}
