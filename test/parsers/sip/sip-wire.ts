// SIP messages, SDP bodies and the packets that carry them, built by hand for
// the sip parser tests, plus a small in-memory FlowRegistry that records what
// it is asked to do.
import { DecodedPacket, IPPROTO } from '../../../src/core/packet.ts';
import { formatIp } from '../../../src/core/ip.ts';
import type { FlowContext, FlowRegistry } from '../../../src/flow/api.ts';

export const CRLF = '\r\n';

/** A message from its start line and header lines; the body follows an empty line. */
export function sipText(startLine: string, headers: string[], body = ''): string {
  return [startLine, ...headers].join(CRLF) + CRLF + CRLF + body;
}

export function bytesOf(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

function ipSum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i]! << 8) | b[off + i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet / IPv4 / UDP frame around `payload`. */
export function udpFrame(payload: Uint8Array, srcPort: number, dstPort: number, src = [192, 0, 2, 10], dst = [192, 0, 2, 20]): Uint8Array {
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

export interface PacketOptions {
  srcPort?: number;
  dstPort?: number;
  protocol?: number;
  tsSec?: number;
  tsNsec?: number;
  frameNo?: number;
}

/** A DecodedPacket as the decoder would fill it for a UDP datagram carrying `payload`. */
export function sipPacket(payload: string | Uint8Array, o: PacketOptions = {}): DecodedPacket {
  const bytes = typeof payload === 'string' ? bytesOf(payload) : payload;
  const d = new DecodedPacket();
  const srcPort = o.srcPort ?? 5060;
  const dstPort = o.dstPort ?? 5060;
  d.data = udpFrame(bytes, srcPort, dstPort);
  d.ipVersion = 4;
  d.srcIp.set([192, 0, 2, 10]);
  d.dstIp.set([192, 0, 2, 20]);
  d.protocol = o.protocol ?? IPPROTO.UDP;
  d.srcPort = srcPort;
  d.dstPort = dstPort;
  d.payloadOffset = 42;
  d.payloadLength = bytes.length;
  d.capLen = d.origLen = d.data.length;
  d.tsSec = o.tsSec ?? 1_700_000_000;
  d.tsNsec = o.tsNsec ?? 0;
  d.frameNo = o.frameNo ?? 0;
  return d;
}

/** A media packet to (dst) an endpoint, for registry lookups. */
export function mediaPacket(ip: Uint8Array, port: number, tsSec: number, proto: number = IPPROTO.UDP): DecodedPacket {
  const d = new DecodedPacket();
  d.ipVersion = ip.length === 16 ? 6 : 4;
  d.protocol = proto;
  d.dstIp.set(ip);
  d.dstPort = port;
  d.srcIp.set(ip.length === 16 ? new Uint8Array(16).fill(0xee) : [203, 0, 113, 99]);
  d.srcPort = 9;
  d.tsSec = tsSec;
  return d;
}

// ---------------------------------------------------------------- SDP and messages

export interface SdpSpec {
  /** Session-level c= address (IN IP4 unless it holds a ':'), or null for none. */
  session?: string | null;
  origin?: { user?: string; id?: string; version?: string; addr?: string };
  media?: MediaSpec[];
  extra?: string[];
}

export interface MediaSpec {
  media?: string;
  port: number | string;
  proto?: string;
  formats?: string;
  /** Media-level c= address. */
  c?: string;
  attrs?: string[];
}

function cLine(addr: string): string {
  return addr.includes(':') ? `c=IN IP6 ${addr}` : `c=IN IP4 ${addr}`;
}

export function sdpBody(s: SdpSpec = {}): string {
  const o = s.origin ?? {};
  const lines = ['v=0', `o=${o.user ?? 'alice'} ${o.id ?? '2890844526'} ${o.version ?? '2890844526'} IN IP4 ${o.addr ?? '192.0.2.10'}`, 's=-'];
  const session = s.session === undefined ? '192.0.2.10' : s.session;
  if (session !== null) lines.push(cLine(session));
  lines.push('t=0 0');
  lines.push(...(s.extra ?? []));
  for (const m of s.media ?? [{ port: 49170, attrs: ['a=rtpmap:0 PCMU/8000'] }]) {
    lines.push(`m=${m.media ?? 'audio'} ${m.port} ${m.proto ?? 'RTP/AVP'} ${m.formats ?? '0'}`);
    if (m.c !== undefined) lines.push(cLine(m.c));
    lines.push(...(m.attrs ?? []));
  }
  return lines.join(CRLF) + CRLF;
}

export interface DialogSpec {
  callId?: string;
  cseq?: number;
  extraHeaders?: string[];
}

export const ALICE = 'sip:alice@atlanta.example.com';
export const BOB = 'sip:bob@biloxi.example.com';

function dialogHeaders(method: string, d: DialogSpec, toTag: boolean): string[] {
  return [
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
    'Max-Forwards: 70',
    `To: Bob <${BOB}>${toTag ? ';tag=a6c85cf' : ''}`,
    `From: Alice <${ALICE}>;tag=1928301774`,
    `Call-ID: ${d.callId ?? 'a84b4c76e66710@pc33.atlanta.example.com'}`,
    `CSeq: ${d.cseq ?? 314159} ${method}`,
    ...(d.extraHeaders ?? []),
  ];
}

/** A request; with `sdp`, an application/sdp body with its Content-Length. */
export function request(method: string, d: DialogSpec = {}, sdp?: string): string {
  const h = dialogHeaders(method, d, method !== 'INVITE' && method !== 'REGISTER' && method !== 'OPTIONS');
  h.push('Contact: <sip:alice@pc33.atlanta.example.com>', 'User-Agent: Otus-Test/1.0');
  if (sdp !== undefined) h.push('Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`);
  else h.push('Content-Length: 0');
  return sipText(`${method} ${BOB} SIP/2.0`, h, sdp ?? '');
}

/** A response to `method`; with `sdp`, an application/sdp body. */
export function response(status: number, reason: string, method: string, d: DialogSpec = {}, sdp?: string): string {
  const h = dialogHeaders(method, d, status !== 100);
  h.push('Contact: <sip:bob@192.0.2.4>');
  if (sdp !== undefined) h.push('Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`);
  else h.push('Content-Length: 0');
  return sipText(`SIP/2.0 ${status} ${reason}`, h, sdp ?? '');
}

// ---------------------------------------------------------------- a fake FlowRegistry

interface Entry {
  ctx: FlowContext;
  expiry: number;
  proto: number;
}

/** An in-memory FlowRegistry keyed by "proto/ip/port", with a log of calls. */
export class FakeRegistry implements FlowRegistry {
  readonly entries = new Map<string, Entry>();
  readonly log: string[] = [];
  now = 0;

  static key(proto: number, ipVersion: number, ip: Uint8Array, port: number): string {
    return `${proto}/${formatIp(ipVersion, ip)}/${port}`;
  }

  register(proto: number, ipVersion: number, ip: Uint8Array, port: number, ctx: FlowContext, ttlSec: number, nowSec: number): void {
    const k = FakeRegistry.key(proto, ipVersion, ip, port);
    this.log.push(`register ${k} ${ctx.kind} ${ctx.callId} ${ctx.codec} ttl=${ttlSec}`);
    this.now = Math.max(this.now, nowSec);
    if (!(ttlSec > 0)) this.entries.delete(k);
    else this.entries.set(k, { ctx: { ...ctx }, expiry: nowSec + ttlSec, proto });
  }

  lookup(pkt: DecodedPacket): FlowContext | null {
    const now = pkt.tsSec + pkt.tsNsec / 1e9;
    for (const [ip, port] of [
      [pkt.dstIp, pkt.dstPort],
      [pkt.srcIp, pkt.srcPort],
    ] as const) {
      const e = this.entries.get(FakeRegistry.key(pkt.protocol, pkt.ipVersion, ip, port));
      if (e !== undefined && e.expiry > now) return e.ctx;
    }
    return null;
  }

  unregister(proto: number, ipVersion: number, ip: Uint8Array, port: number): void {
    const k = FakeRegistry.key(proto, ipVersion, ip, port);
    this.log.push(`unregister ${k}`);
    this.entries.delete(k);
  }

  unregisterCall(callId: string): number {
    this.log.push(`unregisterCall ${callId}`);
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.ctx.callId === callId) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }

  size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.expiry > this.now) n++;
    return n;
  }

  /** "kind callId codec expiry" of an endpoint, or undefined. */
  get(ip: string, port: number, proto: number = IPPROTO.UDP): { kind: string; callId: string; codec: string; expiry: number } | undefined {
    const e = this.entries.get(`${proto}/${ip}/${port}`);
    return e === undefined ? undefined : { kind: e.ctx.kind, callId: e.ctx.callId, codec: e.ctx.codec, expiry: e.expiry };
  }

  /** Endpoint keys live at packet time `now`, sorted. */
  live(now: number): string[] {
    return [...this.entries].filter(([, e]) => e.expiry > now).map(([k]) => k).sort();
  }
}
