// Byte helpers shared by the parsers that frame text protocols (SIP, HTTP/1.1)
// out of reassembled TCP streams: the end of a header block, one header's
// value, and the search for the next start line after a mid-stream join or a
// hole. Everything works on offsets; nothing is decoded to strings.

export const CR = 0x0d;
export const LF = 0x0a;

export function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** Offset just after the empty line that ends the header block starting at p, or -1 when it is not all there. */
export function headerEnd(d: Uint8Array, p: number, end: number): number {
  for (let i = p; i < end; i++) {
    if (d[i] !== LF) continue;
    // LF LF, or LF CR LF
    if (i + 1 < end && d[i + 1] === LF) return i + 2;
    if (i + 2 < end && d[i + 1] === CR && d[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** Offset of the LF ending the line that starts at p, or -1. */
export function lineEnd(d: Uint8Array, p: number, end: number): number {
  for (let i = p; i < end; i++) if (d[i] === LF) return i;
  return -1;
}

/** d[p...] starts with `prefix` (exact bytes). */
export function startsWith(d: Uint8Array, p: number, end: number, prefix: Uint8Array): boolean {
  if (end - p < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (d[p + i] !== prefix[i]) return false;
  return true;
}

/** ASCII lower case of a byte. */
function lc(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

/**
 * Finds header `name` (lower-case bytes; `compact`, a one-letter alias, or
 * 0) in the header lines of d[p, he) (p = the start line). Writes the
 * trimmed value's bounds to out[0], out[1] and returns true when found.
 */
export function findHeader(d: Uint8Array, p: number, he: number, name: Uint8Array, compact: number, out: Int32Array): boolean {
  let i = lineEnd(d, p, he) + 1; // skip the start line
  while (i > 0 && i < he) {
    const le = lineEnd(d, i, he);
    const e = le < 0 ? he : le;
    let k = i;
    while (k < e && d[k] !== 0x3a && d[k] !== 0x20 && d[k] !== 0x09) k++;
    const n = k - i;
    let match = false;
    if (n === name.length) {
      match = true;
      for (let j = 0; j < n; j++) {
        if (lc(d[i + j]!) !== name[j]) {
          match = false;
          break;
        }
      }
    } else if (n === 1 && compact !== 0 && lc(d[i]!) === compact) match = true;
    if (match) {
      while (k < e && (d[k] === 0x20 || d[k] === 0x09)) k++;
      if (k < e && d[k] === 0x3a) {
        k++;
        let ve = e;
        while (k < ve && (d[k] === 0x20 || d[k] === 0x09)) k++;
        while (ve > k && (d[ve - 1] === 0x20 || d[ve - 1] === 0x09 || d[ve - 1] === CR)) ve--;
        out[0] = k;
        out[1] = ve;
        return true;
      }
    }
    if (le < 0) break;
    i = le + 1;
  }
  return false;
}

/** Decimal value of d[s, e), or -1 when it is not a number (or is absurdly large). */
export function decimal(d: Uint8Array, s: number, e: number): number {
  if (s >= e || e - s > 12) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = d[i]! - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Case-insensitive search of `needle` (lower-case bytes) in d[s, e). */
export function containsCi(d: Uint8Array, s: number, e: number, needle: Uint8Array): boolean {
  const n = needle.length;
  outer: for (let i = s; i + n <= e; i++) {
    for (let j = 0; j < n; j++) if (lc(d[i + j]!) !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/**
 * The first line start in d[p, end) (p itself, or just after an LF) whose
 * complete line passes `isStart(d, lineStart, lineEndExclCR)`. Returns its
 * offset, -1 when there is none, or -2 - i when the line at i is not complete
 * yet and might be one (its bytes must be kept).
 */
export function findStartLine(d: Uint8Array, p: number, end: number, isStart: (d: Uint8Array, s: number, e: number) => boolean): number {
  let i = p;
  while (i < end) {
    const le = lineEnd(d, i, end);
    if (le < 0) return end - i <= 256 ? -2 - i : -1; // a start line is short: a long tail is not one
    const e = le > i && d[le - 1] === CR ? le - 1 : le;
    if (isStart(d, i, e)) return i;
    i = le + 1;
  }
  return -1;
}
