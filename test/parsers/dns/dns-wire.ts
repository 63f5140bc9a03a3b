// Hand-written DNS messages and UDP frames for the dns parser's tests: every
// byte is placed on purpose, so that damaged encodings (loops, forward
// pointers, lying lengths) can be built as easily as good ones.
import { DecodedPacket, IPPROTO } from '../../../src/core/packet.ts';

export class DnsWriter {
  private readonly b: number[] = [];

  get offset(): number {
    return this.b.length;
  }

  u8(v: number): this {
    this.b.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }

  u32(v: number): this {
    return this.u16(Math.floor(v / 0x10000)).u16(v & 0xffff);
  }

  bytes(v: ArrayLike<number> | string): this {
    if (typeof v === 'string') for (let i = 0; i < v.length; i++) this.u8(v.charCodeAt(i));
    else for (let i = 0; i < v.length; i++) this.u8(v[i]!);
    return this;
  }

  /** One length-prefixed label or character-string. */
  label(s: string | ArrayLike<number>): this {
    return this.u8(s.length).bytes(s);
  }

  ptr(target: number): this {
    return this.u8(0xc0 | (target >> 8)).u8(target);
  }

  /** A name as labels, ended by the root or by a pointer to `ptrTo`. "" or "." is the root. */
  name(n: string, ptrTo?: number): this {
    if (n !== '' && n !== '.') for (const l of n.split('.')) this.label(l);
    return ptrTo === undefined ? this.u8(0) : this.ptr(ptrTo);
  }

  header(h: { id?: number; flags?: number; qd?: number; an?: number; ns?: number; ar?: number }): this {
    return this.u16(h.id ?? 0)
      .u16(h.flags ?? 0)
      .u16(h.qd ?? 0)
      .u16(h.an ?? 0)
      .u16(h.ns ?? 0)
      .u16(h.ar ?? 0);
  }

  question(name: string, type: number, cls = 1, ptrTo?: number): this {
    return this.name(name, ptrTo).u16(type).u16(cls);
  }

  /** Fixed fields of an RR after its name; `rdata` writes the rdata and its length is filled in. */
  rr(type: number, cls: number, ttl: number, rdata: (w: DnsWriter) => void): this {
    this.u16(type).u16(cls).u32(ttl);
    const at = this.offset;
    this.u16(0);
    rdata(this);
    const len = this.offset - at - 2;
    this.b[at] = len >> 8;
    this.b[at + 1] = len & 0xff;
    return this;
  }

  build(): Uint8Array {
    return Uint8Array.from(this.b);
  }
}

/** Header flag bits. */
export const F = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080, AD: 0x0020, CD: 0x0010 } as const;

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

function ipSum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i]! << 8) | b[off + i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 + UDP around `payload` (UDP checksum 0: not computed, allowed over IPv4). */
export function udpFrame(payload: Uint8Array, srcPort: number, dstPort: number, src = [10, 0, 0, 1], dst = [10, 0, 0, 53]): Uint8Array {
  const f = new Uint8Array(42 + payload.length);
  f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  const ipLen = 20 + 8 + payload.length;
  f.set([0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 1, 0x40, 0, 64, 17, 0, 0, ...src, ...dst], 14);
  const sum = ipSum(f, 14, 20);
  f[24] = sum >> 8;
  f[25] = sum & 0xff;
  const udpLen = 8 + payload.length;
  f.set([srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, udpLen >> 8, udpLen & 0xff, 0, 0], 34);
  f.set(payload, 42);
  return f;
}

/** A DecodedPacket as the decoder would fill it for `udpFrame(payload, ...)`. */
export function udpPacket(payload: Uint8Array, srcPort = 40000, dstPort = 53, protocol: number = IPPROTO.UDP): DecodedPacket {
  const d = new DecodedPacket();
  d.data = udpFrame(payload, srcPort, dstPort);
  d.ipVersion = 4;
  d.protocol = protocol;
  d.srcPort = srcPort;
  d.dstPort = dstPort;
  d.payloadOffset = 42;
  d.payloadLength = payload.length;
  d.capLen = d.origLen = d.data.length;
  return d;
}
