// A pipeline worker's batch of records already written as lines (PayloadForms
// .linesOnly), kept as UTF-8 bytes in a buffer of its own. Each line is
// encoded once, when the record is made, and the batch crosses to the main
// thread by transferring the buffer: posting the same lines as one string
// cost about 400 ns per 300-byte line (the string is flattened, then copied
// by the message serialiser, then encoded again by the file write), against
// about 250 ns to encode it here (measured, node 24).

/** First buffer size; each new batch's buffer is as large as the last one had grown. */
const INITIAL_BYTES = 64 * 1024;
/** Buffers kept for reuse: batches in flight are bounded (MAX_PENDING_BATCHES in lossless runs, the send buffer in live ones). */
const MAX_SPARE = 16;

export interface LineBytes {
  /** UTF-8, every line ending in "\n". */
  bytes: Uint8Array;
  count: number;
}

export class LineBatchWriter {
  private buf: Buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private off = 0;
  private n = 0;
  /**
   * Buffers of earlier batches that came back (recycle): a new buffer per
   * batch, hundreds of kilobytes, was fresh memory for this thread to fault in
   * and external memory for the main thread's collector to reclaim (its GC
   * took 14-15 % of its samples in a CPU profile of `otus run`, 0.7 % since).
   */
  private readonly spare: ArrayBuffer[] = [];

  get count(): number {
    return this.n;
  }

  /** Appends `line` and a "\n". */
  add(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 for 2).
    const most = 3 * line.length + 1;
    if (this.off + most > this.buf.length) this.grow(most);
    this.off += this.buf.write(line, this.off);
    this.buf[this.off++] = 0x0a;
    this.n++;
  }

  /**
   * The batch so far; its buffer now belongs to the caller (post it with
   * `bytes.buffer` in the transfer list), and the writer starts a new one.
   */
  take(): LineBytes {
    const out = { bytes: new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.off), count: this.n };
    this.buf = this.next(Math.max(INITIAL_BYTES, this.buf.length));
    this.off = 0;
    this.n = 0;
    return out;
  }

  /** A batch's buffer that nobody uses any more (LineBatch.release), for a later batch. */
  recycle(buffer: ArrayBuffer): void {
    if (this.spare.length < MAX_SPARE && buffer.byteLength >= INITIAL_BYTES) this.spare.push(buffer);
  }

  /** A buffer of at least `size` bytes: a spare one if one is large enough. */
  private next(size: number): Buffer {
    const spare = this.spare;
    for (let i = spare.length - 1; i >= 0; i--) {
      const b = spare[i]!;
      if (b.byteLength < size) continue;
      spare.splice(i, 1);
      return Buffer.from(b);
    }
    return Buffer.allocUnsafeSlow(size);
  }

  private grow(most: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.off + most));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
}
