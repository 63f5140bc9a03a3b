// One SIP message (RFC 3261 section 7) read from bytes, independently of the
// transport: parseSipMessage() takes one complete message (a UDP datagram, or
// later a message framed out of a TCP stream) and scans it byte by byte, with
// no regular expressions and no splitting. It decodes to strings only what
// labels need (Call-ID, From and To URIs, CSeq, User-Agent); every other
// header is kept as byte offsets, decoded only when the JSON form is asked for.
import {
  ascii,
  BACKSLASH,
  COLON,
  CR,
  DQUOTE,
  equalsBytes,
  equalsCi,
  EQ,
  foldedText,
  GT,
  isLws,
  isWs,
  LF,
  lower,
  LT,
  parseUint,
  SEMI,
  SP,
  startsWithCi,
  text,
  TextRegion,
  TOKEN,
} from './bytes.ts';
import { E } from './reasons.ts';

/** Header lines recorded per message; more are skipped (and counted). */
export const MAX_SIP_HEADERS = 256;

// ---------------------------------------------------------------- methods

/** Methods the parser knows by number (others keep their text, id OTHER). */
export const SipMethod = {
  OTHER: 0,
  INVITE: 1,
  ACK: 2,
  BYE: 3,
  CANCEL: 4,
  REGISTER: 5,
  OPTIONS: 6,
  PRACK: 7,
  SUBSCRIBE: 8,
  NOTIFY: 9,
  PUBLISH: 10,
  INFO: 11,
  REFER: 12,
  MESSAGE: 13,
  UPDATE: 14,
} as const;
const METHOD_NAMES = ['', 'INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE'] as const;
const METHOD_BYTES = METHOD_NAMES.map(ascii);

/** Method id of d[s, e) (methods are case-sensitive, RFC 3261 7.1). */
export function methodId(d: Uint8Array, s: number, e: number): number {
  for (let i = 1; i < METHOD_BYTES.length; i++) if (equalsBytes(d, s, e, METHOD_BYTES[i]!)) return i;
  return SipMethod.OTHER;
}

/** The method's text: interned for known methods. */
function methodText(d: Uint8Array, s: number, e: number, id: number): string {
  return id === SipMethod.OTHER ? text(d, s, e) : METHOD_NAMES[id]!;
}

// ---------------------------------------------------------------- headers

/** Headers the parser knows by number; the rest are OTHER (still kept). */
export const SipHeader = {
  OTHER: 0,
  CALL_ID: 1,
  FROM: 2,
  TO: 3,
  CSEQ: 4,
  VIA: 5,
  CONTACT: 6,
  USER_AGENT: 7,
  CONTENT_TYPE: 8,
  CONTENT_LENGTH: 9,
  CONTENT_ENCODING: 10,
} as const;
const HEADER_IDS = 11;

const FULL_NAMES: [string, number][] = [
  ['call-id', SipHeader.CALL_ID],
  ['from', SipHeader.FROM],
  ['to', SipHeader.TO],
  ['cseq', SipHeader.CSEQ],
  ['via', SipHeader.VIA],
  ['contact', SipHeader.CONTACT],
  ['user-agent', SipHeader.USER_AGENT],
  ['content-type', SipHeader.CONTENT_TYPE],
  ['content-length', SipHeader.CONTENT_LENGTH],
  ['content-encoding', SipHeader.CONTENT_ENCODING],
];
/** Full names bucketed by length, so a lookup compares at most a couple of names. */
const BY_LENGTH: { name: Uint8Array; id: number }[][] = [];
for (const [n, id] of FULL_NAMES) (BY_LENGTH[n.length] ??= []).push({ name: ascii(n), id });

/**
 * Compact forms (RFC 3261 7.3.3 and later RFCs). Those the parser needs map to
 * their id; k (Supported), s (Subject), o (Event), r (Refer-To), b
 * (Referred-By), x (Session-Expires), u (Allow-Events), a, j, d, y are kept
 * like any other header under the name on the wire.
 */
const COMPACT = new Uint8Array(128);
COMPACT[0x69] = SipHeader.CALL_ID; // i
COMPACT[0x66] = SipHeader.FROM; // f
COMPACT[0x74] = SipHeader.TO; // t
COMPACT[0x76] = SipHeader.VIA; // v
COMPACT[0x6d] = SipHeader.CONTACT; // m
COMPACT[0x63] = SipHeader.CONTENT_TYPE; // c
COMPACT[0x6c] = SipHeader.CONTENT_LENGTH; // l
COMPACT[0x65] = SipHeader.CONTENT_ENCODING; // e

/** Header id of the name d[s, e), case-insensitively. */
export function headerId(d: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n === 1) {
    const c = lower(d[s]!);
    return c < 128 ? COMPACT[c]! : SipHeader.OTHER;
  }
  const bucket = BY_LENGTH[n];
  if (bucket === undefined) return SipHeader.OTHER;
  for (let i = 0; i < bucket.length; i++) if (equalsCi(d, s, e, bucket[i]!.name)) return bucket[i]!.id;
  return SipHeader.OTHER;
}

// Header records: 5 Int32 words per header line.
const H_NAME_S = 0;
const H_NAME_E = 1;
const H_VAL_S = 2;
const H_VAL_E = 3;
const H_INFO = 4; // id | FOLDED
export const HEADER_WORDS = 5;
const FOLDED = 0x100;

// Header records and first-of indexes are plain arrays of small integers:
// allocating a typed array costs a backing store (hundreds of ns beyond 64
// bytes in V8), a packed SMI array costs little more than an object.
function newFirst(): number[] {
  const f: number[] = [];
  for (let i = 0; i < HEADER_IDS; i++) f.push(-1);
  return f;
}

// ---------------------------------------------------------------- body kinds

export const BodyKind = {
  NONE: 0,
  SDP: 1, // application/sdp
  MULTIPART_SDP: 2, // a multipart body with an application/sdp part
  OTHER: 3, // another content type (or a multipart body without SDP)
  ENCODED: 4, // a Content-Encoding other than identity: not looked into
} as const;

// ---------------------------------------------------------------- the message

/**
 * A parsed message. It refers to the bytes it was parsed from (`data`), so
 * it is valid only as long as they are: the pipeline serialises a payload
 * within the call that produced it, before the capture buffer is reused.
 */
export class SipMessage {
  data: Uint8Array;
  offset: number;
  /** Bytes of the message: start line, headers, empty line, and the body Content-Length announces (bounded by what is there). */
  length = 0;
  /** Offset of the end of the start line (its CR/LF excluded). */
  startLineEnd = 0;
  isRequest = false;
  /** Request method (SipMethod), OTHER for unknown methods and for responses. */
  methodId: number = SipMethod.OTHER;
  /** Request method text, '' for responses. */
  method = '';
  uriStart = 0;
  uriEnd = 0;
  /** Response status code, 0 for requests. */
  status = 0;
  reasonStart = 0;
  reasonEnd = 0;
  /** Header records (HEADER_WORDS words each), in wire order. */
  headers: number[];
  headerCount = 0;
  /** Index of the first header of each SipHeader id, or -1. */
  first: number[];

  callId: string | null = null;
  /** From and To URIs, without display name and parameters outside <...>. */
  fromUri: string | null = null;
  toUri: string | null = null;
  /** "<number> <method>" with single space, or null when absent or malformed. */
  cseq: string | null = null;
  cseqNumber = -1;
  cseqMethodId: number = SipMethod.OTHER;
  cseqMethod = '';
  userAgent: string | null = null;

  /** Content-Length as announced; -1 when absent or not a number. */
  contentLength = -1;
  bodyOffset = 0;
  bodyLength = 0;
  /** Content-Length announced more than the datagram holds. */
  truncated = false;
  /** Bytes after the announced body (discarded, RFC 3261 18.3). */
  trailing = 0;
  bodyKind: number = BodyKind.NONE;
  /** The SDP (the whole body, or the application/sdp part of a multipart body), or -1. */
  sdpOffset = -1;
  sdpLength = 0;
  /** SipMalformedReason bits met while parsing. */
  errors = 0;
  /** Decodes ranges of the start line and headers. */
  tv: TextRegion;

  constructor(data: Uint8Array, offset: number, headers: number[], first: number[]) {
    this.data = data;
    this.offset = offset;
    this.headers = headers;
    this.first = first;
    this.tv = new TextRegion(data, offset, offset);
  }

  get startLine(): string {
    return this.tv.text(this.offset, this.startLineEnd);
  }

  get requestUri(): string {
    return this.tv.text(this.uriStart, this.uriEnd);
  }

  get reason(): string {
    return this.tv.text(this.reasonStart, this.reasonEnd);
  }

  headerName(i: number): string {
    const h = this.headers;
    const b = i * HEADER_WORDS;
    return this.tv.text(h[b + H_NAME_S]!, h[b + H_NAME_E]!);
  }

  headerId(i: number): number {
    return this.headers[i * HEADER_WORDS + H_INFO]! & 0xff;
  }

  /** Value of header i, line folding collapsed to single spaces. */
  headerValue(i: number): string {
    const h = this.headers;
    const b = i * HEADER_WORDS;
    return this.tv.valueText(h[b + H_VAL_S]!, h[b + H_VAL_E]!, (h[b + H_INFO]! & FOLDED) !== 0);
  }

  /** Value of the first header of a SipHeader id, or null. */
  firstValue(id: number): string | null {
    const i = this.first[id]!;
    return i < 0 ? null : this.headerValue(i);
  }

  /**
   * Every value of a list header (Via, Contact, Route...): repeated headers
   * and comma-separated values alike, in order. Commas inside quoted strings
   * and <...> do not separate values.
   */
  listValues(id: number): string[] {
    const out: string[] = [];
    const h = this.headers;
    for (let i = 0; i < this.headerCount; i++) {
      const b = i * HEADER_WORDS;
      if ((h[b + H_INFO]! & 0xff) !== id) continue;
      splitList(this.tv, h[b + H_VAL_S]!, h[b + H_VAL_E]!, (h[b + H_INFO]! & FOLDED) !== 0, out);
    }
    return out;
  }

  /** The tag parameter of From (or To), or null. */
  tag(id: number): string | null {
    const i = this.first[id]!;
    if (i < 0) return null;
    const b = i * HEADER_WORDS;
    return tagParam(this.tv, this.headers[b + H_VAL_S]!, this.headers[b + H_VAL_E]!);
  }
}

/** Appends the comma-separated values of d[s, e) to `out`, honouring quotes and <...>. */
export function splitList(tv: TextRegion, s: number, e: number, folded: boolean, out: string[]): void {
  const d = tv.data;
  let start = s;
  let inQuote = false;
  let angle = false;
  for (let i = s; i <= e; i++) {
    if (i < e) {
      const b = d[i]!;
      if (inQuote) {
        if (b === BACKSLASH && i + 1 < e) i++;
        else if (b === DQUOTE) inQuote = false;
        continue;
      }
      if (b === DQUOTE) inQuote = true;
      else if (b === LT) angle = true;
      else if (b === GT) angle = false;
      if (b !== 0x2c || angle) continue;
    }
    let a = start;
    let z = Math.min(i, e);
    while (a < z && isLws(d[a]!)) a++;
    while (z > a && isLws(d[z - 1]!)) z--;
    if (z > a) out.push(tv.valueText(a, z, folded));
    start = i + 1;
  }
}

// Scratch results of uriRange(), to return two numbers without an object.
let uriS = 0;
let uriE = 0;
/** Where uriRange() stopped: the first byte after the URI (or after '>'), for parameters. */
let uriAfter = 0;

/**
 * The URI of a name-addr or addr-spec (From, To, Contact): inside <...> when
 * present (a quoted display name may hold '<'), else up to the first ';'.
 */
function uriRange(d: Uint8Array, s: number, e: number): boolean {
  let inQuote = false;
  for (let i = s; i < e; i++) {
    const b = d[i]!;
    if (inQuote) {
      if (b === BACKSLASH) i++;
      else if (b === DQUOTE) inQuote = false;
    } else if (b === DQUOTE) {
      inQuote = true;
    } else if (b === LT) {
      let g = i + 1;
      while (g < e && d[g] !== GT) g++;
      uriS = i + 1;
      uriE = g;
      uriAfter = g < e ? g + 1 : e;
      while (uriS < uriE && isLws(d[uriS]!)) uriS++;
      while (uriE > uriS && isLws(d[uriE - 1]!)) uriE--;
      return uriE > uriS;
    }
  }
  if (inQuote) return false;
  let z = s;
  while (z < e && d[z] !== SEMI) z++;
  uriAfter = z;
  while (z > s && isLws(d[z - 1]!)) z--;
  uriS = s;
  uriE = z;
  return z > s;
}

/** The URI of a From/To/Contact value d[s, e), or null. */
export function nameAddrUri(tv: TextRegion, s: number, e: number, folded: boolean): string | null {
  return uriRange(tv.data, s, e) ? tv.valueText(uriS, uriE, folded) : null;
}

const TAG = ascii('tag');

/** The tag parameter of a From/To value (after the URI), or null. */
function tagParam(tv: TextRegion, s: number, e: number): string | null {
  const d = tv.data;
  if (!uriRange(d, s, e)) return null;
  let i = uriAfter;
  while (i < e) {
    while (i < e && d[i] !== SEMI) i++;
    if (i >= e) return null;
    i++;
    while (i < e && isLws(d[i]!)) i++;
    const ns = i;
    while (i < e && TOKEN[d[i]!] === 1) i++;
    const ne = i;
    while (i < e && isLws(d[i]!)) i++;
    if (i < e && d[i] === EQ && equalsCi(d, ns, ne, TAG)) {
      i++;
      while (i < e && isLws(d[i]!)) i++;
      const vs = i;
      while (i < e && TOKEN[d[i]!] === 1) i++;
      return i > vs ? tv.text(vs, i) : null;
    }
  }
  return null;
}

// ---------------------------------------------------------------- parsing

export interface SipParseResult {
  /** The message, or null when not even a start line could be read. */
  message: SipMessage | null;
  /** SipMalformedReason bits (also in message.errors). */
  errors: number;
}

const SIP_SLASH = ascii('sip/');
const V20 = ascii('2.0');

function reject(errors: number): SipParseResult {
  return { message: null, errors };
}

/** True when d[s, e) is "SIP/2.0", ignoring case. */
function isSip20(d: Uint8Array, s: number, e: number): boolean {
  return e - s === 7 && startsWithCi(d, s, e, SIP_SLASH) && equalsBytes(d, s + 4, e, V20);
}

/**
 * Parses one complete SIP message from data[offset, offset + length).
 * Never throws: what it cannot read is reported in `errors`.
 */
export function parseSipMessage(data: Uint8Array, offset: number, length: number): SipParseResult {
  const end = offset + length;
  let errors = 0;

  // ---- start line
  let lf = offset;
  while (lf < end && data[lf] !== LF) lf++;
  if (lf >= end) return reject(E.no_crlf);
  let le = lf;
  if (le > offset && data[le - 1] === CR) le--;
  else errors |= E.bare_lf;
  while (le > offset && isWs(data[le - 1]!)) le--;

  const hdr: number[] = [];
  const firstOf = newFirst();
  const m = new SipMessage(data, offset, hdr, firstOf);
  m.startLineEnd = le;
  if (startsWithCi(data, offset, le, SIP_SLASH)) {
    // Status-Line: SIP-Version SP Status-Code SP Reason-Phrase
    let p = offset + 4;
    while (p < le && data[p] !== SP) p++;
    if (!isSip20(data, offset, p)) return reject(errors | E.bad_version);
    while (p < le && data[p] === SP) p++;
    const cs = p;
    while (p < le && data[p] !== SP) p++;
    const code = p - cs === 3 ? parseUint(data, cs, p) : -1;
    if (code < 100 || code > 699) return reject(errors | E.bad_status_code);
    while (p < le && data[p] === SP) p++;
    m.status = code;
    m.reasonStart = p;
    m.reasonEnd = le;
  } else {
    // Request-Line: Method SP Request-URI SP SIP-Version
    let p = offset;
    while (p < le && TOKEN[data[p]!] === 1) p++;
    if (p === offset || p >= le || data[p] !== SP) return reject(errors | E.bad_start_line);
    const ms = offset;
    const me = p;
    while (p < le && data[p] === SP) p++;
    const us = p;
    let colon = -1;
    while (p < le && data[p] !== SP && data[p] !== 0x09) {
      if (colon < 0 && data[p] === COLON) colon = p;
      p++;
    }
    const ue = p;
    while (p < le && data[p] === SP) p++;
    // A URI has a scheme ("sip:", "tel:"...) and is followed by the version.
    if (colon <= us || p >= le) return reject(errors | E.bad_start_line);
    if (!isSip20(data, p, le)) return reject(errors | E.bad_version);
    m.isRequest = true;
    m.methodId = methodId(data, ms, me);
    m.method = methodText(data, ms, me, m.methodId);
    m.uriStart = us;
    m.uriEnd = ue;
  }

  // ---- headers
  let n = 0;
  let last = -1;
  let ended = false;
  let p = lf + 1;
  while (p < end) {
    // The common line first, in one pass: token name, optional space, colon, value.
    let c = p;
    while (c < end && TOKEN[data[c]!] === 1) c++;
    const ne = c;
    while (c < end && isWs(data[c]!)) c++;
    if (ne > p && c < end && data[c] === COLON) {
      let vs = c + 1;
      let q = vs;
      while (q < end && data[q] !== LF) q++;
      let lineEnd = q;
      if (lineEnd > vs && data[lineEnd - 1] === CR) lineEnd--;
      else if (q < end) errors |= E.bare_lf;
      const next = q < end ? q + 1 : end;
      if (n === MAX_SIP_HEADERS) {
        errors |= E.too_many_headers;
        last = -1;
        p = next;
        continue;
      }
      while (vs < lineEnd && isWs(data[vs]!)) vs++;
      let ve = lineEnd;
      while (ve > vs && isWs(data[ve - 1]!)) ve--;
      const id = headerId(data, p, ne);
      hdr.push(p, ne, vs, ve, id); // H_NAME_S, H_NAME_E, H_VAL_S, H_VAL_E, H_INFO
      if (id !== SipHeader.OTHER && firstOf[id]! < 0) firstOf[id] = n;
      last = n;
      n++;
      p = next;
      continue;
    }
    // Anything else: the empty line, a continuation line, or a malformed line.
    let q = p;
    while (q < end && data[q] !== LF) q++;
    let lineEnd = q;
    if (lineEnd > p && data[lineEnd - 1] === CR) lineEnd--;
    else if (q < end) errors |= E.bare_lf;
    const next = q < end ? q + 1 : end;
    if (lineEnd === p) {
      p = next;
      ended = q < end;
      break;
    }
    const b0 = data[p]!;
    if (b0 === SP || b0 === 0x09) {
      // A continuation line: extends the value of the header before it.
      if (last < 0) {
        errors |= E.bad_folding;
      } else {
        let s = p;
        while (s < lineEnd && isWs(data[s]!)) s++;
        let z = lineEnd;
        while (z > s && isWs(data[z - 1]!)) z--;
        if (z > s) {
          const b = last * HEADER_WORDS;
          if (hdr[b + H_VAL_S] === hdr[b + H_VAL_E]) hdr[b + H_VAL_S] = s;
          else hdr[b + H_INFO]! |= FOLDED;
          hdr[b + H_VAL_E] = z;
        }
      }
      p = next;
      continue;
    }
    // Not a header: no colon at all, or a name that is not a token.
    let colon = p;
    while (colon < lineEnd && data[colon] !== COLON) colon++;
    errors |= colon === lineEnd ? E.header_without_colon : E.bad_header_name;
    last = -1;
    p = next;
  }
  if (!ended) {
    errors |= E.no_header_end;
    p = end;
  }
  m.headerCount = n;
  const first = m.first;
  const H = m.headers;

  // ---- body, bounded by Content-Length
  const avail = end - p;
  let bodyLength = avail;
  const cl = first[SipHeader.CONTENT_LENGTH]!;
  if (cl >= 0) {
    const v = parseUint(data, H[cl * HEADER_WORDS + H_VAL_S]!, H[cl * HEADER_WORDS + H_VAL_E]!);
    if (v < 0) {
      errors |= E.bad_content_length;
    } else {
      m.contentLength = v;
      if (v > avail) {
        errors |= E.truncated_body;
        m.truncated = true;
      } else {
        bodyLength = v;
      }
    }
  }
  m.bodyOffset = p;
  m.bodyLength = bodyLength;
  m.trailing = avail - bodyLength;
  m.length = p + bodyLength - offset;

  // ---- the fields labels need
  const tv = new TextRegion(data, offset, p);
  m.tv = tv;
  const ci = first[SipHeader.CALL_ID]!;
  if (ci >= 0) {
    const b = ci * HEADER_WORDS;
    const s = H[b + H_VAL_S]!;
    const e = H[b + H_VAL_E]!;
    // Decoded on its own, not as a substring of the header section: the
    // call-id outlives the message (media tracking, pending releases), and a
    // substring would keep the whole section alive with it.
    if (e > s) m.callId = (H[b + H_INFO]! & FOLDED) !== 0 ? foldedText(data, s, e) : text(data, s, e);
  }
  if (m.callId === null) errors |= E.missing_call_id;
  const fi = first[SipHeader.FROM]!;
  if (fi >= 0) {
    const b = fi * HEADER_WORDS;
    m.fromUri = nameAddrUri(tv, H[b + H_VAL_S]!, H[b + H_VAL_E]!, (H[b + H_INFO]! & FOLDED) !== 0);
  }
  if (m.fromUri === null) errors |= E.missing_from;
  const ti = first[SipHeader.TO]!;
  if (ti >= 0) {
    const b = ti * HEADER_WORDS;
    m.toUri = nameAddrUri(tv, H[b + H_VAL_S]!, H[b + H_VAL_E]!, (H[b + H_INFO]! & FOLDED) !== 0);
  }
  if (m.toUri === null) errors |= E.missing_to;
  const cs = first[SipHeader.CSEQ]!;
  if (cs < 0) errors |= E.missing_cseq;
  else if (!parseCseq(m, data, H[cs * HEADER_WORDS + H_VAL_S]!, H[cs * HEADER_WORDS + H_VAL_E]!)) errors |= E.bad_cseq;
  const ua = first[SipHeader.USER_AGENT]!;
  if (ua >= 0) {
    const b = ua * HEADER_WORDS;
    if (H[b + H_VAL_E]! > H[b + H_VAL_S]!) m.userAgent = tv.valueText(H[b + H_VAL_S]!, H[b + H_VAL_E]!, (H[b + H_INFO]! & FOLDED) !== 0);
  }

  // ---- where the SDP is
  if (bodyLength > 0) errors |= locateSdp(m);
  m.errors = errors;
  return { message: m, errors };
}

/** CSeq: 1*DIGIT LWS Method. Sets cseq, cseqNumber, cseqMethod(Id). */
function parseCseq(m: SipMessage, d: Uint8Array, s: number, e: number): boolean {
  let p = s;
  while (p < e && d[p]! >= 0x30 && d[p]! <= 0x39) p++;
  const ds = s;
  const de = p;
  if (de === ds || de - ds > 10) return false;
  const ws = p;
  while (p < e && isLws(d[p]!)) p++;
  if (p === ws) return false;
  const ms = p;
  while (p < e && TOKEN[d[p]!] === 1) p++;
  if (p === ms || p !== e) return false;
  m.cseqNumber = parseUint(d, ds, de);
  m.cseqMethodId = methodId(d, ms, p);
  m.cseqMethod = methodText(d, ms, p, m.cseqMethodId);
  m.cseq = m.tv.text(ds, de) + ' ' + m.cseqMethod;
  return true;
}

// ---------------------------------------------------------------- bodies

const APPLICATION_SDP = ascii('application/sdp');
const MULTIPART = ascii('multipart/');
const IDENTITY = ascii('identity');
const BOUNDARY = ascii('boundary');
const CONTENT_TYPE = ascii('content-type');
const V_EQ = ascii('v=');

/** True when the media type of a Content-Type value d[s, e) is application/sdp. */
function isSdpType(d: Uint8Array, s: number, e: number): boolean {
  let z = s;
  while (z < e && d[z] !== SEMI) z++;
  while (z > s && isLws(d[z - 1]!)) z--;
  return equalsCi(d, s, z, APPLICATION_SDP);
}

/** Classifies the body and finds the SDP in it; returns error bits. */
function locateSdp(m: SipMessage): number {
  const d = m.data;
  const H = m.headers;
  const bs = m.bodyOffset;
  const be = bs + m.bodyLength;
  const enc = m.first[SipHeader.CONTENT_ENCODING]!;
  if (enc >= 0) {
    const vs = H[enc * HEADER_WORDS + H_VAL_S]!;
    const ve = H[enc * HEADER_WORDS + H_VAL_E]!;
    if (ve > vs && !equalsCi(d, vs, ve, IDENTITY)) {
      m.bodyKind = BodyKind.ENCODED;
      return 0;
    }
  }
  const ct = m.first[SipHeader.CONTENT_TYPE]!;
  if (ct < 0) {
    // No Content-Type: an SDP body is still recognisable by its first line.
    if (startsWithCi(d, bs, be, V_EQ)) {
      m.bodyKind = BodyKind.SDP;
      m.sdpOffset = bs;
      m.sdpLength = be - bs;
    } else {
      m.bodyKind = BodyKind.OTHER;
    }
    return 0;
  }
  const vs = H[ct * HEADER_WORDS + H_VAL_S]!;
  const ve = H[ct * HEADER_WORDS + H_VAL_E]!;
  if (isSdpType(d, vs, ve)) {
    m.bodyKind = BodyKind.SDP;
    m.sdpOffset = bs;
    m.sdpLength = be - bs;
    return 0;
  }
  m.bodyKind = BodyKind.OTHER;
  if (!startsWithCi(d, vs, ve, MULTIPART)) return 0;
  if (!boundaryParam(d, vs, ve)) return E.bad_multipart;
  return findSdpPart(m, d, bs, be, bndS, bndE);
}

let bndS = 0;
let bndE = 0;

/** The boundary parameter of a multipart Content-Type (into bndS/bndE). */
function boundaryParam(d: Uint8Array, s: number, e: number): boolean {
  let i = s;
  while (i < e) {
    while (i < e && d[i] !== SEMI) {
      if (d[i] === DQUOTE) {
        i++;
        while (i < e && d[i] !== DQUOTE) i++;
      }
      i++;
    }
    if (i >= e) return false;
    i++;
    while (i < e && isLws(d[i]!)) i++;
    const ns = i;
    while (i < e && TOKEN[d[i]!] === 1) i++;
    const ne = i;
    while (i < e && isLws(d[i]!)) i++;
    if (i >= e || d[i] !== EQ) continue;
    i++;
    while (i < e && isLws(d[i]!)) i++;
    let vs: number;
    let vEnd: number;
    if (i < e && d[i] === DQUOTE) {
      vs = ++i;
      while (i < e && d[i] !== DQUOTE) i++;
      vEnd = i;
    } else {
      vs = i;
      while (i < e && d[i] !== SEMI && !isLws(d[i]!)) i++;
      vEnd = i;
    }
    if (equalsCi(d, ns, ne, BOUNDARY)) {
      if (vEnd === vs || vEnd - vs > 70) return false;
      bndS = vs;
      bndE = vEnd;
      return true;
    }
  }
  return false;
}

/** True when d[p, e) starts with "--" and the boundary d[bs, be). */
function isDelimiter(d: Uint8Array, p: number, e: number, bs: number, be: number): boolean {
  const n = be - bs;
  if (e - p < n + 2 || d[p] !== 0x2d || d[p + 1] !== 0x2d) return false;
  for (let i = 0; i < n; i++) if (d[p + 2 + i] !== d[bs + i]) return false;
  return true;
}

/** Offset of the next line (after LF) from p, or e. */
function nextLine(d: Uint8Array, p: number, e: number): number {
  while (p < e && d[p] !== LF) p++;
  return p < e ? p + 1 : e;
}

/**
 * Walks the parts of a multipart body (RFC 2046 5.1) and takes the first
 * application/sdp part as the SDP. A part ends before the line break that
 * precedes the next delimiter line.
 */
function findSdpPart(m: SipMessage, d: Uint8Array, s: number, e: number, bs: number, be: number): number {
  const n = be - bs;
  let p = s;
  while (p < e && !isDelimiter(d, p, e, bs, be)) p = nextLine(d, p, e);
  if (p >= e) return E.bad_multipart;
  for (;;) {
    // p is at a delimiter line
    const after = p + 2 + n;
    if (after + 1 < e && d[after] === 0x2d && d[after + 1] === 0x2d) return 0; // close delimiter
    p = nextLine(d, after, e);
    // part headers
    let isSdp = false;
    while (p < e) {
      const ls = p;
      let q = p;
      while (q < e && d[q] !== LF) q++;
      let le = q;
      if (le > ls && d[le - 1] === CR) le--;
      p = q < e ? q + 1 : e;
      if (le === ls) break;
      let c = ls;
      while (c < le && d[c] !== COLON) c++;
      let ne = c;
      while (ne > ls && isWs(d[ne - 1]!)) ne--;
      if (c < le && (equalsCi(d, ls, ne, CONTENT_TYPE) || (ne - ls === 1 && lower(d[ls]!) === 0x63))) {
        let vs = c + 1;
        while (vs < le && isWs(d[vs]!)) vs++;
        isSdp = isSdpType(d, vs, le);
      }
    }
    // part body: up to the next delimiter line
    const ps = p;
    let q = p;
    while (q < e && !isDelimiter(d, q, e, bs, be)) q = nextLine(d, q, e);
    let pe = q;
    if (q < e) {
      if (pe > ps && d[pe - 1] === LF) pe--;
      if (pe > ps && d[pe - 1] === CR) pe--;
    }
    if (isSdp && m.sdpOffset < 0) {
      m.bodyKind = BodyKind.MULTIPART_SDP;
      m.sdpOffset = ps;
      m.sdpLength = pe - ps;
    }
    if (q >= e) return E.bad_multipart; // no close delimiter
    p = q;
  }
}
