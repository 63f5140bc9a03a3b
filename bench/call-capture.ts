// Frames and captures for the pipeline benchmark: Ethernet/IPv4/UDP frames
// carrying SIP (INVITE and 200 OK with SDP, ACK, BYE) and G.711 RTP, and a
// pcap of many concurrent calls. Deterministic; no randomness.
import { closeSync, openSync, writeSync } from 'node:fs';

export const RTP_PORT_MIN = 20000;
export const RTP_PORT_MAX = 29999;

function checksum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i]! << 8) | b[off + i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 + UDP around `payload` (UDP checksum 0: allowed over IPv4). */
export function udpFrame(src: number[], dst: number[], sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + payload.length);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  const ipLen = 20 + 8 + payload.length;
  f.set([0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 0, 0x40, 0, 64, 17, 0, 0, ...src, ...dst], 14);
  const c = checksum(f, 14, 20);
  f[24] = c >> 8;
  f[25] = c & 0xff;
  const udpLen = 8 + payload.length;
  f.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, udpLen >> 8, udpLen & 0xff, 0, 0], 34);
  f.set(payload, 42);
  return f;
}

export function rtpPayload(pt: number, seq: number, ts: number, ssrc: number, samples = 160): Uint8Array {
  const p = new Uint8Array(12 + samples).fill(0xd5, 12);
  p[0] = 0x80;
  p[1] = pt;
  p[2] = (seq >> 8) & 0xff;
  p[3] = seq & 0xff;
  new DataView(p.buffer).setUint32(4, ts >>> 0);
  new DataView(p.buffer).setUint32(8, ssrc >>> 0);
  return p;
}

export const ip = (s: string): number[] => s.split('.').map(Number);

/**
 * SSRC and initial RTP timestamp of stream `n`: random-looking 32-bit
 * numbers, as senders pick them (RFC 3550 5.1), so that about half are 2^31
 * or more (heap numbers to V8, dearer to turn into text than small ones).
 */
export function streamSsrc(n: number): number {
  return Math.imul(n + 1, 0x9e3779b1) >>> 0;
}
export function streamTs0(n: number): number {
  return Math.imul(n + 1, 0x85ebca6b) >>> 0;
}

function sdp(user: string, addr: string, port: number): string {
  return [
    'v=0',
    `o=${user} 53655765 1 IN IP4 ${addr}`,
    's=-',
    `c=IN IP4 ${addr}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 8 0 101`,
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export interface CallEnds {
  callId: string;
  caller: string;
  callee: string;
  callerPort: number;
  calleePort: number;
}

/** A realistic SIP message (about 1 kB with SDP): the usual headers, two Vias on requests. */
export function sipMessage(kind: 'INVITE' | '200' | 'ACK' | 'BYE' | '200-BYE', c: CallEnds): Uint8Array {
  const body = kind === 'INVITE' ? sdp('alice', c.caller, c.callerPort) : kind === '200' ? sdp('bob', c.callee, c.calleePort) : '';
  const cseq = kind === 'BYE' || kind === '200-BYE' ? '2 BYE' : kind === 'ACK' ? '1 ACK' : '1 INVITE';
  const start =
    kind === '200' || kind === '200-BYE' ? 'SIP/2.0 200 OK' : `${kind} sip:bob@${c.callee}:5060 SIP/2.0`;
  const lines = [
    start,
    `Via: SIP/2.0/UDP ${c.caller}:5060;branch=z9hG4bK-${c.callId.slice(0, 12)}-${kind}`,
    'Max-Forwards: 70',
    `From: "Alice" <sip:alice@${c.caller}>;tag=1928301774`,
    `To: "Bob" <sip:bob@${c.callee}>${kind === 'INVITE' ? '' : ';tag=a6c85cf'}`,
    `Call-ID: ${c.callId}`,
    `CSeq: ${cseq}`,
    `Contact: <sip:${kind === '200' ? 'bob' : 'alice'}@${kind === '200' ? c.callee : c.caller}:5060>`,
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE',
    'User-Agent: Otus-Bench SoftPhone 3.2.1',
  ];
  if (body) lines.push('Content-Type: application/sdp');
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return Buffer.from(lines.join('\r\n'));
}

export function callEnds(i: number): CallEnds {
  return {
    callId: `bench-${String(i).padStart(6, '0')}@10.1.${(i >> 8) & 0xff}.${i & 0xff}`,
    caller: `10.1.${(i >> 8) & 0xff}.${i & 0xff}`,
    callee: `10.2.${(i >> 8) & 0xff}.${i & 0xff}`,
    callerPort: RTP_PORT_MIN + 2 * (i % 2500),
    calleePort: RTP_PORT_MIN + 5000 + 2 * (i % 2500),
  };
}

/** SIP frames of one call's setup (INVITE, 200 OK with SDP, ACK) or teardown (BYE, 200). */
export function sipFrames(c: CallEnds, phase: 'setup' | 'teardown'): Uint8Array[] {
  const a = ip(c.caller);
  const b = ip(c.callee);
  const kinds = phase === 'setup' ? (['INVITE', '200', 'ACK'] as const) : (['BYE', '200-BYE'] as const);
  return kinds.map((k) => (k === 'INVITE' || k === 'ACK' || k === 'BYE' ? udpFrame(a, b, 5060, 5060, sipMessage(k, c)) : udpFrame(b, a, 5060, 5060, sipMessage(k, c))));
}

/**
 * Writes a pcap of `calls` concurrent calls: every setup first, then `rounds`
 * rounds of 20 ms in which each call sends one RTP packet each way, then
 * every teardown. Returns the number of packets written.
 */
export function writeCallCapture(file: string, calls: number, rounds: number): number {
  const fd = openSync(file, 'w');
  const chunks: Buffer[] = [];
  let pending = 0;
  let n = 0;
  let tUs = 1_767_225_600 * 1e6;
  const flush = () => {
    if (!chunks.length) return;
    writeSync(fd, Buffer.concat(chunks));
    chunks.length = 0;
    pending = 0;
  };
  const put = (frame: Uint8Array, gapUs: number) => {
    tUs += gapUs;
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(tUs / 1e6), 0);
    h.writeUInt32LE(tUs % 1e6, 4);
    h.writeUInt32LE(frame.length, 8);
    h.writeUInt32LE(frame.length, 12);
    chunks.push(h, Buffer.from(frame.buffer, frame.byteOffset, frame.length));
    pending += 16 + frame.length;
    n++;
    if (pending > 1 << 22) flush();
  };
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(1, 20);
  chunks.push(hdr);
  const ends = Array.from({ length: calls }, (_, i) => callEnds(i));
  for (const c of ends) for (const f of sipFrames(c, 'setup')) put(f, 100);
  const gap = Math.max(1, Math.floor(20_000 / (2 * calls)));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < calls; i++) {
      const c = ends[i]!;
      const a = ip(c.caller);
      const b = ip(c.callee);
      put(udpFrame(a, b, c.callerPort, c.calleePort, rtpPayload(8, r, streamTs0(2 * i) + r * 160, streamSsrc(2 * i))), gap);
      put(udpFrame(b, a, c.calleePort, c.callerPort, rtpPayload(8, r, streamTs0(2 * i + 1) + r * 160, streamSsrc(2 * i + 1))), gap);
    }
  }
  for (const c of ends) for (const f of sipFrames(c, 'teardown')) put(f, 100);
  flush();
  closeSync(fd);
  return n;
}
