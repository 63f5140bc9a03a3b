// Hand-built pcap and pcapng bytes for the capture-file tests: every field is
// written explicitly, so that a test can also write the wrong thing on purpose.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawPacket } from '../../src/core/packet.ts';

// ------------------------------------------------------------------ helpers

export class Bytes {
  private parts: Buffer[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(Buffer.from([v & 0xff]));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    if (this.le) b.writeBigUInt64LE(BigInt.asUintN(64, v));
    else b.writeBigUInt64BE(BigInt.asUintN(64, v));
    this.parts.push(b);
    return this;
  }
  raw(d: Uint8Array): this {
    this.parts.push(Buffer.from(d));
    return this;
  }
  pad4(): this {
    const n = this.length % 4;
    if (n) this.parts.push(Buffer.alloc(4 - n));
    return this;
  }
  get length(): number {
    return this.parts.reduce((a, p) => a + p.length, 0);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Deterministic payload bytes (a different pattern per seed). */
export function payload(len: number, seed: number): Uint8Array {
  const d = new Uint8Array(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    d[i] = x & 0xff;
  }
  return d;
}

/** What a test expects to be delivered (a copy of a RawPacket). */
export interface Expected {
  data: Uint8Array;
  origLen: number;
  tsSec: number;
  tsNsec: number;
  linkType: number;
  ifIndex: number;
}

export function copyPacket(p: RawPacket): Expected {
  return { data: Uint8Array.from(p.data), origLen: p.origLen, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType, ifIndex: p.ifIndex };
}

// ------------------------------------------------------------------ pcap

export interface PcapRec {
  sec: number;
  /** Microseconds or nanoseconds, as the file's magic says. */
  frac: number;
  data: Uint8Array;
  origLen?: number;
  /** Write this captured length instead of data.length (for damage). */
  caplen?: number;
}

export interface PcapOpts {
  le?: boolean;
  nano?: boolean;
  /** Kuznetzov's modified format (24-byte record headers). */
  kuznetzov?: boolean;
  snaplen?: number;
  linkType?: number;
  major?: number;
}

export function pcapHeader(o: PcapOpts = {}): Buffer {
  const b = new Bytes(o.le ?? true);
  b.u32(o.kuznetzov ? 0xa1b2cd34 : o.nano ? 0xa1b23c4d : 0xa1b2c3d4);
  b.u16(o.major ?? 2).u16(4).u32(0).u32(0).u32(o.snaplen ?? 65535).u32(o.linkType ?? 1);
  return b.done();
}

export function pcapRecord(r: PcapRec, o: PcapOpts = {}): Buffer {
  const b = new Bytes(o.le ?? true);
  b.u32(r.sec).u32(r.frac).u32(r.caplen ?? r.data.length).u32(r.origLen ?? r.data.length);
  if (o.kuznetzov) b.u32(3).u16(0x0800).u8(0).u8(0);
  return b.raw(r.data).done();
}

export function pcapFile(recs: readonly PcapRec[], o: PcapOpts = {}): Buffer {
  return Buffer.concat([pcapHeader(o), ...recs.map((r) => pcapRecord(r, o))]);
}

export function pcapExpected(recs: readonly PcapRec[], o: PcapOpts = {}): Expected[] {
  return recs.map((r) => ({
    data: r.data,
    origLen: r.origLen ?? r.data.length,
    tsSec: r.sec,
    tsNsec: o.nano ? r.frac : r.frac * 1000,
    linkType: o.linkType ?? 1,
    ifIndex: 0,
  }));
}

// ------------------------------------------------------------------ pcapng

export function block(le: boolean, type: number, body: Uint8Array, totalLen?: number, trailerLen?: number): Buffer {
  const padded = (body.length + 3) & ~3;
  const len = 12 + padded;
  const b = new Bytes(le);
  b.u32(type).u32(totalLen ?? len).raw(body).pad4().u32(trailerLen ?? totalLen ?? len);
  return b.done();
}

export function shb(le: boolean, major = 1): Buffer {
  const body = new Bytes(le).u32(0x1a2b3c4d).u16(major).u16(0).u64(-1n);
  // An shb_userappl option, so that options are not always absent.
  const app = Buffer.from('otus-test');
  body.u16(4).u16(app.length).raw(app).pad4().u16(0).u16(0);
  return block(le, 0x0a0d0d0a, body.done());
}

export interface IfOpts {
  linkType: number;
  snaplen?: number;
  /** if_tsresol byte (absent: default microseconds). */
  tsresol?: number;
  /** if_tsoffset seconds. */
  tsoffset?: bigint;
}

export function idb(le: boolean, i: IfOpts): Buffer {
  const body = new Bytes(le).u16(i.linkType).u16(0).u32(i.snaplen ?? 0);
  const name = Buffer.from('eth-test0');
  body.u16(2).u16(name.length).raw(name).pad4();
  if (i.tsresol !== undefined) body.u16(9).u16(1).u8(i.tsresol).pad4();
  if (i.tsoffset !== undefined) body.u16(14).u16(8).u64(i.tsoffset);
  body.u16(0).u16(0);
  return block(le, 1, body.done());
}

export function epb(le: boolean, ifId: number, units: bigint, data: Uint8Array, origLen = data.length, caplen = data.length): Buffer {
  const body = new Bytes(le)
    .u32(ifId)
    .u32(Number(units >> 32n))
    .u32(Number(units & 0xffffffffn))
    .u32(caplen)
    .u32(origLen)
    .raw(data)
    .pad4();
  // An epb_flags option after the data (inbound), which the reader must step over.
  body.u16(2).u16(4).u32(1).u16(0).u16(0);
  return block(le, 6, body.done());
}

export function spb(le: boolean, origLen: number, data: Uint8Array): Buffer {
  return block(le, 3, new Bytes(le).u32(origLen).raw(data).done());
}

/** A block the reader must skip: type and some body. */
export function otherBlock(le: boolean, type: number, bodyLen: number): Buffer {
  return block(le, type, payload(bodyLen, type));
}

/** Exact seconds/nanoseconds of a unit count, computed the slow obvious way. */
export function unitsToTs(units: bigint, tsresol = 6, offset = 0n): { tsSec: number; tsNsec: number } {
  const exp = BigInt(tsresol & 0x7f);
  const per = tsresol & 0x80 ? 1n << exp : 10n ** exp;
  return { tsSec: Number(units / per + offset), tsNsec: Number(((units % per) * 1_000_000_000n) / per) };
}

// ------------------------------------------------------------------ files

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'otus-pcap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeTemp(dir: string, name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
