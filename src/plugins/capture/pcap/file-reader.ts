// A window over a byte stream that the record parsers read in place.
//
// Memory stays independent of the file size: one buffer (a few MiB) is
// refilled as records are consumed. When a chunk ends inside a record, the
// partial record is moved to the front of the buffer and the rest is read
// behind it, so that a parser always sees every byte of a record contiguous
// and can hand out a view of it without copying. The buffer grows only for a
// record larger than itself (up to a hard limit the parsers check first), and
// shrinks back once such a record is behind us.
import type { ByteSource } from './byte-source.ts';

export const DEFAULT_BUFFER_SIZE = 2 << 20;
/** No single record or block may be larger: beyond this a length field is taken as damage. */
export const MAX_RECORD_SIZE = 256 << 20;

export class ChunkReader {
  /** The current buffer; replaced only when it grows or shrinks. */
  buf: Uint8Array;
  /** One DataView per buffer (never one per record). */
  view: DataView;
  /** Where the next unread byte is in `buf`. Parsers advance it past what they consumed. */
  pos = 0;
  /** End of the valid bytes in `buf`. */
  end = 0;
  /** Stream offset of `buf[0]`. */
  base = 0;
  /** The source has no more bytes. */
  eof = false;

  constructor(
    private readonly source: ByteSource,
    private readonly normalSize: number = DEFAULT_BUFFER_SIZE,
  ) {
    this.buf = new Uint8Array(normalSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Unread bytes in the buffer. */
  get available(): number {
    return this.end - this.pos;
  }

  /** Stream offset of the next unread byte (what the parsers have consumed). */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * Makes at least `need` unread bytes available, reading as much as fits to
   * keep reads large. Resolves with what is available: less than `need` only
   * at the end of the stream. Invalidates every view handed out before.
   */
  async fill(need: number): Promise<number> {
    if (this.end - this.pos >= need) return this.end - this.pos;
    if (need > MAX_RECORD_SIZE) throw new RangeError(`record of ${need} bytes exceeds the ${MAX_RECORD_SIZE}-byte limit`);
    this.compact(need);
    while (this.end - this.pos < need && !this.eof) {
      const n = await this.source.read(this.buf, this.end, this.buf.length - this.end);
      if (n === 0) this.eof = true;
      this.end += n;
    }
    return this.end - this.pos;
  }

  /** Moves the unread tail to the front and sizes the buffer for `need` bytes. */
  private compact(need: number): void {
    const keep = this.end - this.pos;
    let size = this.buf.length;
    if (need > size) {
      while (size < need) size *= 2;
      size = Math.min(size, MAX_RECORD_SIZE);
    } else if (size > this.normalSize && need <= this.normalSize && keep <= this.normalSize) {
      // The oversized record is consumed: give the memory back.
      size = this.normalSize;
    }
    if (size !== this.buf.length) {
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(this.pos, this.end), 0);
      this.buf = next;
      this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    } else if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
    }
    this.base += this.pos;
    this.pos = 0;
    this.end = keep;
  }
}
