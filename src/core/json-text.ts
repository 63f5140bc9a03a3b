// JSON text of strings, for payloads that write their JSON form directly
// (Payload.toJsonText). The same text as JSON.stringify, which stays the
// fallback for any string that needs an escape.

/** 1 for the characters below 128 that JSON.stringify escapes: controls, '"' and '\\'. */
const ESCAPE = new Uint8Array(128);
for (let c = 0; c < 0x20; c++) ESCAPE[c] = 1;
ESCAPE[0x22] = 1;
ESCAPE[0x5c] = 1;

/**
 * JSON.stringify(s): most protocol text needs no escape, and a scan plus two
 * concatenations cost less than the generic serialiser. Anything beyond
 * ASCII goes to JSON.stringify too (it escapes lone surrogates).
 */
export function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || ESCAPE[c] === 1) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/** jsonString, or null for null. */
export function jsonStringOrNull(s: string | null): string {
  return s === null ? 'null' : jsonString(s);
}

/** A JSON array of strings. */
export function jsonStrings(list: readonly string[]): string {
  if (list.length === 0) return '[]';
  let out = '[' + jsonString(list[0]!);
  for (let i = 1; i < list.length; i++) out += ',' + jsonString(list[i]!);
  return out + ']';
}

// Decimal text of unsigned 32-bit integers (RTP timestamps, SSRCs). V8 keeps
// integers of 2^31 and more as heap numbers, and String(n) of one costs
// ~100 ns here, against ~60 ns for three table reads and two short
// concatenations (measured, node 24). Half of all SSRCs and timestamps are
// that large: senders pick them at random (RFC 3550 5.1).
const SMALL_TEXT: readonly string[] = Array.from({ length: 4295 }, (_, i) => String(i));
const THREE_DIGITS: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** String(n): by the tables for an integer 0 <= n < 2^32, by String for anything else. */
export function u32Text(n: number): string {
  if (!(n >= 0 && n <= 0xffffffff && Math.floor(n) === n)) return String(n);
  if (n < 1000) return SMALL_TEXT[n]!;
  const hi = Math.floor(n / 1e6);
  const lo = n - hi * 1e6;
  const mid = Math.floor(lo / 1000);
  const low = lo - mid * 1000;
  return hi === 0 ? SMALL_TEXT[mid]! + THREE_DIGITS[low]! : SMALL_TEXT[hi]! + THREE_DIGITS[mid]! + THREE_DIGITS[low]!;
}

/** n (0 <= n < 10^9) as exactly nine digits, zero-padded: the nanoseconds of a timestamp. */
export function nineDigits(n: number): string {
  // Anything else (no capture source makes it) keeps String's text.
  if (!(n >= 0 && n < 1e9 && Number.isInteger(n))) return String(n).padStart(9, '0');
  const hi = Math.floor(n / 1e6);
  const lo = n - hi * 1e6;
  const mid = Math.floor(lo / 1000);
  return THREE_DIGITS[hi]! + THREE_DIGITS[mid]! + THREE_DIGITS[lo - mid * 1000]!;
}
