// IPv4 and IPv6 fragment reassembly (ADR-004): groups keyed by version,
// addresses, identification (and protocol for IPv4); pieces may arrive in any
// order and more than once. Time is packet time, so a capture file replays
// the way it was captured. Only fragments come here: the unfragmented path
// never allocates.
//
// Each group copies its pieces straight into one buffer at their place in the
// datagram and keeps the covered ranges, so completing a datagram costs no
// second copy: the result is a view of that buffer. Buffers of the common
// size are recycled: a result is valid until the next add(), like everything
// else the decoder hands out until its next decode.
import { Reason } from './reasons.ts';
import type { DecoderStats } from './decoder-stats.ts';

interface Group {
  /** Packet time (seconds) of the first piece: the timeout runs from here. */
  firstSeen: number;
  /** Datagram payload length, known once the last piece (no more-fragments flag) arrived. */
  total: number;
  /** Upper-layer protocol (IPv6: next header after the fragment header of the first piece). */
  proto: number;
  buf: Uint8Array;
  /** Covered byte ranges [start, end), sorted, disjoint and not adjacent. */
  ranges: number[];
  pieces: number;
}

/** A fragment was stored; the datagram is not complete yet. */
export const HELD = 0;
/** The datagram is complete: `result` and `resultProto` hold it. */
export const COMPLETE = 1;

const MAX_DATAGRAM = 65535;
const MAX_PIECES = 256;
/** Group buffers of this size are pooled (most fragmented datagrams fit: SIP with a large SDP, DNS). */
const POOLED_SIZE = 4096;
const MAX_POOLED = 256;

export class Reassembler {
  private readonly groups = new Map<string, Group>();
  /** The reassembled payload after add() returned COMPLETE (owned by the caller from then on). */
  result: Uint8Array = new Uint8Array(0);
  resultProto = 0;
  private lastExpire = -Infinity;
  private readonly pool: Uint8Array[] = [];
  /** The buffer behind the last result, recycled at the next add(). */
  private lent: Uint8Array | null = null;

  constructor(
    private readonly timeoutSec: number,
    private readonly maxGroups: number,
    private readonly stats: DecoderStats,
  ) {}

  get inFlight(): number {
    return this.groups.size;
  }

  /**
   * Adds one fragment: `len` payload bytes of `b` from `start`, at `offset`
   * in the datagram. Returns HELD, COMPLETE, or a Reason (as a negative
   * number via -1 - reason) when the piece is unusable.
   */
  add(
    version: number,
    src: Uint8Array,
    dst: Uint8Array,
    id: number,
    proto: number,
    offset: number,
    more: boolean,
    b: Uint8Array,
    start: number,
    len: number,
    now: number,
  ): number {
    if (this.lent !== null) {
      this.recycle(this.lent);
      this.lent = null;
    }
    if (now - this.lastExpire >= 1) {
      this.lastExpire = now;
      this.expire(now);
    }
    const end = offset + len;
    if (end > MAX_DATAGRAM) return -1 - Reason.fragment_too_big;
    // Every piece but the last carries a multiple of 8 bytes (the offset unit).
    if (more && (len & 7) !== 0) return -1 - Reason.fragment_bad_length;
    const key = groupKey(version, src, dst, id, version === 4 ? proto : 0);
    let g = this.groups.get(key);
    if (g === undefined) {
      if (this.groups.size >= this.maxGroups) this.evictOldest();
      g = { firstSeen: now, total: -1, proto, buf: this.buffer(more ? Math.min(MAX_DATAGRAM, end * 2) : end), ranges: [], pieces: 0 };
      this.groups.set(key, g);
    }
    if (!more) {
      if (g.total >= 0 && g.total !== end) return -1 - Reason.fragment_bad_length;
      // A last piece that ends before bytes already received contradicts them.
      const r = g.ranges;
      if (r.length > 0 && r[r.length - 1]! > end) return -1 - Reason.fragment_bad_length;
      g.total = end;
    } else if (g.total >= 0 && end > g.total) return -1 - Reason.fragment_bad_length;
    if (offset === 0) g.proto = proto;
    if (g.pieces >= MAX_PIECES) {
      this.groups.delete(key);
      this.recycle(g.buf);
      return -1 - Reason.fragment_too_many_pieces;
    }
    g.pieces++;
    if (end > g.buf.length) {
      const grown = new Uint8Array(Math.min(MAX_DATAGRAM, Math.max(end, g.buf.length * 2)));
      grown.set(g.buf);
      this.recycle(g.buf);
      g.buf = grown;
    }
    if (this.merge(g, offset, end, b, start)) this.stats.count(Reason.fragment_overlap);
    const r = g.ranges;
    if (g.total < 0 || r.length !== 2 || r[0] !== 0 || r[1]! < g.total) return HELD;
    this.groups.delete(key);
    this.result = g.buf.subarray(0, g.total);
    this.resultProto = g.proto;
    this.lent = g.buf;
    return COMPLETE;
  }

  /** A group buffer of at least `n` bytes: a pooled one when it fits. */
  private buffer(n: number): Uint8Array {
    if (n <= POOLED_SIZE) return this.pool.pop() ?? new Uint8Array(POOLED_SIZE);
    return new Uint8Array(n);
  }

  private recycle(b: Uint8Array): void {
    if (b.length === POOLED_SIZE && this.pool.length < MAX_POOLED) this.pool.push(b);
  }

  /** Drops groups whose first piece is older than the timeout. */
  expire(now: number): void {
    for (const [key, g] of this.groups) {
      // Map order is creation order, so the first young group ends the scan.
      if (now - g.firstSeen <= this.timeoutSec) break;
      this.groups.delete(key);
      this.recycle(g.buf);
      this.stats.fragmentTimeouts++;
    }
  }

  private evictOldest(): void {
    for (const [key, g] of this.groups) {
      this.groups.delete(key);
      this.recycle(g.buf);
      this.stats.fragmentEvictions++;
      return;
    }
  }

  /**
   * Copies the bytes of [offset, end) not yet covered into the group buffer
   * (where pieces overlap, the first arrival's bytes stay) and merges the
   * range. Returns true when covered bytes differ from the new ones.
   */
  private merge(g: Group, offset: number, end: number, b: Uint8Array, start: number): boolean {
    const r = g.ranges;
    const buf = g.buf;
    let conflict = false;
    let pos = offset;
    let i = 0;
    // Ranges entirely before the piece.
    while (i < r.length && r[i + 1]! < offset) i += 2;
    const first = i;
    let lo = offset;
    let hi = end;
    while (i < r.length && r[i]! <= end) {
      const s = r[i]!;
      const e = r[i + 1]!;
      // Gap before this range: new bytes.
      if (pos < s) buf.set(b.subarray(start + pos - offset, start + s - offset), pos);
      // Overlap with this range: compare, keep the old bytes.
      const os = Math.max(s, offset);
      const oe = Math.min(e, end);
      for (let k = os; k < oe && !conflict; k++) if (buf[k] !== b[start + k - offset]) conflict = true;
      if (e > pos) pos = e;
      if (s < lo) lo = s;
      if (e > hi) hi = e;
      i += 2;
    }
    if (pos < end) buf.set(b.subarray(start + pos - offset, start + end - offset), pos);
    r.splice(first, i - first, lo, hi);
    return conflict;
  }
}

function word(a: Uint8Array, i: number): number {
  return (a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!;
}

function groupKey(version: number, src: Uint8Array, dst: Uint8Array, id: number, proto: number): string {
  if (version === 4) return `${proto}:${id}:${word(src, 0)}:${word(dst, 0)}`;
  return `6:${id}:${word(src, 0)}:${word(src, 4)}:${word(src, 8)}:${word(src, 12)}:${word(dst, 0)}:${word(dst, 4)}:${word(dst, 8)}:${word(dst, 12)}`;
}
