// Where the bytes of a capture file come from: the file itself, or the file
// seen through a streaming decompressor. The reader above asks for "up to N
// bytes into this buffer" and never sees the difference, so that a compressed
// capture streams with the same bounded memory as a plain one.
import { createReadStream, type ReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';

export interface ByteSource {
  /** Copies up to `length` bytes to `buf[offset..]`; 0 only at the end of the data. */
  read(buf: Uint8Array, offset: number, length: number): Promise<number>;
  /** Bytes taken from the file on disk so far (compressed bytes for a decompressor). */
  readonly fileBytesRead: number;
  /** True when the data is decompressed on the fly (offsets are then in the decompressed stream). */
  readonly compressed: boolean;
  close(): Promise<void>;
}

/** Plain file: positional-less reads on one handle, sequential by construction. */
export class FileSource implements ByteSource {
  fileBytesRead = 0;
  readonly compressed = false;

  constructor(private readonly fh: FileHandle) {}

  async read(buf: Uint8Array, offset: number, length: number): Promise<number> {
    if (length <= 0) return 0;
    const { bytesRead } = await this.fh.read(buf, offset, length, null);
    this.fileBytesRead += bytesRead;
    return bytesRead;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

export type Compression = 'gzip' | 'zstd';

/** True when this Node.js has a streaming decompressor for `kind`. */
export function canDecompress(kind: Compression): boolean {
  return kind === 'gzip' || typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
}

/** Decompressed bytes queued ahead of the reader before the decompressor is paused. */
const QUEUE_HIGH = 4 << 20;

/**
 * A file read through zlib. The decompressor runs in flowing mode into a
 * small queue of its output chunks (64 KiB each), paused while the queue
 * holds more than QUEUE_HIGH bytes, so memory stays bounded; read() copies
 * from the queue until the caller's request is met, so the reader above sees
 * large reads as it does for plain files.
 *
 * Flowing mode rather than an async iterator: a stream that fails is
 * destroyed, and an iterator would lose the output still buffered inside it.
 * Here every chunk produced before the error is already in our queue, and
 * the error is raised only once they have been handed over, so every packet
 * before the damage is still delivered.
 */
export class DecompressSource implements ByteSource {
  readonly compressed = true;
  private readonly file: ReadStream;
  private readonly inflate: Transform;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  /** Read position in queue[0]. */
  private headPos = 0;
  private ended = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(path: string, kind: Compression) {
    this.file = createReadStream(path, { highWaterMark: 1 << 20 });
    const opts = { chunkSize: 1 << 16 };
    this.inflate =
      kind === 'gzip'
        ? zlib.createGunzip(opts)
        : (zlib as unknown as { createZstdDecompress(o: object): Transform }).createZstdDecompress(opts);
    // pipe() does not forward errors: a read error of the file must fail the decompressor too.
    this.file.on('error', (e) => this.inflate.destroy(e));
    this.file.pipe(this.inflate);
    this.inflate.on('data', (c: Buffer) => {
      this.queue.push(c);
      this.queued += c.length;
      if (this.queued > QUEUE_HIGH) this.inflate.pause();
      this.notify();
    });
    this.inflate.on('end', () => {
      this.ended = true;
      this.notify();
    });
    this.inflate.on('error', (e: Error) => {
      this.error ??= e;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  get fileBytesRead(): number {
    return this.file.bytesRead;
  }

  async read(buf: Uint8Array, offset: number, length: number): Promise<number> {
    let n = 0;
    while (n < length) {
      const c = this.queue[0];
      if (c === undefined) {
        // Hand over what we have before waiting, or before reporting the end or the damage.
        if (n > 0) break;
        if (this.error) throw this.error;
        if (this.ended) break;
        if (this.inflate.isPaused()) this.inflate.resume();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      const take = Math.min(length - n, c.length - this.headPos);
      buf.set(c.subarray(this.headPos, this.headPos + take), offset + n);
      this.headPos += take;
      n += take;
      if (this.headPos === c.length) {
        this.queue.shift();
        this.queued -= c.length;
        this.headPos = 0;
      }
    }
    if (this.queued <= QUEUE_HIGH / 2 && this.inflate.isPaused() && !this.ended) this.inflate.resume();
    return n;
  }

  async close(): Promise<void> {
    this.ended = true;
    this.queue.length = 0;
    this.inflate.destroy();
    this.file.destroy();
    this.notify();
  }
}
