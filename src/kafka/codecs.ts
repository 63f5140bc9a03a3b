// Compression codecs for kafkajs beyond its built-in gzip: snappy (xerial
// framing understood on decompression, as Java producers write it), LZ4 frame
// format (what Kafka expects) and zstd (Node's own zlib binding).
import zlib from 'node:zlib';
import kafkajs from 'kafkajs';
import snappy from 'snappy';
import lz4 from 'lz4-napi';

// CommonJS packages: their named exports are read off the default export.
const { CompressionCodecs, CompressionTypes } = kafkajs;
const { compressFrameSync, decompressFrameSync } = lz4;

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

function snappyDecompress(buf: Buffer): Buffer {
  if (buf.length < 16 || !buf.subarray(0, 8).equals(XERIAL_MAGIC)) return snappy.uncompressSync(buf) as Buffer;
  // xerial: magic(8) version(4) compatible(4), then [length(4 BE) block]...
  const parts: Buffer[] = [];
  let o = 16;
  while (o + 4 <= buf.length) {
    const n = buf.readUInt32BE(o);
    o += 4;
    parts.push(snappy.uncompressSync(buf.subarray(o, o + n)) as Buffer);
    o += n;
  }
  return Buffer.concat(parts);
}

type Encoder = { buffer: Buffer };

let registered = false;

export function registerCodecs(): void {
  if (registered) return;
  registered = true;
  const codecs = CompressionCodecs as unknown as Record<number, () => { compress(e: Encoder): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }>;
  codecs[CompressionTypes.Snappy] = () => ({
    compress: async (e) => snappy.compressSync(e.buffer),
    decompress: async (b) => snappyDecompress(b),
  });
  codecs[CompressionTypes.LZ4] = () => ({
    compress: async (e) => compressFrameSync(e.buffer),
    decompress: async (b) => decompressFrameSync(b),
  });
  codecs[CompressionTypes.ZSTD] = () => ({
    compress: async (e) => zlib.zstdCompressSync(e.buffer),
    decompress: async (b) => zlib.zstdDecompressSync(b),
  });
}

export const compressionTypes = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
} as const;

export type CompressionName = keyof typeof compressionTypes;
