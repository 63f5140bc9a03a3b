// HEP v3 encoding (the Homer Encapsulation Protocol, as heplify writes it):
// "HEP3", total length, then chunks of {vendor 0, type, length, value}.
import { isIPv4 } from 'node:net';
import type { OutputRecord } from '../../../core/record.ts';

/** HEP protocol types (chunk 0x0b) for the payload types Otus produces. */
export const HEP_PROTO: Record<string, { type: number; form: 'binary' | 'json' }> = {
  sip: { type: 1, form: 'binary' },
  rtp: { type: 4, form: 'binary' },
  rtcp: { type: 5, form: 'json' },
  dns: { type: 53, form: 'json' },
};

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" and write 8 groups.
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return b;
}

function chunk(type: number, value: Buffer): Buffer {
  const c = Buffer.alloc(6 + value.length);
  c.writeUInt16BE(0, 0);
  c.writeUInt16BE(type, 2);
  c.writeUInt16BE(6 + value.length, 4);
  value.copy(c, 6);
  return c;
}
const u8 = (v: number) => Buffer.from([v & 0xff]);
const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v & 0xffff);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

/** HEP3's length fields are 16 bits: a packet (and so a payload) cannot be longer. */
export const HEP_MAX_PACKET = 0xffff;

/** A record whose HEP packet would exceed HEP_MAX_PACKET (a SIP message reassembled from TCP can). */
export class HepOversizeError extends Error {
  constructor(readonly size: number) {
    super(`HEP packet of ${size} bytes exceeds the ${HEP_MAX_PACKET}-byte limit of HEP3`);
  }
}

export interface HepIdentity {
  captureId: number;
  password: string;
  nodeName: string;
}

/**
 * The HEP3 packet for a record, or null when its payload type has no HEP
 * mapping (or lacks the needed form). Throws HepOversizeError when the
 * packet would not fit HEP3's 16-bit length.
 */
export function encodeHep(r: OutputRecord, id: HepIdentity): Buffer | null {
  const p = HEP_PROTO[r.protocol];
  if (!p) return null;
  let payload: Buffer;
  if (p.form === 'binary') {
    if (!r.payloadBinary) return null;
    payload = Buffer.from(r.payloadBinary.buffer, r.payloadBinary.byteOffset, r.payloadBinary.byteLength);
  } else {
    if (r.payloadJson === undefined) return null;
    payload = Buffer.from(r.payloadJson);
  }
  // The payload chunk alone must fit (its own length field); the whole packet is checked below.
  if (payload.length + 6 > HEP_MAX_PACKET) throw new HepOversizeError(payload.length + 6);
  const v4 = isIPv4(r.flow.srcIp);
  const chunks = [
    chunk(0x01, u8(v4 ? 2 : 10)),
    chunk(0x02, u8(r.flow.proto)),
    chunk(v4 ? 0x03 : 0x05, ipBytes(r.flow.srcIp)),
    chunk(v4 ? 0x04 : 0x06, ipBytes(r.flow.dstIp)),
    chunk(0x07, u16(r.flow.srcPort)),
    chunk(0x08, u16(r.flow.dstPort)),
    chunk(0x09, u32(r.tsSec)),
    chunk(0x0a, u32(Math.floor(r.tsNsec / 1000))),
    chunk(0x0b, u8(p.type)),
    chunk(0x0c, u32(id.captureId)),
  ];
  if (id.password) chunks.push(chunk(0x0e, Buffer.from(id.password)));
  chunks.push(chunk(0x0f, payload));
  // Correlation id: the call a packet belongs to, so Homer links RTCP to its SIP dialog.
  const cid = r.labels['sip.call-id'] ?? r.labels['call-id'];
  if (cid) chunks.push(chunk(0x11, Buffer.from(cid)));
  if (r.net.vlans.length) chunks.push(chunk(0x12, u16(r.net.vlans[0]!)));
  if (id.nodeName) chunks.push(chunk(0x13, Buffer.from(id.nodeName)));
  const body = Buffer.concat(chunks);
  if (6 + body.length > HEP_MAX_PACKET) throw new HepOversizeError(6 + body.length);
  const head = Buffer.alloc(6);
  head.write('HEP3', 0, 'latin1');
  head.writeUInt16BE(6 + body.length, 4);
  return Buffer.concat([head, body]);
}
