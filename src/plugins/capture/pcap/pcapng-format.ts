// pcapng files: a sequence of blocks (type, total length, body, total length
// again). A Section Header Block sets the byte order for its section and
// forgets the interfaces of the previous one; each Interface Description
// Block adds an interface with its own link type, snaplen and timestamp
// units; Enhanced and Simple Packet Blocks carry the packets. Every other
// block (name resolution, statistics, decryption secrets, custom, and types
// not invented yet) is stepped over by its length, as the format intends.
import { CaptureFileError } from '../../../core/errors.ts';
import type { RawPacket } from '../../../core/packet.ts';
import { MAX_RECORD_SIZE, type ChunkReader } from './file-reader.ts';
import { MORE, PACKET, type RecordFormat } from './record-format.ts';
import { TsUnits, int64FromHalves } from './timestamp.ts';

export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
/** Obsolete Packet Block (pcapng drafts before the EPB); skipped, as no current tool writes it. */
export const BT_OPB = 0x00000002;
export const BT_SPB = 0x00000003;
export const BT_NRB = 0x00000004;
export const BT_ISB = 0x00000005;
export const BT_EPB = 0x00000006;
export const BT_DSB = 0x0000000a;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Smallest possible block: type, length, trailing length. */
const MIN_BLOCK = 12;
const MIN_SHB = 28;
const MIN_IDB = 20;
const MIN_EPB = 32;
const MIN_SPB = 16;

const OPT_ENDOFOPT = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

/**
 * More interfaces than this in one section is damage: each costs memory for
 * the rest of the section, and a hostile file could declare millions.
 */
const MAX_INTERFACES = 1 << 16;

function blockName(type: number): string {
  switch (type) {
    case BT_SHB:
      return 'section header block';
    case BT_IDB:
      return 'interface description block';
    case BT_EPB:
      return 'enhanced packet block';
    case BT_SPB:
      return 'simple packet block';
    default:
      return `block of type 0x${type.toString(16).padStart(8, '0')}`;
  }
}

function minLength(type: number): number {
  switch (type) {
    case BT_SHB:
      return MIN_SHB;
    case BT_IDB:
      return MIN_IDB;
    case BT_EPB:
      return MIN_EPB;
    case BT_SPB:
      return MIN_SPB;
    default:
      return MIN_BLOCK;
  }
}

export class PcapngFormat implements RecordFormat {
  readonly name = 'pcapng';
  need = 0;
  atBoundary = true;
  /** Byte order of the current section (set by its SHB). */
  private le = true;
  private blockLen = 0;
  private blockType = 0;
  // The interfaces of the current section, indexed by interface id.
  private readonly ifLinkType: number[] = [];
  private readonly ifSnaplen: number[] = [];
  private readonly ifTs: TsUnits[] = [];
  /** Sections seen so far (for tests and messages). */
  sections = 0;

  constructor(
    private readonly r: ChunkReader,
    private readonly file: string,
  ) {}

  /** Number of interfaces in the current section. */
  get interfaceCount(): number {
    return this.ifLinkType.length;
  }

  private damage(at: number, what: string): CaptureFileError {
    return new CaptureFileError(this.file, this.r.base + at, what);
  }

  next(pkt: RawPacket): number {
    const r = this.r;
    for (;;) {
      const pos = r.pos;
      const avail = r.end - pos;
      if (avail < MIN_BLOCK) {
        this.need = MIN_BLOCK;
        this.atBoundary = true;
        return MORE;
      }
      const v = r.view;
      const type = v.getUint32(pos, this.le);
      if (type === BT_SHB) {
        // The section's byte order is only known from its SHB, and the SHB's
        // own length is written in it; the type reads the same either way.
        const bom = v.getUint32(pos + 8, true);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else throw this.damage(pos, `bad byte-order magic 0x${bom.toString(16).padStart(8, '0')} in section header block`);
      }
      const len = v.getUint32(pos + 4, this.le);
      if (len < minLength(type) || len % 4 !== 0) {
        throw this.damage(pos, `bad block length ${len} for ${blockName(type)} (a multiple of 4, at least ${minLength(type)})`);
      }
      if (len > MAX_RECORD_SIZE) {
        throw this.damage(pos, `absurd block length ${len} for ${blockName(type)} (limit ${MAX_RECORD_SIZE})`);
      }
      if (avail < len) {
        this.need = len;
        this.blockLen = len;
        this.blockType = type;
        this.atBoundary = false;
        return MORE;
      }
      const trailer = v.getUint32(pos + len - 4, this.le);
      if (trailer !== len) {
        throw this.damage(pos, `bad block length: mismatched trailing length ${trailer} (header says ${len}) in ${blockName(type)}`);
      }
      switch (type) {
        case BT_EPB: {
          const id = v.getUint32(pos + 8, this.le);
          if (id >= this.ifLinkType.length) throw this.noInterface(pos, id, type);
          const caplen = v.getUint32(pos + 20, this.le);
          if (caplen > len - MIN_EPB) {
            throw this.damage(pos, `captured length ${caplen} exceeds the enhanced packet block (room for ${len - MIN_EPB})`);
          }
          const origLen = v.getUint32(pos + 24, this.le);
          this.ifTs[id]!.apply(v.getUint32(pos + 12, this.le), v.getUint32(pos + 16, this.le), pkt);
          pkt.data = r.buf.subarray(pos + 28, pos + 28 + caplen);
          pkt.offset = 0;
          pkt.end = -1;
          pkt.origLen = origLen < caplen ? caplen : origLen;
          pkt.linkType = this.ifLinkType[id]!;
          pkt.ifIndex = id;
          r.pos = pos + len;
          return PACKET;
        }
        case BT_SPB: {
          // No interface id, timestamp or captured length: interface 0, and
          // the bytes present are the wire length cut by the snaplen and by
          // the block (the data is padded to 4 bytes).
          if (this.ifLinkType.length === 0) throw this.noInterface(pos, 0, type);
          const origLen = v.getUint32(pos + 8, this.le);
          const snaplen = this.ifSnaplen[0]!;
          let caplen = len - MIN_SPB;
          if (origLen < caplen) caplen = origLen;
          if (snaplen !== 0 && snaplen < caplen) caplen = snaplen;
          pkt.data = r.buf.subarray(pos + 12, pos + 12 + caplen);
          pkt.offset = 0;
          pkt.end = -1;
          pkt.origLen = origLen;
          pkt.tsSec = 0;
          pkt.tsNsec = 0;
          pkt.linkType = this.ifLinkType[0]!;
          pkt.ifIndex = 0;
          r.pos = pos + len;
          return PACKET;
        }
        case BT_IDB:
          this.addInterface(pos, len);
          break;
        case BT_SHB:
          this.startSection(pos);
          break;
        default:
          // OPB, NRB, ISB, DSB, custom and unknown blocks carry no packet we deliver.
          break;
      }
      r.pos = pos + len;
    }
  }

  private noInterface(pos: number, id: number, type: number): CaptureFileError {
    return this.damage(pos, `${blockName(type)} for interface ${id}, but the section describes ${this.ifLinkType.length} interface(s)`);
  }

  private startSection(pos: number): void {
    const v = this.r.view;
    const major = v.getUint16(pos + 12, this.le);
    const minor = v.getUint16(pos + 14, this.le);
    if (major !== 1) throw this.damage(pos, `unsupported pcapng version ${major}.${minor}`);
    this.ifLinkType.length = 0;
    this.ifSnaplen.length = 0;
    this.ifTs.length = 0;
    this.sections++;
  }

  private addInterface(pos: number, len: number): void {
    if (this.ifLinkType.length >= MAX_INTERFACES) {
      throw this.damage(pos, `more than ${MAX_INTERFACES} interfaces in one section`);
    }
    const v = this.r.view;
    const le = this.le;
    const linkType = v.getUint16(pos + 8, le);
    const snaplen = v.getUint32(pos + 12, le);
    let tsresol = 6;
    let offset = 0;
    // Options: code, length, value padded to 4 bytes; up to opt_endofopt or the trailing length.
    let o = pos + 16;
    const end = pos + len - 4;
    while (o + 4 <= end) {
      const code = v.getUint16(o, le);
      const olen = v.getUint16(o + 2, le);
      if (code === OPT_ENDOFOPT) break;
      const padded = (olen + 3) & ~3;
      if (o + 4 + padded > end) {
        throw this.damage(o, `bad option length ${olen} (option ${code}) runs past the end of the interface description block`);
      }
      if (code === OPT_IF_TSRESOL && olen >= 1) {
        tsresol = v.getUint8(o + 4);
      } else if (code === OPT_IF_TSOFFSET && olen === 8) {
        // The 64-bit value is written in the section's byte order.
        const hi = v.getUint32(o + 4 + (le ? 4 : 0), le);
        const lo = v.getUint32(o + 4 + (le ? 0 : 4), le);
        offset = int64FromHalves(hi, lo);
      }
      o += 4 + padded;
    }
    this.ifLinkType.push(linkType);
    this.ifSnaplen.push(snaplen);
    this.ifTs.push(new TsUnits(tsresol, offset));
  }

  truncation(available: number): string {
    if (this.atBoundary) return `truncated block header (${MIN_BLOCK} bytes expected, ${available} present)`;
    return `truncated ${blockName(this.blockType)} (block length ${this.blockLen}, ${available} bytes present)`;
  }
}
