// IPv4 and IPv6 fragment reassembly (ADR-004): groups keyed by version,
// addresses, identification (and protocol for IPv4); pieces may arrive in any
// order and more than once. Time is packet time, so a capture file replays
// the way it was captured. Only fragments come here: the unfragmented path
// never allocates.
import { Reason } from './reasons.ts';
import type { DecoderStats } from './decoder-stats.ts';

interface Piece {
  offset: number;
  bytes: Uint8Array;
}

interface Group {
  /** Packet time (seconds) of the first piece: the timeout runs from here. */
  firstSeen: number;
  /** Datagram payload length, known once the last piece (no more-fragments flag) arrived. */
  total: number;
  /** Upper-layer protocol (IPv6: next header after the fragment header of the first piece). */
  proto: number;
  /** Pieces in arrival order: on overlap, the first arrival wins. */
  pieces: Piece[];
}

/** A fragment was stored; the datagram is not complete yet. */
export const HELD = 0;
/** The datagram is complete: `result` and `resultProto` hold it. */
export const COMPLETE = 1;

const MAX_DATAGRAM = 65535;
const MAX_PIECES = 256;

export class Reassembler {
  private readonly groups = new Map<string, Group>();
  /** The reassembled payload after add() returned COMPLETE. */
  result: Uint8Array = new Uint8Array(0);
  resultProto = 0;

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
    this.expire(now);
    if (offset + len > MAX_DATAGRAM) return -1 - Reason.fragment_too_big;
    // Every piece but the last carries a multiple of 8 bytes (the offset unit).
    if (more && (len & 7) !== 0) return -1 - Reason.fragment_bad_length;
    const key = groupKey(version, src, dst, id, version === 4 ? proto : 0);
    let g = this.groups.get(key);
    if (g === undefined) {
      if (this.groups.size >= this.maxGroups) this.evictOldest();
      g = { firstSeen: now, total: -1, proto, pieces: [] };
      this.groups.set(key, g);
    }
    if (!more) {
      const total = offset + len;
      if (g.total >= 0 && g.total !== total) return -1 - Reason.fragment_bad_length;
      // A last piece that ends before bytes already received contradicts them.
      for (const p of g.pieces) if (p.offset + p.bytes.length > total) return -1 - Reason.fragment_bad_length;
      g.total = total;
    }
    if (g.total >= 0 && offset + len > g.total) return -1 - Reason.fragment_bad_length;
    if (offset === 0) g.proto = proto;
    const dup = this.classify(g, offset, b, start, len);
    if (dup === 1) return HELD; // an exact duplicate adds nothing
    if (dup === 2) this.stats.count(Reason.fragment_overlap); // kept; the earlier bytes win
    if (g.pieces.length >= MAX_PIECES) {
      this.groups.delete(key);
      return -1 - Reason.fragment_too_many_pieces;
    }
    g.pieces.push({ offset, bytes: b.slice(start, start + len) });
    if (g.total < 0 || !covers(g)) return HELD;
    this.groups.delete(key);
    this.result = assemble(g);
    this.resultProto = g.proto;
    return COMPLETE;
  }

  /** Drops groups whose first piece is older than the timeout. */
  expire(now: number): void {
    for (const [key, g] of this.groups) {
      // Map order is creation order, so the first young group ends the scan.
      if (now - g.firstSeen <= this.timeoutSec) break;
      this.groups.delete(key);
      this.stats.fragmentTimeouts++;
    }
  }

  private evictOldest(): void {
    for (const key of this.groups.keys()) {
      this.groups.delete(key);
      this.stats.fragmentEvictions++;
      return;
    }
  }

  /** 0: new bytes; 1: an exact duplicate of stored bytes; 2: overlaps stored bytes that differ. */
  private classify(g: Group, offset: number, b: Uint8Array, start: number, len: number): number {
    let overlap = false;
    let differs = false;
    let coveredFully = false;
    for (const p of g.pieces) {
      const lo = Math.max(offset, p.offset);
      const hi = Math.min(offset + len, p.offset + p.bytes.length);
      if (lo >= hi) continue;
      overlap = true;
      for (let i = lo; i < hi; i++) {
        if (p.bytes[i - p.offset] !== b[start + i - offset]) {
          differs = true;
          break;
        }
      }
      if (p.offset <= offset && p.offset + p.bytes.length >= offset + len) coveredFully = true;
    }
    if (!overlap) return 0;
    if (differs) return 2;
    return coveredFully ? 1 : 0;
  }
}

function groupKey(version: number, src: Uint8Array, dst: Uint8Array, id: number, proto: number): string {
  const n = version === 4 ? 4 : 16;
  let k = `${version}:${proto}:${id}:`;
  for (let i = 0; i < n; i++) k += String.fromCharCode(src[i]!);
  for (let i = 0; i < n; i++) k += String.fromCharCode(dst[i]!);
  return k;
}

/** True when the pieces cover [0, total) without a hole. */
function covers(g: Group): boolean {
  const sorted = g.pieces.slice().sort((a, b) => a.offset - b.offset);
  let covered = 0;
  for (const p of sorted) {
    if (p.offset > covered) return false;
    covered = Math.max(covered, p.offset + p.bytes.length);
  }
  return covered >= g.total;
}

function assemble(g: Group): Uint8Array {
  const out = new Uint8Array(g.total);
  // Later arrivals first, so that where pieces overlap the first arrival's bytes stay.
  for (let i = g.pieces.length - 1; i >= 0; i--) {
    const p = g.pieces[i]!;
    out.set(p.bytes, p.offset);
  }
  return out;
}
