// Byte-level helpers of the SIP and SDP parsers: character classes, bounded
// case-insensitive comparisons, and text decoding of only the ranges a parser
// keeps (RFC 3261 text is UTF-8).
import { Buffer } from 'node:buffer';

export const HT = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;
export const DQUOTE = 0x22;
export const COMMA = 0x2c;
export const SLASH = 0x2f;
export const COLON = 0x3a;
export const SEMI = 0x3b;
export const LT = 0x3c;
export const EQ = 0x3d;
export const GT = 0x3e;
export const BACKSLASH = 0x5c;

/** RFC 3261 token characters: alphanumerics and -.!%*_+`'~ */
export const TOKEN = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
for (const ch of "-.!%*_+`'~") TOKEN[ch.charCodeAt(0)] = 1;

export function isWs(b: number): boolean {
  return b === SP || b === HT;
}

/** Whitespace including line breaks (inside a folded header value). */
export function isLws(b: number): boolean {
  return b === SP || b === HT || b === CR || b === LF;
}

export function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** True when d[s, e) equals `lowerPattern` ignoring ASCII case (the pattern is lower case). */
export function equalsCi(d: Uint8Array, s: number, e: number, lowerPattern: Uint8Array): boolean {
  const n = lowerPattern.length;
  if (e - s !== n) return false;
  for (let i = 0; i < n; i++) if (lower(d[s + i]!) !== lowerPattern[i]) return false;
  return true;
}

/** True when d[s, e) starts with `lowerPattern`, ignoring ASCII case. */
export function startsWithCi(d: Uint8Array, s: number, e: number, lowerPattern: Uint8Array): boolean {
  const n = lowerPattern.length;
  if (e - s < n) return false;
  for (let i = 0; i < n; i++) if (lower(d[s + i]!) !== lowerPattern[i]) return false;
  return true;
}

/** True when d[s, e) equals `pattern` exactly. */
export function equalsBytes(d: Uint8Array, s: number, e: number, pattern: Uint8Array): boolean {
  const n = pattern.length;
  if (e - s !== n) return false;
  for (let i = 0; i < n; i++) if (d[s + i] !== pattern[i]) return false;
  return true;
}

/** Decimal digits d[s, e) as a number; -1 when empty or not all digits. Values above 2^31 saturate. */
export function parseUint(d: Uint8Array, s: number, e: number): number {
  if (s >= e) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = d[i]! - 0x30;
    if (c < 0 || c > 9) return -1;
    if (v < 0x80000000) v = v * 10 + c;
  }
  return v > 0x80000000 ? 0x80000000 : v;
}

// One Buffer view per data buffer: decoding a range costs no view object when
// consecutive messages live in the same buffer (a capture ring, a file chunk).
let viewOf: Uint8Array | null = null;
let view: Buffer = Buffer.alloc(0);

function bufferOf(d: Uint8Array): Buffer {
  if (d !== viewOf) {
    view = Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    viewOf = d;
  }
  return view;
}

/** d[s, e) decoded as UTF-8 (invalid sequences become U+FFFD). */
export function text(d: Uint8Array, s: number, e: number): string {
  if (e <= s) return '';
  return bufferOf(d).toString('utf8', s, e);
}

/**
 * d[s, e) of a header value that may span continuation lines: every run of
 * whitespace that contains a line break becomes one space (RFC 3261 7.3.1).
 */
export function foldedText(d: Uint8Array, s: number, e: number): string {
  let out = '';
  let segStart = s;
  let i = s;
  while (i < e) {
    const b = d[i]!;
    if (b !== CR && b !== LF) {
      i++;
      continue;
    }
    // Back up over the whitespace before the break, skip the whitespace after it.
    let segEnd = i;
    while (segEnd > segStart && isWs(d[segEnd - 1]!)) segEnd--;
    while (i < e && isLws(d[i]!)) i++;
    out += text(d, segStart, segEnd);
    if (segEnd > segStart && i < e) out += ' ';
    segStart = i;
  }
  return out + text(d, segStart, e);
}

/** Text of a range, collapsing line folding when `folded`. */
export function valueText(d: Uint8Array, s: number, e: number, folded: boolean): string {
  return folded ? foldedText(d, s, e) : text(d, s, e);
}

/**
 * Text of many ranges of one region (a message's header section, an SDP
 * body): the region is decoded once, on first use, and each range is then a
 * substring of it, which costs far less than a decode per range. That holds
 * when the region decoded to one character per byte (ASCII, or invalid
 * bytes each replaced by U+FFFD: UTF-8 decoding never turns one byte into
 * more than one character); otherwise each range is decoded on its own.
 */
export class TextRegion {
  private block: string | null = null;
  private direct = false;

  constructor(
    readonly data: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {}

  /** d[s, e) as UTF-8, for start <= s <= e <= end. */
  text(s: number, e: number): string {
    if (e <= s) return '';
    if (this.block === null) {
      this.block = text(this.data, this.start, this.end);
      this.direct = this.block.length === this.end - this.start;
    }
    return this.direct ? this.block.slice(s - this.start, e - this.start) : text(this.data, s, e);
  }

  /** Text of a range, collapsing line folding when `folded`. */
  valueText(s: number, e: number, folded: boolean): string {
    return folded ? foldedText(this.data, s, e) : this.text(s, e);
  }
}
