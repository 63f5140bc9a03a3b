// The payload of a packet no parser claimed, forwarded by
// `unmatched_policy: forward`: its L4 payload bytes, as they were.
import type { Payload } from '../core/output.ts';
import type { DecodedPacket } from '../core/packet.ts';

export class RawPayload implements Payload {
  readonly type = 'raw';
  /** A view into the worker's current frame: serialise before the next packet. */
  private readonly bytes: Uint8Array;
  private readonly truncated: boolean;
  private readonly origLen: number;

  constructor(d: DecodedPacket) {
    this.bytes = d.payload;
    this.truncated = d.truncated;
    this.origLen = d.origLen;
  }

  toJSON(): unknown {
    return {
      length: this.bytes.length,
      truncated: this.truncated,
      frame_len: this.origLen,
      data: Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('base64'),
    };
  }

  toBinary(): Uint8Array {
    return this.bytes.slice();
  }
}
