// Splits a byte stream into newline-terminated messages with a hard size
// limit, so that a client cannot make the daemon buffer without bound.

export type LineEvent = { kind: 'line'; text: string } | { kind: 'overflow'; bytes: number };

export class LineReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private overflowed = false;

  constructor(private readonly maxBytes: number) {}

  /** Bytes waiting for their newline. */
  get pending(): number {
    return this.size;
  }

  /** Feeds bytes; returns the complete lines, then an overflow (after which nothing more is read). */
  push(data: Buffer): LineEvent[] {
    if (this.overflowed) return [];
    const out: LineEvent[] = [];
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      const end = nl === -1 ? data.length : nl;
      const piece = data.subarray(start, end);
      if (this.size + piece.length > this.maxBytes) {
        this.overflowed = true;
        out.push({ kind: 'overflow', bytes: this.size + piece.length });
        this.chunks = [];
        this.size = 0;
        return out;
      }
      if (nl === -1) {
        if (piece.length) {
          this.chunks.push(Buffer.from(piece)); // a copy: the socket may reuse its buffer
          this.size += piece.length;
        }
        return out;
      }
      const line = this.size === 0 ? piece : Buffer.concat([...this.chunks, piece]);
      this.chunks = [];
      this.size = 0;
      const text = line.toString('utf8').replace(/\r$/, '');
      if (text.trim() !== '') out.push({ kind: 'line', text });
      start = nl + 1;
    }
  }
}
