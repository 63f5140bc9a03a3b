// Classic libpcap files: a 24-byte global header, then records of a 16-byte
// header (seconds, fraction, captured length, wire length) and the bytes.
// The magic number decides the byte order and whether the fraction counts
// microseconds or nanoseconds.
import { CaptureFileError } from '../../../core/errors.ts';
import type { RawPacket } from '../../../core/packet.ts';
import { MAX_RECORD_SIZE, type ChunkReader } from './file-reader.ts';
import { MORE, PACKET, type RecordFormat } from './record-format.ts';

export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
/** Alexey Kuznetzov's patched libpcap: microseconds, 8 more bytes per record header (libpcap reads it too). */
export const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;

export const PCAP_GLOBAL_HEADER_LEN = 24;

/**
 * Records longer than the file's snaplen occur (tools that raise the snaplen
 * mid-capture, jumbo frames); libpcap accepts them up to the largest snaplen
 * it ever writes, 262144, and so do we. Beyond max(snaplen, that), a length
 * is damage, not a packet.
 */
const LIBPCAP_MAX_SNAPLEN = 262144;

export interface PcapHeader {
  littleEndian: boolean;
  nanosecond: boolean;
  recordHeaderLen: number;
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  /** LINKTYPE_ value (the FCS bits above it are stripped). */
  linkType: number;
}

function isMagic(m: number): boolean {
  return m === PCAP_MAGIC_USEC || m === PCAP_MAGIC_NSEC || m === PCAP_MAGIC_KUZNETZOV;
}

/** True when the first 4 bytes of `view` are a classic pcap magic in either byte order. */
export function isPcapMagic(view: DataView): boolean {
  return isMagic(view.getUint32(0, false)) || isMagic(view.getUint32(0, true));
}

/**
 * Parses the global header at the start of `view`, of which `available`
 * bytes are valid. Returns a message saying what is wrong instead when it is
 * not usable (the caller owns the file name and the error).
 */
export function parsePcapHeader(view: DataView, available: number): PcapHeader | string {
  if (available < PCAP_GLOBAL_HEADER_LEN) {
    return `truncated global header (${PCAP_GLOBAL_HEADER_LEN} bytes expected, ${available} present)`;
  }
  const le = isMagic(view.getUint32(0, true));
  const magic = view.getUint32(0, le);
  const versionMajor = view.getUint16(4, le);
  const versionMinor = view.getUint16(6, le);
  // libpcap reads major version 2 only; 1 is an archaic format no tool writes any more.
  if (versionMajor !== 2) return `unsupported pcap version ${versionMajor}.${versionMinor}`;
  return {
    littleEndian: le,
    nanosecond: magic === PCAP_MAGIC_NSEC,
    recordHeaderLen: magic === PCAP_MAGIC_KUZNETZOV ? 24 : 16,
    versionMajor,
    versionMinor,
    snaplen: view.getUint32(16, le),
    // LT_LINKTYPE(): the top bits carry the FCS length, not the link type.
    linkType: view.getUint32(20, le) & 0x03ffffff,
  };
}

export class PcapFormat implements RecordFormat {
  readonly name = 'pcap';
  need = 0;
  atBoundary = true;
  private readonly le: boolean;
  private readonly hdrLen: number;
  private readonly fracToNs: number;
  private readonly fracPerSec: number;
  private readonly linkType: number;
  private readonly limit: number;
  private readonly snaplen: number;

  constructor(
    private readonly r: ChunkReader,
    private readonly file: string,
    hdr: PcapHeader,
  ) {
    this.le = hdr.littleEndian;
    this.hdrLen = hdr.recordHeaderLen;
    this.fracToNs = hdr.nanosecond ? 1 : 1000;
    this.fracPerSec = hdr.nanosecond ? 1_000_000_000 : 1_000_000;
    this.linkType = hdr.linkType;
    this.snaplen = hdr.snaplen;
    this.limit = Math.min(Math.max(hdr.snaplen, LIBPCAP_MAX_SNAPLEN), MAX_RECORD_SIZE - this.hdrLen);
  }

  next(pkt: RawPacket): number {
    const r = this.r;
    const pos = r.pos;
    const avail = r.end - pos;
    const hdrLen = this.hdrLen;
    if (avail < hdrLen) {
      this.need = hdrLen;
      this.atBoundary = true;
      return MORE;
    }
    const v = r.view;
    const le = this.le;
    const caplen = v.getUint32(pos + 8, le);
    if (caplen > this.limit) {
      throw new CaptureFileError(
        this.file,
        r.base + pos,
        `record length ${caplen} exceeds snaplen/limit (snaplen ${this.snaplen}, limit ${this.limit})`,
      );
    }
    const total = hdrLen + caplen;
    if (avail < total) {
      this.need = total;
      this.atBoundary = false;
      return MORE;
    }
    let sec = v.getUint32(pos, le);
    let frac = v.getUint32(pos + 4, le);
    // A fraction of a second or more is a writer's bug; carry it rather than hand on an impossible value.
    if (frac >= this.fracPerSec) {
      const carry = Math.floor(frac / this.fracPerSec);
      sec += carry;
      frac -= carry * this.fracPerSec;
    }
    const origLen = v.getUint32(pos + 12, le);
    const start = pos + hdrLen;
    pkt.data = r.buf.subarray(start, start + caplen);
    pkt.offset = 0;
    pkt.end = -1;
    // The contract promises origLen >= caplen; a writer that says otherwise is wrong about origLen.
    pkt.origLen = origLen < caplen ? caplen : origLen;
    pkt.tsSec = sec;
    pkt.tsNsec = frac * this.fracToNs;
    pkt.linkType = this.linkType;
    pkt.ifIndex = 0;
    r.pos = start + caplen;
    return PACKET;
  }

  truncation(available: number): string {
    if (this.atBoundary) return `truncated record header (${this.hdrLen} bytes expected, ${available} present)`;
    const caplen = this.need - this.hdrLen;
    return `truncated record data (captured length ${caplen}, ${Math.max(0, available - this.hdrLen)} bytes present)`;
  }
}
