// DNS message parsing (RFC 1035 section 4, RFC 3596, 2782, 3403, 6891, 8659),
// independent of the transport: UDP hands over the datagram payload, DNS over
// TCP will hand over each message after its 2-byte length prefix. Offsets in
// compression pointers are relative to `offset`, the first byte of the header.
//
// Damaged input never throws and never loops. What happens to it:
//   - no complete 12-byte header, or a question that cannot be read: no
//     message (`message: null`), because without the question there is
//     nothing to label the packet with;
//   - anything wrong from the first resource record on: the message is kept
//     with every record read before the damage, and `error` says why the
//     parse stopped (a truncated UDP response still tells who asked what and
//     how the server answered).
// One malformed record stops the parse even when its rdlength would let us
// skip it: a record that lies about its own contents is reason enough not to
// trust the rest, and the rule is simple to state downstream.
//
// Name decompression (RFC 1035 4.1.4, RFC 9267): every pointer must point
// before the start of the run of labels that led to it, so the positions
// visited strictly decrease and a loop is impossible by construction; the
// number of pointers and the length of the name (255 bytes on the wire) are
// bounded as well, so a name costs at most a few hundred steps.
import { formatIpv6 } from '../../../core/ip.ts';
import { className, DnsType, opcodeName, rcodeName, typeName } from './names.ts';

export type DnsMalformedReason =
  /** Fewer than 12 bytes: no header. */
  | 'short_header'
  /** A name, fixed field or rdata runs past the end of the message. */
  | 'truncated'
  /** A label length byte of 64..191 (the reserved and extended label types). */
  | 'label_too_long'
  /** A name longer than 255 bytes on the wire. */
  | 'name_too_long'
  /** A compression pointer to itself or to a later offset. */
  | 'pointer_forward'
  /** A pointer back into labels already read for the same name. */
  | 'pointer_loop'
  /** A pointer into the 12-byte header. */
  | 'pointer_header'
  /** More than MAX_POINTERS pointers in one name. */
  | 'too_many_pointers'
  /** Rdata that does not fit its type (wrong length, an embedded name or string overrunning it). */
  | 'bad_rdata';

export const DNS_MALFORMED_REASONS: readonly DnsMalformedReason[] = [
  'short_header',
  'truncated',
  'label_too_long',
  'name_too_long',
  'pointer_forward',
  'pointer_loop',
  'pointer_header',
  'too_many_pointers',
  'bad_rdata',
];

export const DNS_HEADER_LEN = 12;
/** RFC 1035 2.3.4. */
export const MAX_NAME_WIRE_LEN = 255;
/**
 * Pointers per name. A name has at most 127 labels, so a legitimate encoder
 * never needs more; decreasing targets already rule out loops, this only
 * caps the work of a pointer-to-pointer chain.
 */
export const MAX_POINTERS = 127;

export interface DnsQuestion {
  /** Presentation form without the trailing dot ("." for the root); case as on the wire. */
  name: string;
  type: number;
  /** The raw 16 bits (mDNS puts its unicast-response flag in the top bit). */
  class: number;
}

export interface DnsMx {
  preference: number;
  exchange: string;
}
export interface DnsSrv {
  priority: number;
  weight: number;
  port: number;
  target: string;
}
export interface DnsSoa {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}
export interface DnsNaptr {
  order: number;
  preference: number;
  flags: string;
  services: string;
  regexp: string;
  replacement: string;
}
export interface DnsOptOption {
  code: number;
  length: number;
}
/** EDNS0 (RFC 6891): the OPT pseudo-record's class and TTL fields, decoded. */
export interface DnsOpt {
  udp_size: number;
  ext_rcode: number;
  version: number;
  /** DNSSEC OK. */
  do: boolean;
  /** The 16 flag bits of the TTL field (DO is the top one). */
  flags: number;
  options: DnsOptOption[];
}
export interface DnsCaa {
  flags: number;
  tag: string;
  value: string;
}
/** Rdata of a type this parser does not decode. */
export interface DnsOpaque {
  type: number;
  rdlength: number;
}

/**
 * Decoded rdata, already in the shape of the JSON record: an address (A,
 * AAAA), a name (NS, CNAME, PTR, DNAME), character-strings (TXT), or one of
 * the structures above.
 */
export type DnsRdata = string | string[] | DnsMx | DnsSrv | DnsSoa | DnsNaptr | DnsOpt | DnsCaa | DnsOpaque;

export interface DnsRecord {
  name: string;
  type: number;
  /** The raw 16 bits (the UDP payload size for OPT, cache-flush bit on top in mDNS). */
  class: number;
  /** Unsigned 32 bits (EDNS0 fields for OPT). */
  ttl: number;
  rdlength: number;
  data: DnsRdata;
}

export interface DnsMessage {
  id: number;
  /** The 16 flag bits of the header as they were. */
  flags: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  /** The response code: the header's 4 bits, extended by the OPT record's 8 upper bits when there is one. */
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
  /** The first OPT record's fields, or null without EDNS0. */
  edns: DnsOpt | null;
  /** Message length in bytes (as given to the parser). */
  length: number;
  /** Bytes left after the last record of a complete parse (0 normally). */
  trailing: number;
}

export interface DnsParseResult {
  /** null when the header or the question section could not be read. */
  message: DnsMessage | null;
  /** Why the parse stopped early; null for a complete message. */
  error: DnsMalformedReason | null;
  /** Where the damage was, relative to the start of the message (-1 without error). */
  errorOffset: number;
}

// ----------------------------------------------------------------------------
// Names and character-strings.
//
// The reader keeps its state in module variables instead of returning
// objects: a name read is then one string allocation and nothing else.

let nameEnd = 0;
let failReason: DnsMalformedReason | null = null;
let failAt = 0;

/** Room for a 255-byte name with every byte escaped as \DDD, plus dots. */
const scratch = Buffer.allocUnsafe(1536);

const ESC_NONE = 0;
const ESC_CHAR = 1;
const ESC_DEC = 2;
// RFC 1035 5.1 presentation escapes: `\.` and `\\` for the characters with a
// meaning in names, `\DDD` for anything that is not printable ASCII, so that
// names made of arbitrary bytes survive JSON and label values losslessly.
const NAME_ESC = new Uint8Array(256);
const TEXT_ESC = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const dec = c <= 0x20 || c >= 0x7f ? ESC_DEC : ESC_NONE;
  NAME_ESC[c] = dec;
  // Space is readable inside a TXT string, so only names escape it.
  TEXT_ESC[c] = c >= 0x20 && c < 0x7f ? ESC_NONE : ESC_DEC;
}
NAME_ESC[0x2e] = ESC_CHAR;
NAME_ESC[0x5c] = ESC_CHAR;
TEXT_ESC[0x5c] = ESC_CHAR;

function fail(reason: DnsMalformedReason, at: number): null {
  failReason = reason;
  failAt = at;
  return null;
}

function appendEscaped(out: Buffer, b: Uint8Array, start: number, end: number, n: number, esc: Uint8Array): number {
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    const e = esc[c]!;
    if (e === ESC_NONE) {
      out[n++] = c;
    } else if (e === ESC_CHAR) {
      out[n++] = 0x5c;
      out[n++] = c;
    } else {
      out[n++] = 0x5c;
      out[n++] = 0x30 + ((c / 100) | 0);
      out[n++] = 0x30 + (((c / 10) | 0) % 10);
      out[n++] = 0x30 + (c % 10);
    }
  }
  return n;
}

/**
 * Reads the name at `pos` in the message starting at `msg` and ending at
 * `end`. Returns its presentation form and sets `nameEnd` to the offset after
 * the name's bytes at `pos` (after the first pointer, if any), or returns null
 * with `failReason` set.
 */
function readName(b: Uint8Array, msg: number, end: number, pos: number): string | null {
  let p = pos;
  let segStart = pos;
  let after = -1;
  let jumps = 0;
  let wire = 1; // the root label's zero byte
  let n = 0;
  for (;;) {
    if (p >= end) return fail('truncated', p);
    const len = b[p]!;
    if (len === 0) {
      if (after < 0) after = p + 1;
      break;
    }
    const top = len & 0xc0;
    if (top === 0xc0) {
      if (p + 1 >= end) return fail('truncated', p);
      const target = msg + (((len & 0x3f) << 8) | b[p + 1]!);
      if (after < 0) after = p + 2;
      if (target >= p) return fail('pointer_forward', p);
      if (target < msg + DNS_HEADER_LEN) return fail('pointer_header', p);
      if (target >= segStart) return fail('pointer_loop', p);
      if (++jumps > MAX_POINTERS) return fail('too_many_pointers', p);
      segStart = target;
      p = target;
      continue;
    }
    if (top !== 0) return fail('label_too_long', p);
    wire += len + 1;
    if (wire > MAX_NAME_WIRE_LEN) return fail('name_too_long', p);
    if (p + 1 + len > end) return fail('truncated', p);
    if (n > 0) scratch[n++] = 0x2e;
    n = appendEscaped(scratch, b, p + 1, p + 1 + len, n, NAME_ESC);
    p += 1 + len;
  }
  nameEnd = after;
  return n === 0 ? '.' : scratch.toString('latin1', 0, n);
}

/** Reads a <character-string> (length byte + bytes) that must end by `end`; sets nameEnd. */
function readCharString(b: Uint8Array, pos: number, end: number): string | null {
  if (pos >= end) return fail('bad_rdata', pos);
  const len = b[pos]!;
  if (pos + 1 + len > end) return fail('bad_rdata', pos);
  nameEnd = pos + 1 + len;
  return textString(b, pos + 1, pos + 1 + len);
}

function textString(b: Uint8Array, start: number, end: number): string {
  // A CAA value can fill a 64 KiB rdata; only that rare case pays for its own buffer.
  const out = (end - start) * 4 <= scratch.length ? scratch : Buffer.allocUnsafe((end - start) * 4);
  const n = appendEscaped(out, b, start, end, 0, TEXT_ESC);
  return out.toString('latin1', 0, n);
}

/**
 * A name inside rdata. Compression only points backwards, so a good name
 * reads nothing past the end of its rdata; running past it means the
 * rdlength lies (the record was already checked to fit in the message).
 */
function rdataName(b: Uint8Array, msg: number, pos: number, rdEnd: number): string | null {
  if (pos >= rdEnd) return fail('bad_rdata', pos);
  const s = readName(b, msg, rdEnd, pos);
  if (s === null && failReason === 'truncated') failReason = 'bad_rdata';
  return s;
}

// ----------------------------------------------------------------------------
// Records.

function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

function u32(b: Uint8Array, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

function decodeRdata(
  b: Uint8Array,
  msg: number,
  type: number,
  cls: number,
  ttl: number,
  rd: number,
  rdEnd: number,
): DnsRdata | null {
  const rdlength = rdEnd - rd;
  switch (type) {
    case DnsType.A:
      if (rdlength !== 4) return fail('bad_rdata', rd);
      return `${b[rd]}.${b[rd + 1]}.${b[rd + 2]}.${b[rd + 3]}`;
    case DnsType.AAAA:
      if (rdlength !== 16) return fail('bad_rdata', rd);
      return formatIpv6(b, rd);
    case DnsType.NS:
    case DnsType.CNAME:
    case DnsType.PTR:
    case DnsType.DNAME: {
      const name = rdataName(b, msg, rd, rdEnd);
      if (name === null) return null;
      if (nameEnd !== rdEnd) return fail('bad_rdata', nameEnd);
      return name;
    }
    case DnsType.MX: {
      if (rdlength < 3) return fail('bad_rdata', rd);
      const exchange = rdataName(b, msg, rd + 2, rdEnd);
      if (exchange === null) return null;
      if (nameEnd !== rdEnd) return fail('bad_rdata', nameEnd);
      return { preference: u16(b, rd), exchange };
    }
    case DnsType.TXT: {
      const strings: string[] = [];
      let p = rd;
      while (p < rdEnd) {
        const s = readCharString(b, p, rdEnd);
        if (s === null) return null;
        strings.push(s);
        p = nameEnd;
      }
      return strings;
    }
    case DnsType.SRV: {
      if (rdlength < 7) return fail('bad_rdata', rd);
      const target = rdataName(b, msg, rd + 6, rdEnd);
      if (target === null) return null;
      if (nameEnd !== rdEnd) return fail('bad_rdata', nameEnd);
      return { priority: u16(b, rd), weight: u16(b, rd + 2), port: u16(b, rd + 4), target };
    }
    case DnsType.SOA: {
      const mname = rdataName(b, msg, rd, rdEnd);
      if (mname === null) return null;
      const rname = rdataName(b, msg, nameEnd, rdEnd);
      if (rname === null) return null;
      const p = nameEnd;
      if (p + 20 !== rdEnd) return fail('bad_rdata', p);
      return {
        mname,
        rname,
        serial: u32(b, p),
        refresh: u32(b, p + 4),
        retry: u32(b, p + 8),
        expire: u32(b, p + 12),
        minimum: u32(b, p + 16),
      };
    }
    case DnsType.NAPTR: {
      if (rdlength < 8) return fail('bad_rdata', rd);
      const flags = readCharString(b, rd + 4, rdEnd);
      if (flags === null) return null;
      const services = readCharString(b, nameEnd, rdEnd);
      if (services === null) return null;
      const regexp = readCharString(b, nameEnd, rdEnd);
      if (regexp === null) return null;
      const replacement = rdataName(b, msg, nameEnd, rdEnd);
      if (replacement === null) return null;
      if (nameEnd !== rdEnd) return fail('bad_rdata', nameEnd);
      return { order: u16(b, rd), preference: u16(b, rd + 2), flags, services, regexp, replacement };
    }
    case DnsType.OPT: {
      const options: DnsOptOption[] = [];
      let p = rd;
      while (p < rdEnd) {
        if (p + 4 > rdEnd) return fail('bad_rdata', p);
        const length = u16(b, p + 2);
        if (p + 4 + length > rdEnd) return fail('bad_rdata', p);
        options.push({ code: u16(b, p), length });
        p += 4 + length;
      }
      return {
        udp_size: cls,
        ext_rcode: ttl >>> 24,
        version: (ttl >>> 16) & 0xff,
        do: (ttl & 0x8000) !== 0,
        flags: ttl & 0xffff,
        options,
      };
    }
    case DnsType.CAA: {
      if (rdlength < 2) return fail('bad_rdata', rd);
      const tagLen = b[rd + 1]!;
      if (rd + 2 + tagLen > rdEnd) return fail('bad_rdata', rd + 1);
      return {
        flags: b[rd]!,
        tag: textString(b, rd + 2, rd + 2 + tagLen),
        value: textString(b, rd + 2 + tagLen, rdEnd),
      };
    }
    default:
      return { type, rdlength };
  }
}

let recordEnd = 0;

/** Reads the resource record at `pos`; sets recordEnd, or returns null with failReason set. */
function readRecord(b: Uint8Array, msg: number, end: number, pos: number): DnsRecord | null {
  const name = readName(b, msg, end, pos);
  if (name === null) return null;
  const p = nameEnd;
  if (p + 10 > end) return fail('truncated', p);
  const type = u16(b, p);
  const cls = u16(b, p + 2);
  const ttl = u32(b, p + 4);
  const rdlength = u16(b, p + 8);
  const rd = p + 10;
  if (rd + rdlength > end) return fail('truncated', rd);
  const data = decodeRdata(b, msg, type, cls, ttl, rd, rd + rdlength);
  if (data === null) return null;
  recordEnd = rd + rdlength;
  return { name, type, class: cls, ttl, rdlength, data };
}

// ----------------------------------------------------------------------------

/**
 * Parses the DNS message of `length` bytes at `offset` in `bytes`. Never
 * throws; see the file header for what damaged input gives. The result owns
 * no view of `bytes`: it stays valid after the buffer is reused.
 */
export function parseDnsMessage(bytes: Uint8Array, offset: number, length: number): DnsParseResult {
  const msg = offset;
  const end = Math.min(offset + Math.max(length, 0), bytes.length);
  if (!(offset >= 0) || end - msg < DNS_HEADER_LEN) {
    return { message: null, error: 'short_header', errorOffset: 0 };
  }
  const b = bytes;
  const flags = u16(b, msg + 2);
  const m: DnsMessage = {
    id: u16(b, msg),
    flags,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    qdcount: u16(b, msg + 4),
    ancount: u16(b, msg + 6),
    nscount: u16(b, msg + 8),
    arcount: u16(b, msg + 10),
    questions: [],
    answers: [],
    authority: [],
    additional: [],
    edns: null,
    length: end - msg,
    trailing: 0,
  };

  let p = msg + DNS_HEADER_LEN;
  for (let i = 0; i < m.qdcount; i++) {
    const name = readName(b, msg, end, p);
    if (name === null) return { message: null, error: failReason, errorOffset: failAt - msg };
    p = nameEnd;
    if (p + 4 > end) return { message: null, error: 'truncated', errorOffset: p - msg };
    m.questions.push({ name, type: u16(b, p), class: u16(b, p + 2) });
    p += 4;
  }

  // Each record read consumes at least 11 bytes, so these loops end with the
  // message even when the counts are lies.
  const sections = [m.answers, m.authority, m.additional];
  const counts = [m.ancount, m.nscount, m.arcount];
  for (let s = 0; s < 3; s++) {
    const list = sections[s]!;
    const count = counts[s]!;
    for (let i = 0; i < count; i++) {
      const rr = readRecord(b, msg, end, p);
      if (rr === null) {
        finishEdns(m);
        return { message: m, error: failReason, errorOffset: failAt - msg };
      }
      list.push(rr);
      p = recordEnd;
    }
  }
  finishEdns(m);
  m.trailing = end - p;
  return { message: m, error: null, errorOffset: -1 };
}

function finishEdns(m: DnsMessage): void {
  for (const rr of m.additional) {
    if (rr.type === DnsType.OPT) {
      const opt = rr.data as DnsOpt;
      m.edns = opt;
      m.rcode = (opt.ext_rcode << 4) | (m.flags & 0xf);
      return;
    }
  }
}

// ----------------------------------------------------------------------------
// JSON form.

/** mDNS (RFC 6762 5.4, 10.2) reuses the class's top bit; only a known class underneath makes that reading safe. */
function classJson(cls: number, obj: Record<string, unknown>, flag: string): void {
  const low = cls & 0x7fff;
  if (cls !== low && (low === 1 || low === 3 || low === 4)) {
    obj.class = className(low);
    obj[flag] = true;
  } else {
    obj.class = className(cls);
  }
}

function recordJson(rr: DnsRecord): Record<string, unknown> {
  const o: Record<string, unknown> = { name: rr.name, type: typeName(rr.type), class: '' };
  // OPT's class is a payload size, not a class.
  if (rr.type === DnsType.OPT) o.class = `CLASS${rr.class}`;
  else classJson(rr.class, o, 'cache_flush');
  o.ttl = rr.ttl;
  o.data = rr.data;
  return o;
}

/**
 * The JSON form of a message: {id, qr, opcode, flags, rcode, questions,
 * answers, authority, additional}, plus `malformed` (the reason) when the
 * parse stopped early and `trailing` when bytes followed the last record.
 */
export function dnsMessageToJson(m: DnsMessage, error: DnsMalformedReason | null = null): Record<string, unknown> {
  const questions = m.questions.map((q) => {
    const o: Record<string, unknown> = { name: q.name, type: typeName(q.type), class: '' };
    classJson(q.class, o, 'unicast_response');
    return o;
  });
  const j: Record<string, unknown> = {
    id: m.id,
    qr: m.qr,
    opcode: opcodeName(m.opcode),
    flags: { aa: m.aa, tc: m.tc, rd: m.rd, ra: m.ra, ad: m.ad, cd: m.cd },
    rcode: rcodeName(m.rcode),
    questions,
    answers: m.answers.map(recordJson),
    authority: m.authority.map(recordJson),
    additional: m.additional.map(recordJson),
  };
  if (error !== null) j.malformed = error;
  if (m.trailing > 0) j.trailing = m.trailing;
  return j;
}
