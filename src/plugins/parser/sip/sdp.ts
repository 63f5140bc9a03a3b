// SDP (RFC 8866, formerly 4566) as far as media correlation needs it: the
// origin, session- and media-level connection addresses (IPv4 and IPv6),
// media lines, rtpmap, rtcp (RFC 3605), rtcp-mux and the direction
// attributes. Read byte by byte like the SIP message; never throws.
import { STATIC_PAYLOAD_TYPES } from '../../../core/rtp-payload-types.ts';
import { ascii, CR, equalsBytes, equalsCi, isWs, LF, parseUint, SLASH, TextRegion } from './bytes.ts';
import { E } from './reasons.ts';
import { jsonString, jsonStringOrNull, jsonStrings } from '../../../core/json-text.ts';

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

// The parsed SDP refers to the bytes it was read from, and decodes a text
// field only when it is read (the JSON form): registering media needs the
// numbers and address bytes, and the codec name, which is interned.

/** A c= address (or the address of a=rtcp). */
export class SdpAddress {
  private str: string | null = null;

  constructor(
    private readonly tv: TextRegion,
    private readonly s: number,
    private readonly e: number,
    /** 4 or 6 for a numeric address, 0 for a host name (which the agent cannot correlate). */
    readonly ipVersion: number,
    /** The address bytes (4 or 16), or null for a host name. */
    readonly ip: Uint8Array | null,
  ) {}

  /** The address as written, without /ttl or /count. */
  get text(): string {
    return (this.str ??= this.tv.text(this.s, this.e));
  }
}

export interface SdpOrigin {
  readonly username: string;
  readonly sessionId: string;
  readonly sessionVersion: string;
  readonly netType: string;
  readonly addrType: string;
  readonly address: string;
}

export class SdpRtpmap {
  constructor(
    private readonly tv: TextRegion,
    readonly pt: number,
    private readonly encS: number,
    private readonly encE: number,
    readonly clockRate: number,
    private readonly parS: number,
    private readonly parE: number,
  ) {}

  /** The encoding name (interned for common codecs). */
  get encoding(): string {
    return codecName(this.tv, this.encS, this.encE);
  }

  /** Encoding parameters (channels for audio), '' when absent. */
  get params(): string {
    return this.tv.text(this.parS, this.parE);
  }
}

/** Encoding names that need no decoding (compared byte for byte, case kept). */
const CODECS: readonly [Uint8Array, string][] = [
  'PCMU', 'PCMA', 'G722', 'G729', 'G723', 'GSM', 'telephone-event', 'opus', 'AMR', 'AMR-WB', 'iLBC', 'speex', 'SILK', 'G7221', 'G726-32',
  'L16', 'CN', 'red', 'ulpfec', 'H264', 'H265', 'VP8', 'VP9', 'AV1', 'rtx', 'H263-1998', 'MP4V-ES', 'EVS',
].map((c) => [ascii(c), c]);

function codecName(tv: TextRegion, s: number, e: number): string {
  for (let i = 0; i < CODECS.length; i++) if (equalsBytes(tv.data, s, e, CODECS[i]![0])) return CODECS[i]![1];
  return tv.text(s, e);
}

export class SdpMedia {
  /** Media-level c=, null when the session-level one applies. */
  connection: SdpAddress | null = null;
  /** A media-level c= was malformed: the address is unknown (the session-level one is not assumed). */
  connectionBad = false;
  /** Port of a=rtcp, or -1. */
  rtcpPort = -1;
  /** Address of a=rtcp, or null (the media address applies). */
  rtcpAddress: SdpAddress | null = null;
  /** Media-level direction, null when the session-level one applies. */
  direction: SdpDirection | null = null;
  rtcpMux = false;
  readonly rtpmap: SdpRtpmap[] = [];

  constructor(
    readonly media: string,
    readonly port: number,
    /** The "/<count>" of m=<media> <port>/<count>, 1 when absent. */
    readonly portCount: number,
    readonly proto: string,
    readonly formats: readonly string[],
  ) {}

  /** True for RTP-based profiles (RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF...). */
  get isRtp(): boolean {
    return this.proto.includes('RTP/');
  }

  /**
   * The codec of the first payload format: its a=rtpmap encoding name, or
   * the RFC 3551 name of a static payload type; '' when unknown.
   */
  get codec(): string {
    const f = this.formats[0];
    if (f === undefined) return '';
    const pt = Number(f);
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) return '';
    for (const r of this.rtpmap) if (r.pt === pt) return r.encoding;
    return STATIC_PAYLOAD_TYPES[pt] ?? '';
  }
}

export class Sdp {
  /** The o= line (its value) and its sess-version field, as offsets; -1 when absent. */
  originStart = -1;
  originEnd = -1;
  versionStart = -1;
  versionEnd = -1;
  /**
   * Who sent this SDP (RFC 3264 8): a 32-bit hash of the o= line less its
   * sess-version, never 0; 0 when there was no well-formed o= line.
   */
  originHash = 0;
  /** The o= sess-version as (all digits but the last nine, the last nine), exact up to 25 digits; -1, -1 when not a number. */
  versionHigh = -1;
  versionLow = -1;
  nameStart = -1;
  nameEnd = -1;
  /** Session-level c=. */
  connection: SdpAddress | null = null;
  /** Session-level direction (sendrecv when absent). */
  direction: SdpDirection = 'sendrecv';
  readonly media: SdpMedia[] = [];
  /** SipMalformedReason bits (sdp_*) met while parsing. */
  errors = 0;

  constructor(private readonly tv: TextRegion) {}

  /** The o= fields, or null when there was no well-formed o= line. */
  get origin(): SdpOrigin | null {
    if (this.originStart < 0) return null;
    const d = this.tv.data;
    const f: string[] = [];
    let p = this.originStart;
    while (p < this.originEnd) {
      p = token(d, p, this.originEnd);
      f.push(this.tv.text(tokS, tokE));
    }
    return { username: f[0]!, sessionId: f[1]!, sessionVersion: f[2]!, netType: f[3]!, addrType: f[4]!, address: f[5]! };
  }

  /** The s= text, or null when absent. */
  get sessionName(): string | null {
    return this.nameStart < 0 ? null : this.tv.text(this.nameStart, this.nameEnd);
  }

  /** The media's address: its own c=, else the session's; null when absent or malformed. */
  connectionOf(m: SdpMedia): SdpAddress | null {
    return m.connection ?? (m.connectionBad ? null : this.connection);
  }

  directionOf(m: SdpMedia): SdpDirection {
    return m.direction ?? this.direction;
  }
}

export { STATIC_PAYLOAD_TYPES };

const PT_TEXT: readonly string[] = Array.from({ length: 128 }, (_, i) => String(i));

// ---------------------------------------------------------------- addresses

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Dotted-quad IPv4 d[s, e) into out[at, at + 4). */
export function parseIpv4(d: Uint8Array, s: number, e: number, out: Uint8Array, at = 0): boolean {
  let part = 0;
  let p = s;
  while (part < 4) {
    const ds = p;
    let v = 0;
    while (p < e && p - ds < 3 && d[p]! >= 0x30 && d[p]! <= 0x39) v = v * 10 + d[p++]! - 0x30;
    if (p === ds || v > 255) return false;
    out[at + part] = v;
    part++;
    if (part < 4) {
      if (p >= e || d[p] !== 0x2e) return false;
      p++;
    }
  }
  return p === e;
}

const words = new Uint16Array(8);
const v4tail = new Uint8Array(4);

/** Textual IPv6 d[s, e) (RFC 4291 2.2, with "::" and a dotted IPv4 tail) into out[0, 16). */
export function parseIpv6(d: Uint8Array, s: number, e: number, out: Uint8Array): boolean {
  let i = s;
  let n = 0;
  let gap = -1;
  if (i < e && d[i] === 0x3a) {
    if (i + 1 >= e || d[i + 1] !== 0x3a) return false;
    i += 2;
    gap = 0;
  }
  while (i < e) {
    if (n >= 8) return false;
    const gs = i;
    let v = 0;
    while (i < e && i - gs < 4) {
      const h = hexValue(d[i]!);
      if (h < 0) break;
      v = v * 16 + h;
      i++;
    }
    if (i < e && d[i] === 0x2e) {
      // dotted IPv4 in the last 32 bits
      if (n > 6 || !parseIpv4(d, gs, e, v4tail)) return false;
      words[n++] = (v4tail[0]! << 8) | v4tail[1]!;
      words[n++] = (v4tail[2]! << 8) | v4tail[3]!;
      i = e;
      break;
    }
    if (i === gs) return false;
    words[n++] = v;
    if (i === e) break;
    if (d[i] !== 0x3a) return false;
    i++;
    if (i < e && d[i] === 0x3a) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === e) {
      return false;
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  out.fill(0, 0, 16);
  const tail = gap < 0 ? 0 : n - gap;
  const head = n - tail;
  for (let k = 0; k < head; k++) {
    out[2 * k] = words[k]! >> 8;
    out[2 * k + 1] = words[k]! & 0xff;
  }
  for (let k = 0; k < tail; k++) {
    const w = words[head + k]!;
    const at = 2 * (8 - tail + k);
    out[at] = w >> 8;
    out[at + 1] = w & 0xff;
  }
  return true;
}

/** A host name: letters, digits, '-' and '.', with at least one letter. */
function isHostName(d: Uint8Array, s: number, e: number): boolean {
  let letter = false;
  for (let i = s; i < e; i++) {
    const b = d[i]!;
    const l = b | 0x20;
    if (l >= 0x61 && l <= 0x7a) letter = true;
    else if (!((b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e)) return false;
  }
  return letter && e > s;
}

const IN = ascii('in');
const IP4 = ascii('ip4');
const IP6 = ascii('ip6');

/** The token d[p, e) up to the next space: sets tokS/tokE and returns the offset after the spaces that follow. */
let tokS = 0;
let tokE = 0;
function token(d: Uint8Array, p: number, e: number): number {
  while (p < e && isWs(d[p]!)) p++;
  tokS = p;
  while (p < e && !isWs(d[p]!)) p++;
  tokE = p;
  while (p < e && isWs(d[p]!)) p++;
  return p;
}

/**
 * "IN IP4 <address>[/ttl[/count]]" or "IN IP6 <address>[/count]" from
 * d[s, e); null when malformed.
 */
export function parseConnection(tv: TextRegion, s: number, e: number): SdpAddress | null {
  const d = tv.data;
  let p = token(d, s, e);
  if (!equalsCi(d, tokS, tokE, IN)) return null;
  p = token(d, p, e);
  const v4 = equalsCi(d, tokS, tokE, IP4);
  if (!v4 && !equalsCi(d, tokS, tokE, IP6)) return null;
  p = token(d, p, e);
  if (p !== e || tokE === tokS) return null;
  const as = tokS;
  let ae = as;
  while (ae < tokE && d[ae] !== SLASH) ae++;
  return address(tv, as, ae, v4);
}

const v4scratch = new Uint8Array(4);
const v6scratch = new Uint8Array(16);

function address(tv: TextRegion, s: number, e: number, v4: boolean): SdpAddress | null {
  const d = tv.data;
  if (v4) {
    if (parseIpv4(d, s, e, v4scratch)) return new SdpAddress(tv, s, e, 4, v4scratch.slice());
  } else {
    if (parseIpv6(d, s, e, v6scratch)) return new SdpAddress(tv, s, e, 6, v6scratch.slice());
  }
  return isHostName(d, s, e) ? new SdpAddress(tv, s, e, 0, null) : null;
}

/** True for 0.0.0.0 and :: (RFC 3264 hold, or "no address yet"). */
export function isUnspecified(a: SdpAddress): boolean {
  const ip = a.ip;
  if (ip === null) return false;
  for (let i = 0; i < ip.length; i++) if (ip[i] !== 0) return false;
  return true;
}

// ---------------------------------------------------------------- the body

const RTPMAP = ascii('rtpmap');
const RTCP = ascii('rtcp');
const RTCP_MUX = ascii('rtcp-mux');
const SENDRECV = ascii('sendrecv');
const SENDONLY = ascii('sendonly');
const RECVONLY = ascii('recvonly');
const INACTIVE = ascii('inactive');

/** Interned texts of common media and protocols, to save a decode per m= line. */
const COMMON: readonly [Uint8Array, string][] = ['audio', 'video', 'image', 'application', 'text', 'message', 'RTP/AVP', 'RTP/SAVP', 'RTP/AVPF', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVPF', 'udptl'].map(
  (s) => [ascii(s), s],
);
function interned(tv: TextRegion, s: number, e: number): string {
  for (let i = 0; i < COMMON.length; i++) if (equalsBytes(tv.data, s, e, COMMON[i]![0])) return COMMON[i]![1];
  return tv.text(s, e);
}

/** Parses the SDP in data[start, end). Errors (sdp_* bits) are in the result's `errors`. */
export function parseSdp(d: Uint8Array, start: number, end: number): Sdp {
  const tv = new TextRegion(d, start, end);
  const sdp = new Sdp(tv);
  let cur: SdpMedia | null = null;
  /** Inside a media section whose m= line was unusable: its lines are ignored. */
  let skipping = false;
  let p = start;
  while (p < end) {
    let q = p;
    while (q < end && d[q] !== LF) q++;
    let le = q;
    if (le > p && d[le - 1] === CR) le--;
    const ls = p;
    p = q < end ? q + 1 : end;
    while (le > ls && isWs(d[le - 1]!)) le--;
    if (le === ls) continue;
    const type = d[ls]!;
    if (le - ls < 2 || d[ls + 1] !== 0x3d || type < 0x61 || type > 0x7a) {
      sdp.errors |= E.sdp_bad_line;
      continue;
    }
    const vs = ls + 2;
    switch (type) {
      case 0x6d: {
        // m=<media> <port>[/<count>] <proto> <fmt> ...
        const m = parseMediaLine(tv, vs, le);
        if (m === null) {
          sdp.errors |= E.sdp_bad_media;
          skipping = true;
          cur = null;
        } else {
          skipping = false;
          cur = m;
          sdp.media.push(m);
        }
        break;
      }
      case 0x63: {
        if (skipping) break;
        const a = parseConnection(tv, vs, le);
        if (a === null) {
          sdp.errors |= E.sdp_bad_connection;
          if (cur !== null) cur.connectionBad = true;
        } else if (cur === null) sdp.connection = a;
        else cur.connection = a;
        break;
      }
      case 0x61:
        if (!skipping) sdp.errors |= attribute(sdp, cur, tv, vs, le);
        break;
      case 0x6f:
        if (cur === null && !skipping && !parseOrigin(sdp, d, vs, le)) sdp.errors |= E.sdp_bad_origin;
        break;
      case 0x73:
        if (cur === null && !skipping) {
          sdp.nameStart = vs;
          sdp.nameEnd = le;
        }
        break;
      default:
        break;
    }
  }
  for (const m of sdp.media) {
    if (m.port !== 0 && m.isRtp && sdp.connectionOf(m) === null && !m.connectionBad) sdp.errors |= E.sdp_no_connection;
  }
  return sdp;
}

function parseMediaLine(tv: TextRegion, s: number, e: number): SdpMedia | null {
  const d = tv.data;
  let p = token(d, s, e);
  if (tokE === tokS) return null;
  const media = interned(tv, tokS, tokE);
  p = token(d, p, e);
  let slash = tokS;
  while (slash < tokE && d[slash] !== SLASH) slash++;
  const port = parseUint(d, tokS, slash);
  if (port < 0 || port > 65535 || slash - tokS > 5) return null;
  let count = 1;
  if (slash < tokE) {
    count = parseUint(d, slash + 1, tokE);
    if (count < 1 || tokE - slash > 6) return null;
  }
  p = token(d, p, e);
  if (tokE === tokS) return null;
  const proto = interned(tv, tokS, tokE);
  const formats: string[] = [];
  while (p < e) {
    p = token(d, p, e);
    if (tokE === tokS) break;
    const pt = tokE - tokS <= 3 ? parseUint(d, tokS, tokE) : -1;
    formats.push(pt >= 0 && pt < 128 ? PT_TEXT[pt]! : tv.text(tokS, tokE));
  }
  return new SdpMedia(media, port, count, proto, formats);
}

/** o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>: checks the six fields, keeps offsets. */
function parseOrigin(sdp: Sdp, d: Uint8Array, s: number, e: number): boolean {
  let p = s;
  let n = 0;
  let vS = 0;
  let vE = 0;
  while (p < e && n < 6) {
    p = token(d, p, e);
    if (tokE === tokS) break;
    if (n === 2) {
      vS = tokS;
      vE = tokE;
    }
    n++;
  }
  if (n !== 6 || p !== e) return false;
  sdp.originStart = s;
  sdp.originEnd = e;
  sdp.versionStart = vS;
  sdp.versionEnd = vE;
  // FNV-1a of the line without the version (and without the spaces around it).
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) {
    if (i === vS) i = vE;
    h = Math.imul(h ^ d[i]!, 0x01000193);
  }
  sdp.originHash = h === 0 ? 1 : h;
  if (vE - vS <= 25) {
    let hi = 0;
    let lo = 0;
    const split = vE - 9;
    let ok = true;
    for (let i = vS; i < vE; i++) {
      const c = d[i]! - 0x30;
      if (c < 0 || c > 9) ok = false;
      else if (i < split) hi = hi * 10 + c;
      else lo = lo * 10 + c;
    }
    if (ok) {
      sdp.versionHigh = hi;
      sdp.versionLow = lo;
    }
  }
  return true;
}

/** One a= line; returns error bits. */
function attribute(sdp: Sdp, cur: SdpMedia | null, tv: TextRegion, s: number, e: number): number {
  const d = tv.data;
  let c = s;
  while (c < e && d[c] !== 0x3a) c++;
  const ne = c;
  const vs = c < e ? c + 1 : e;
  let dir: SdpDirection | null = null;
  if (equalsBytes(d, s, ne, SENDRECV)) dir = 'sendrecv';
  else if (equalsBytes(d, s, ne, SENDONLY)) dir = 'sendonly';
  else if (equalsBytes(d, s, ne, RECVONLY)) dir = 'recvonly';
  else if (equalsBytes(d, s, ne, INACTIVE)) dir = 'inactive';
  if (dir !== null) {
    if (cur === null) sdp.direction = dir;
    else cur.direction = dir;
    return 0;
  }
  if (cur === null) return 0; // rtpmap, rtcp and rtcp-mux are media-level
  if (equalsBytes(d, s, ne, RTPMAP)) {
    const r = parseRtpmap(tv, vs, e);
    if (r === null) return E.sdp_bad_attribute;
    cur.rtpmap.push(r);
    return 0;
  }
  if (equalsBytes(d, s, ne, RTCP)) return parseRtcp(cur, tv, vs, e) ? 0 : E.sdp_bad_attribute;
  if (equalsBytes(d, s, ne, RTCP_MUX)) cur.rtcpMux = true;
  return 0;
}

/** "<pt> <encoding>/<clock rate>[/<params>]" */
function parseRtpmap(tv: TextRegion, s: number, e: number): SdpRtpmap | null {
  const d = tv.data;
  let p = token(d, s, e);
  const pt = tokE - tokS <= 3 ? parseUint(d, tokS, tokE) : -1;
  if (pt < 0 || pt > 127 || p >= e) return null;
  const es = p;
  while (p < e && d[p] !== SLASH && !isWs(d[p]!)) p++;
  const ee = p;
  if (ee === es || p >= e || d[p] !== SLASH) return null;
  const cs = ++p;
  while (p < e && d[p] !== SLASH) p++;
  const clock = parseUint(d, cs, p);
  if (clock <= 0) return null;
  return new SdpRtpmap(tv, pt, es, ee, clock, p < e ? p + 1 : e, e);
}

/** "<port> [IN IP4|IP6 <address>]" (RFC 3605) */
function parseRtcp(m: SdpMedia, tv: TextRegion, s: number, e: number): boolean {
  const d = tv.data;
  const p = token(d, s, e);
  const port = tokE - tokS <= 5 ? parseUint(d, tokS, tokE) : -1;
  if (port < 0 || port > 65535) return false;
  let addr: SdpAddress | null = null;
  if (p < e) {
    addr = parseConnection(tv, p, e);
    if (addr === null) return false;
  }
  m.rtcpPort = port;
  m.rtcpAddress = addr;
  return true;
}

// ---------------------------------------------------------------- JSON

function addressJson(a: SdpAddress | null): string | null {
  return a === null ? null : a.text;
}

/**
 * JSON.stringify(sdpToJson(sdp)), written directly. Not only quicker to
 * build: the rtpmap object has integer-like keys (array elements to V8),
 * which throw JSON.stringify off its fast path, about 3 us per SDP. Its
 * text follows JSON.stringify's rules for such keys: ascending numeric
 * order, and a later a=rtpmap of a payload type replaces an earlier one.
 */
export function sdpToJsonText(sdp: Sdp): string {
  const o = sdp.origin;
  let out = '{"origin":';
  if (o === null) out += 'null';
  else {
    // The getter's fields are always six strings for a well-formed o= line; undefined would be left out, as JSON.stringify does.
    out += '{';
    let sep = '';
    const field = (k: string, v: string | undefined) => {
      if (v === undefined) return;
      out += `${sep}"${k}":${jsonString(v)}`;
      sep = ',';
    };
    field('username', o.username);
    field('session_id', o.sessionId);
    field('session_version', o.sessionVersion);
    field('net_type', o.netType);
    field('addr_type', o.addrType);
    field('address', o.address);
    out += '}';
  }
  out += `,"session_name":${jsonStringOrNull(sdp.sessionName)},"connection":${jsonStringOrNull(addressJson(sdp.connection))},"media":[`;
  for (let i = 0; i < sdp.media.length; i++) {
    const m = sdp.media[i]!;
    const rtcp = m.rtcpPort < 0 ? 'null' : `{"port":${m.rtcpPort},"address":${jsonStringOrNull(addressJson(m.rtcpAddress))}}`;
    out +=
      `${i === 0 ? '' : ','}{"media":${jsonString(m.media)},"port":${m.port},"port_count":${m.portCount},"proto":${jsonString(m.proto)},` +
      `"formats":${jsonStrings(m.formats)},"connection":${jsonStringOrNull(addressJson(sdp.connectionOf(m)))},"direction":${jsonString(sdp.directionOf(m))},` +
      `"codec":${jsonString(m.codec)},"rtpmap":${rtpmapJsonText(m.rtpmap)},"rtcp":${rtcp},"rtcp_mux":${m.rtcpMux}}`;
  }
  return out + ']}';
}

/** Index of the last a=rtpmap of each payload type in the list being written, -1 elsewhere (reset after use). */
const lastRtpmap = new Int32Array(128).fill(-1);

function rtpmapJsonText(list: readonly SdpRtpmap[]): string {
  if (list.length === 0) return '{}';
  const pts: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const pt = list[i]!.pt;
    if (lastRtpmap[pt] === -1) pts.push(pt);
    lastRtpmap[pt] = i;
  }
  if (pts.length > 1) pts.sort((a, b) => a - b);
  let out = '{';
  for (let k = 0; k < pts.length; k++) {
    const pt = pts[k]!;
    const r = list[lastRtpmap[pt]!]!;
    lastRtpmap[pt] = -1;
    const v = r.params === '' ? `${r.encoding}/${r.clockRate}` : `${r.encoding}/${r.clockRate}/${r.params}`;
    out += `${k === 0 ? '' : ','}"${PT_TEXT[pt]!}":${jsonString(v)}`;
  }
  return out + '}';
}

/** The SDP summary of the sip payload's JSON form. */
export function sdpToJson(sdp: Sdp): unknown {
  const o = sdp.origin;
  return {
    origin:
      o === null
        ? null
        : { username: o.username, session_id: o.sessionId, session_version: o.sessionVersion, net_type: o.netType, addr_type: o.addrType, address: o.address },
    session_name: sdp.sessionName,
    connection: addressJson(sdp.connection),
    media: sdp.media.map((m) => {
      const rtpmap: Record<string, string> = {};
      for (const r of m.rtpmap) rtpmap[PT_TEXT[r.pt]!] = r.params === '' ? `${r.encoding}/${r.clockRate}` : `${r.encoding}/${r.clockRate}/${r.params}`;
      return {
        media: m.media,
        port: m.port,
        port_count: m.portCount,
        proto: m.proto,
        formats: m.formats,
        connection: addressJson(sdp.connectionOf(m)),
        direction: sdp.directionOf(m),
        codec: m.codec,
        rtpmap,
        rtcp: m.rtcpPort < 0 ? null : { port: m.rtcpPort, address: addressJson(m.rtcpAddress) },
        rtcp_mux: m.rtcpMux,
      };
    }),
  };
}
