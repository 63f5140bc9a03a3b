// Builds RTP and RTCP packets by hand, and the DecodedPacket a decoder would
// fill for them, for the rtp/rtcp parser tests and the benchmark.
import { DecodedPacket, IPPROTO } from '../../../src/core/packet.ts';

class Bytes {
  private readonly out: number[] = [];
  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  u24(v: number): this {
    return this.u8(v >>> 16).u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v);
  }
  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]! & 0xff);
    return this;
  }
  text(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }
  get length(): number {
    return this.out.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export interface RtpSpec {
  pt?: number;
  seq?: number;
  ts?: number;
  ssrc?: number;
  marker?: boolean;
  csrcs?: number[];
  /** Header extension: profile and its data words. */
  ext?: { profile: number; words: number[] };
  /** Media bytes. */
  payload?: number | Uint8Array;
  /** Padding bytes to add (the last one holds the count). */
  pad?: number;
  version?: number;
}

export function rtpPacket(s: RtpSpec = {}): Uint8Array {
  const b = new Bytes();
  const cc = s.csrcs?.length ?? 0;
  const pad = s.pad ?? 0;
  b.u8(((s.version ?? 2) << 6) | (pad > 0 ? 0x20 : 0) | (s.ext ? 0x10 : 0) | cc);
  b.u8((s.marker ? 0x80 : 0) | (s.pt ?? 0));
  b.u16(s.seq ?? 1);
  b.u32(s.ts ?? 160);
  b.u32(s.ssrc ?? 0x11223344);
  for (const c of s.csrcs ?? []) b.u32(c);
  if (s.ext) {
    b.u16(s.ext.profile).u16(s.ext.words.length);
    for (const w of s.ext.words) b.u32(w);
  }
  const payload = s.payload ?? 160;
  if (typeof payload === 'number') for (let i = 0; i < payload; i++) b.u8(0xd5);
  else b.bytes(payload);
  for (let i = 1; i < pad; i++) b.u8(0);
  if (pad > 0) b.u8(pad);
  return b.build();
}

export interface ReportBlockSpec {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number; // signed 24-bit
  highestSeq: number;
  jitter: number;
  lsr: number;
  dlsr: number;
}

/** RTCP compound builder: each method appends one sub-packet. */
export class Rtcp {
  private readonly parts: Uint8Array[] = [];

  /** A sub-packet with a correct length field; body must be a multiple of 4 unless padded. */
  raw(count: number, pt: number, body: Uint8Array, opts: { pad?: number; lengthWords?: number; version?: number } = {}): this {
    const pad = opts.pad ?? 0;
    const size = 4 + body.length + pad;
    const b = new Bytes();
    b.u8(((opts.version ?? 2) << 6) | (pad > 0 ? 0x20 : 0) | count);
    b.u8(pt);
    b.u16(opts.lengthWords ?? size / 4 - 1);
    b.bytes(body);
    for (let i = 1; i < pad; i++) b.u8(0);
    if (pad > 0) b.u8(pad);
    this.parts.push(b.build());
    return this;
  }

  private static blocks(b: Bytes, reports: ReportBlockSpec[]): void {
    for (const r of reports) {
      b.u32(r.ssrc).u8(r.fractionLost).u24(r.cumulativeLost & 0xffffff).u32(r.highestSeq).u32(r.jitter).u32(r.lsr).u32(r.dlsr);
    }
  }

  sr(ssrc: number, ntpSec: number, ntpFrac: number, rtpTs: number, packets: number, octets: number, reports: ReportBlockSpec[] = []): this {
    const b = new Bytes().u32(ssrc).u32(ntpSec).u32(ntpFrac).u32(rtpTs).u32(packets).u32(octets);
    Rtcp.blocks(b, reports);
    return this.raw(reports.length, 200, b.build());
  }

  rr(ssrc: number, reports: ReportBlockSpec[] = []): this {
    const b = new Bytes().u32(ssrc);
    Rtcp.blocks(b, reports);
    return this.raw(reports.length, 201, b.build());
  }

  /** items: [type, text] or [8, prefix, text] for PRIV. */
  sdes(chunks: { ssrc: number; items: ([number, string] | [8, string, string])[] }[]): this {
    const b = new Bytes();
    for (const c of chunks) {
      const start = b.length;
      b.u32(c.ssrc);
      for (const it of c.items) {
        if (it[0] === 8 && it.length === 3) {
          const prefix = Buffer.from(it[1]);
          const text = Buffer.from(it[2]);
          b.u8(8).u8(1 + prefix.length + text.length).u8(prefix.length).bytes(prefix).bytes(text);
        } else {
          const text = Buffer.from(it[1]);
          b.u8(it[0]).u8(text.length).bytes(text);
        }
      }
      b.u8(0);
      while ((b.length - start) % 4 !== 0) b.u8(0);
    }
    return this.raw(chunks.length, 202, b.build());
  }

  bye(ssrcs: number[], reason?: string): this {
    const b = new Bytes();
    for (const s of ssrcs) b.u32(s);
    if (reason !== undefined) {
      const t = Buffer.from(reason);
      b.u8(t.length).bytes(t);
      while (b.length % 4 !== 0) b.u8(0);
    }
    return this.raw(ssrcs.length, 203, b.build());
  }

  app(subtype: number, ssrc: number, name: string, data: number[]): this {
    return this.raw(subtype, 204, new Bytes().u32(ssrc).text(name).bytes(data).build());
  }

  fb(pt: 205 | 206, fmt: number, sender: number, media: number, fci: number[]): this {
    return this.raw(fmt, pt, new Bytes().u32(sender).u32(media).bytes(fci).build());
  }

  xr(ssrc: number, blocks: { bt: number; words: number }[]): this {
    const b = new Bytes().u32(ssrc);
    for (const x of blocks) {
      b.u8(x.bt).u8(0).u16(x.words);
      for (let i = 0; i < x.words; i++) b.u32(i);
    }
    return this.raw(0, 207, b.build());
  }

  build(): Uint8Array {
    const n = this.parts.reduce((s, p) => s + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

export const CALLER = Uint8Array.of(10, 0, 0, 1);
export const CALLEE = Uint8Array.of(10, 0, 0, 2);

export interface UdpSpec {
  src?: Uint8Array;
  dst?: Uint8Array;
  srcPort?: number;
  dstPort?: number;
  frameNo?: number;
  tsSec?: number;
  proto?: number;
}

/** Bytes before the payload in the frame (like Ethernet + IPv4 + UDP), so offsets are exercised. */
export const HEADROOM = 42;

/** The DecodedPacket a decoder fills for `payload` sent over UDP. */
export function udpPacket(payload: Uint8Array, s: UdpSpec = {}, into = new DecodedPacket()): DecodedPacket {
  const d = into;
  const src = s.src ?? CALLER;
  const dst = s.dst ?? CALLEE;
  d.ipVersion = src.length === 16 ? 6 : 4;
  d.srcIp.fill(0);
  d.dstIp.fill(0);
  d.srcIp.set(src);
  d.dstIp.set(dst);
  d.protocol = s.proto ?? IPPROTO.UDP;
  d.srcPort = s.srcPort ?? 40000;
  d.dstPort = s.dstPort ?? 20000;
  d.tsSec = s.tsSec ?? 1000;
  d.tsNsec = 0;
  d.frameNo = s.frameNo ?? 0;
  const frame = new Uint8Array(HEADROOM + payload.length);
  frame.set(payload, HEADROOM);
  d.data = frame;
  d.payloadOffset = HEADROOM;
  d.payloadLength = payload.length;
  d.capLen = d.origLen = frame.length;
  return d;
}
