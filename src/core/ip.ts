// IP address formatting and parsing, used off the hot path (record writing,
// configuration). The per-packet path keeps addresses as bytes.

const HEX = '0123456789abcdef';

/** Formats 4 (version 4) or 16 (version 6) bytes of `b` starting at `off`. */
export function formatIp(version: number, b: Uint8Array, off = 0): string {
  if (version === 4) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  if (version === 6) return formatIpv6(b, off);
  return '';
}

/** RFC 5952 text form: lowercase, no leading zeros, longest run of >= 2 zero groups as '::'. */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const g: number[] = new Array(8);
  for (let i = 0; i < 8; i++) g[i] = (b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped (::ffff:a.b.c.d) keeps the dotted quad, as tshark and RFC 5952 do.
  if (bestStart === 0 && bestLen === 5 && g[5] === 0xffff) {
    return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += g[i]!.toString(16);
  }
  return s;
}

export function formatMac(b: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    if (i > 0) s += ':';
    const v = b[off + i]!;
    s += HEX[v >> 4]! + HEX[v & 15]!;
  }
  return s;
}
