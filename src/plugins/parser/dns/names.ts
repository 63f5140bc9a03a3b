// Mnemonics for DNS numbers (IANA "Domain Name System (DNS) Parameters").
// Kept as tables built once so that labelling a packet is a lookup, not a
// string build; only numbers nobody registered pay for a `TYPE<n>` string.

const TYPES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  13: 'HINFO',
  15: 'MX',
  16: 'TXT',
  17: 'RP',
  18: 'AFSDB',
  24: 'SIG',
  25: 'KEY',
  28: 'AAAA',
  29: 'LOC',
  33: 'SRV',
  35: 'NAPTR',
  36: 'KX',
  37: 'CERT',
  39: 'DNAME',
  41: 'OPT',
  42: 'APL',
  43: 'DS',
  44: 'SSHFP',
  45: 'IPSECKEY',
  46: 'RRSIG',
  47: 'NSEC',
  48: 'DNSKEY',
  49: 'DHCID',
  50: 'NSEC3',
  51: 'NSEC3PARAM',
  52: 'TLSA',
  53: 'SMIMEA',
  55: 'HIP',
  59: 'CDS',
  60: 'CDNSKEY',
  61: 'OPENPGPKEY',
  62: 'CSYNC',
  63: 'ZONEMD',
  64: 'SVCB',
  65: 'HTTPS',
  99: 'SPF',
  108: 'EUI48',
  109: 'EUI64',
  249: 'TKEY',
  250: 'TSIG',
  251: 'IXFR',
  252: 'AXFR',
  255: 'ANY',
  256: 'URI',
  257: 'CAA',
  32768: 'TA',
  32769: 'DLV',
};

/** RR type numbers this package decodes or names in tests. */
export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  NAPTR: 35,
  DNAME: 39,
  OPT: 41,
  CAA: 257,
} as const;

const CLASSES: Record<number, string> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };

// Header rcodes 0..15, then the extended ones that only exist with EDNS0
// (16 is BADVERS there; BADSIG shares the number in TSIG, which we do not read).
const RCODES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  11: 'DSOTYPENI',
  16: 'BADVERS',
  17: 'BADKEY',
  18: 'BADTIME',
  19: 'BADMODE',
  20: 'BADNAME',
  21: 'BADALG',
  22: 'BADTRUNC',
  23: 'BADCOOKIE',
};

const OPCODES: Record<number, string> = { 0: 'QUERY', 1: 'IQUERY', 2: 'STATUS', 4: 'NOTIFY', 5: 'UPDATE', 6: 'DSO' };

// Fallback strings are cached because an unregistered type seen once is
// usually seen again (a private-use type in one deployment).
const typeCache = new Map<number, string>();

/** "A", "AAAA", "SRV"... or the RFC 3597 form "TYPE<n>". */
export function typeName(t: number): string {
  const known = TYPES[t];
  if (known !== undefined) return known;
  let s = typeCache.get(t);
  if (s === undefined) {
    s = `TYPE${t}`;
    if (typeCache.size < 4096) typeCache.set(t, s);
  }
  return s;
}

/** "IN", "CH"... or the RFC 3597 form "CLASS<n>". */
export function className(c: number): string {
  return CLASSES[c] ?? `CLASS${c}`;
}

/** "NOERROR", "NXDOMAIN"... or the number in decimal. */
export function rcodeName(r: number): string {
  return RCODES[r] ?? String(r);
}

/** "QUERY", "NOTIFY"... or the number in decimal. */
export function opcodeName(o: number): string {
  return OPCODES[o] ?? String(o);
}
