// Opens a capture file, recognises its format (pcap, pcapng, either one
// gzip- or zstd-compressed) and drives the format's record parser over a
// streaming buffer.
//
// Use: `next()` synchronously, as long as it returns true, then `await more()`
// and loop; `more()` resolves false at the clean end of the file and rejects
// with a CaptureFileError naming the byte offset when the file is damaged.
// Splitting the two keeps the per-packet path free of promises: the only
// awaits are per buffer refill.
import { open, stat } from 'node:fs/promises';
import { CaptureFileError, OtusError } from '../../../core/errors.ts';
import { newRawPacket, type RawPacket } from '../../../core/packet.ts';
import { DecompressSource, FileSource, canDecompress, type ByteSource, type Compression } from './byte-source.ts';
import { ChunkReader, DEFAULT_BUFFER_SIZE } from './file-reader.ts';
import { PcapFormat, isPcapMagic, parsePcapHeader, PCAP_GLOBAL_HEADER_LEN } from './pcap-format.ts';
import { BT_SHB, PcapngFormat } from './pcapng-format.ts';
import { MORE, type RecordFormat } from './record-format.ts';

export interface ReaderOptions {
  /** Size of the read buffer (default 2 MiB); records larger than it grow it temporarily. */
  bufferSize?: number;
}

const GZIP_MAGIC = 0x1f8b;
const ZSTD_MAGIC = 0x28b52ffd;

/** Checks that `path` names a readable regular file; the errors say so with the path. */
export async function checkCaptureFile(path: string): Promise<number> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new OtusError(`capture file not found: ${path}`, 'CAPTURE_FILE_NOT_FOUND');
    throw new OtusError(`cannot read capture file ${path}: ${(e as Error).message}`, 'CAPTURE_FILE_UNREADABLE');
  }
  if (!st.isFile()) throw new OtusError(`capture file ${path} is not a regular file`, 'CAPTURE_FILE_UNREADABLE');
  return st.size;
}

async function openSource(path: string): Promise<FileSource> {
  try {
    return new FileSource(await open(path, 'r'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new OtusError(`capture file not found: ${path}`, 'CAPTURE_FILE_NOT_FOUND');
    throw new OtusError(`cannot open capture file ${path}: ${(e as Error).message}`, 'CAPTURE_FILE_UNREADABLE');
  }
}

export class CaptureFileReader {
  /** The one packet object, refilled by every next(). */
  readonly packet: RawPacket = newRawPacket();
  private closed = false;

  private constructor(
    readonly path: string,
    /** Size of the file on disk. */
    readonly fileSize: number,
    private readonly source: ByteSource,
    private readonly chunk: ChunkReader,
    private readonly format: RecordFormat,
    /** 'gzip', 'zstd' or null for a plain file. */
    readonly compression: Compression | null,
  ) {}

  /** 'pcap' or 'pcapng'. */
  get formatName(): string {
    return this.format.name;
  }

  static async open(path: string, opts: ReaderOptions = {}): Promise<CaptureFileReader> {
    const fileSize = await checkCaptureFile(path);
    const bufferSize = Math.max(64, opts.bufferSize ?? DEFAULT_BUFFER_SIZE);
    let source: ByteSource = await openSource(path);
    try {
      let chunk = new ChunkReader(source, bufferSize);
      let avail = await chunk.fill(PCAP_GLOBAL_HEADER_LEN);
      let compression: Compression | null = null;
      if (avail >= 4) {
        const head = chunk.view.getUint32(0, false);
        const kind: Compression | null = head >>> 16 === GZIP_MAGIC ? 'gzip' : head === ZSTD_MAGIC ? 'zstd' : null;
        if (kind) {
          if (!canDecompress(kind)) {
            throw new CaptureFileError(path, 0, `${kind}-compressed capture, and this Node.js cannot decompress ${kind}`);
          }
          await source.close();
          source = new DecompressSource(path, kind);
          compression = kind;
          chunk = new ChunkReader(source, bufferSize);
          try {
            avail = await chunk.fill(PCAP_GLOBAL_HEADER_LEN);
          } catch (e) {
            throw new CaptureFileError(path, 0, `${kind}: ${(e as Error).message}`);
          }
        }
      }
      const format = detect(path, chunk, avail, compression);
      return new CaptureFileReader(path, fileSize, source, chunk, format, compression);
    } catch (e) {
      await source.close();
      throw e;
    }
  }

  /**
   * Fills `packet` with the next packet already buffered and returns true;
   * returns false when the caller must `await more()` first.
   */
  next(): boolean {
    return this.format.next(this.packet) !== MORE;
  }

  /**
   * Reads what the parser needs next. Resolves true when next() can go on,
   * false at the clean end of the file; rejects with a CaptureFileError when
   * the file ends inside a record or cannot be decompressed.
   */
  async more(): Promise<boolean> {
    const need = this.format.need;
    let avail: number;
    try {
      avail = await this.chunk.fill(need);
    } catch (e) {
      if (e instanceof OtusError) throw e;
      // The source fails only once every byte before the failure was handed
      // over: the record in progress is cut short there, like at the end of
      // a truncated file, and the message says both.
      const why = this.compression ? `${this.compression}: ${(e as Error).message}` : `read error: ${(e as Error).message}`;
      const left = this.chunk.available;
      if (left === 0 && this.format.atBoundary) throw this.error(this.chunk.offset, why);
      throw this.error(this.chunk.offset, `${this.format.truncation(left)}; ${why}`);
    }
    if (avail >= need) return true;
    if (avail === 0 && this.format.atBoundary) return false;
    throw this.error(this.chunk.offset, this.format.truncation(avail));
  }

  private error(offset: number, what: string): CaptureFileError {
    return new CaptureFileError(this.path, offset, this.compression ? `${what} (offset in the decompressed data)` : what);
  }

  /** Bytes of the file on disk behind the packets delivered so far. */
  get bytesConsumed(): number {
    // Decompressed offsets do not map to file offsets; what was read from disk is the honest measure.
    return this.compression ? this.source.fileBytesRead : this.chunk.offset;
  }

  /** bytesConsumed / fileSize, in [0, 1]. */
  get progress(): number {
    if (this.fileSize === 0) return 1;
    return Math.min(1, this.bytesConsumed / this.fileSize);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.source.close();
  }
}

function detect(path: string, chunk: ChunkReader, avail: number, compression: Compression | null): RecordFormat {
  const inside = compression ? ` (inside the ${compression} data)` : '';
  if (avail === 0) throw new CaptureFileError(path, 0, `empty file${inside}: not a pcap or pcapng capture`);
  if (avail < 4) throw new CaptureFileError(path, 0, `truncated file header${inside} (${avail} bytes): not a pcap or pcapng capture`);
  const v = chunk.view;
  if (isPcapMagic(v)) {
    const hdr = parsePcapHeader(v, avail);
    if (typeof hdr === 'string') throw new CaptureFileError(path, 0, hdr + inside);
    chunk.pos = PCAP_GLOBAL_HEADER_LEN;
    return new PcapFormat(chunk, path, hdr);
  }
  if (v.getUint32(0, false) === BT_SHB) {
    // The section header block is read as the first block; its checks name the offset.
    return new PcapngFormat(chunk, path);
  }
  const magic = v.getUint32(0, false).toString(16).padStart(8, '0');
  throw new CaptureFileError(path, 0, `bad magic 0x${magic}${inside}: not a pcap or pcapng capture`);
}

/**
 * Reads a whole capture file, calling `onPacket` for every packet in order
 * (the RawPacket object is reused: copy what you keep). Rejects with a
 * CaptureFileError after delivering every packet before the damage.
 */
export async function readCaptureFile(path: string, onPacket: (pkt: RawPacket) => void, opts: ReaderOptions = {}): Promise<void> {
  const reader = await CaptureFileReader.open(path, opts);
  try {
    const pkt = reader.packet;
    for (;;) {
      while (reader.next()) onPacket(pkt);
      if (!(await reader.more())) break;
    }
  } finally {
    await reader.close();
  }
}
