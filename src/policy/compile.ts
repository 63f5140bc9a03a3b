// Compiles an ordered rule list into what the kernel program classifies
// with (bpf/policy.bpf.c): per dimension, the set of rules (a bitmap, bit i =
// the i-th rule in priority order) that accept each value.
//
// - addresses: one LPM entry per distinct prefix of the rules, plus 0/0; an
//   entry's bitmap holds the rules of that prefix and of every shorter prefix
//   that contains it, so the longest match alone yields every rule that
//   accepts the address;
// - protocol: one bitmap per protocol the rules name (its rules plus the
//   "any" ones), and one for every other protocol (the "any" rules);
// - ports: the port space cut into elementary intervals at every range
//   boundary; a 65536-entry array gives a port's interval, and each interval
//   has the bitmap of the ranges covering it.
//
// Pure and synchronous: it is tested against the reference matcher
// (rules.ts firstMatch) without a kernel.
import { MAX_RULES, maskOf, type CompiledRule } from './rules.ts';

export const WORDS = MAX_RULES / 64;
/** Bytes of one bitmap value, as struct bitmap in bpf/policy.h. */
export const BITMAP_BYTES = WORDS * 8;
export const PROTO_OTHER = 256;

/** A bitmap as 32-bit halves (little-endian u64 words, which is what x86-64 and arm64 store). */
export type Bitmap = Uint32Array;

export interface PrefixEntry {
  addr: number;
  len: number;
  bits: Bitmap;
}

export interface PortDimension {
  /** Interval index of every port. */
  classOf: Uint32Array;
  /** Bitmap of every interval. */
  bits: Bitmap[];
}

export interface CompiledSet {
  /** Rules in priority order: rule index i is bit i. */
  rules: CompiledRule[];
  nwords: number;
  src: PrefixEntry[];
  dst: PrefixEntry[];
  proto: { key: number; bits: Bitmap }[];
  sport: PortDimension;
  dport: PortDimension;
}

function newBitmap(): Bitmap {
  return new Uint32Array(WORDS * 2);
}

function setBit(b: Bitmap, i: number): void {
  b[i >>> 5]! |= 1 << (i & 31);
}

function orInto(into: Bitmap, from: Bitmap, nw32: number): void {
  for (let i = 0; i < nw32; i++) into[i]! |= from[i]!;
}

function prefixes(rules: CompiledRule[], addrOf: (r: CompiledRule) => number, lenOf: (r: CompiledRule) => number, nw32: number): PrefixEntry[] {
  // Rules of exactly each prefix, keyed by len * 2^32 + addr.
  const exact = new Map<number, Bitmap>();
  exact.set(0, newBitmap());
  rules.forEach((r, i) => {
    const key = lenOf(r) * 2 ** 32 + addrOf(r);
    let b = exact.get(key);
    if (!b) exact.set(key, (b = newBitmap()));
    setBit(b, i);
  });
  const lens = [...new Set(rules.map(lenOf))].sort((a, b) => a - b);
  const out: PrefixEntry[] = [];
  for (const [key, own] of exact) {
    const len = Math.floor(key / 2 ** 32);
    const addr = key % 2 ** 32;
    const bits = newBitmap();
    orInto(bits, own, nw32);
    for (const l of lens) {
      if (l >= len) break;
      const anc = exact.get(l * 2 ** 32 + ((addr & maskOf(l)) >>> 0));
      if (anc) orInto(bits, anc, nw32);
    }
    out.push({ addr, len, bits });
  }
  return out;
}

function ports(rules: CompiledRule[], rangeOf: (r: CompiledRule) => [number, number], nw32: number): PortDimension {
  const startsAt = new Set<number>([0]);
  for (const r of rules) {
    const [lo, hi] = rangeOf(r);
    startsAt.add(lo);
    if (hi < 65535) startsAt.add(hi + 1);
  }
  const starts = [...startsAt].sort((a, b) => a - b);
  const classOf = new Uint32Array(65536);
  for (let c = 0; c < starts.length; c++) {
    const end = c + 1 < starts.length ? starts[c + 1]! : 65536;
    classOf.fill(c, starts[c]!, end);
  }
  // Sweep: a rule enters at its range's first interval and leaves after its last.
  const enter: number[][] = starts.map(() => []);
  const leave: number[][] = starts.map(() => []);
  rules.forEach((r, i) => {
    const [lo, hi] = rangeOf(r);
    enter[classOf[lo]!]!.push(i);
    if (hi < 65535) leave[classOf[hi + 1]!]!.push(i);
  });
  const running = newBitmap();
  const bits: Bitmap[] = [];
  for (let c = 0; c < starts.length; c++) {
    for (const i of leave[c]!) running[i >>> 5]! &= ~(1 << (i & 31));
    for (const i of enter[c]!) setBit(running, i);
    const b = newBitmap();
    b.set(running.subarray(0, nw32));
    bits.push(b);
  }
  return { classOf, bits };
}

/** `rules` must already be in priority order (rules.ts ordered). */
export function compileSet(rules: CompiledRule[]): CompiledSet {
  if (rules.length > MAX_RULES) throw new RangeError(`at most ${MAX_RULES} rules`);
  const nwords = Math.ceil(rules.length / 64);
  const nw32 = nwords * 2;
  const protoKeys = new Set<number>();
  for (const r of rules) if (r.proto >= 0) protoKeys.add(r.proto);
  const anyProto = newBitmap();
  rules.forEach((r, i) => r.proto < 0 && setBit(anyProto, i));
  const proto = [...protoKeys].map((key) => {
    const bits = newBitmap();
    bits.set(anyProto.subarray(0, nw32));
    rules.forEach((r, i) => r.proto === key && setBit(bits, i));
    return { key, bits };
  });
  proto.push({ key: PROTO_OTHER, bits: anyProto });
  return {
    rules,
    nwords,
    src: prefixes(rules, (r) => r.src, (r) => r.srcLen, nw32),
    dst: prefixes(rules, (r) => r.dst, (r) => r.dstLen, nw32),
    proto,
    sport: ports(rules, (r) => r.sport, nw32),
    dport: ports(rules, (r) => r.dport, nw32),
  };
}

/** What the kernel computes, in TypeScript: the index of the matching rule, or -1. For tests. */
export function classifyCompiled(set: CompiledSet, src: number, dst: number, proto: number, sport: number, dport: number): number {
  const lpm = (entries: PrefixEntry[], a: number) => {
    let best: PrefixEntry | undefined;
    for (const e of entries) if (((a & maskOf(e.len)) >>> 0) === e.addr && (!best || e.len > best.len)) best = e;
    return best!.bits;
  };
  const s = lpm(set.src, src);
  const d = lpm(set.dst, dst);
  const p = (set.proto.find((x) => x.key === proto) ?? set.proto.find((x) => x.key === PROTO_OTHER)!).bits;
  const sp = set.sport.bits[set.sport.classOf[sport]!]!;
  const dp = set.dport.bits[set.dport.classOf[dport]!]!;
  for (let i = 0; i < set.nwords * 2; i++) {
    const w = s[i]! & d[i]! & p[i]! & sp[i]! & dp[i]!;
    if (w) return i * 32 + (31 - Math.clz32(w & -w));
  }
  return -1;
}
