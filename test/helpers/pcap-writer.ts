// Writes classic pcap files (microsecond or nanosecond resolution) for tests
// and benchmarks that need captures other tools can read too.
import { writeFileSync } from 'node:fs';

export interface PcapRecord {
  data: Uint8Array;
  tsSec: number;
  tsNsec: number;
  origLen?: number;
}

export function pcapBytes(records: readonly PcapRecord[], linkType = 1, nano = true, snaplen = 262144): Buffer {
  let size = 24;
  for (const r of records) size += 16 + r.data.length;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeUInt32LE(snaplen, 16);
  out.writeUInt32LE(linkType, 20);
  let o = 24;
  for (const r of records) {
    out.writeUInt32LE(r.tsSec, o);
    out.writeUInt32LE(nano ? r.tsNsec : Math.floor(r.tsNsec / 1000), o + 4);
    out.writeUInt32LE(r.data.length, o + 8);
    out.writeUInt32LE(r.origLen ?? r.data.length, o + 12);
    out.set(r.data, o + 16);
    o += 16 + r.data.length;
  }
  return out;
}

export function writePcap(path: string, records: readonly PcapRecord[], linkType = 1, nano = true): void {
  writeFileSync(path, pcapBytes(records, linkType, nano));
}
