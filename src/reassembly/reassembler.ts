// The reassembly engine: ordered bytes per direction out of captured TCP
// segments (ADR-005). No TCP state machine (ADR-005d): a stream starts at its
// SYN or, with mid-stream join, at the first sequence number seen (ADR-005c);
// it ends at FIN from both sides, RST, idle timeout or eviction. Holes wait
// for their segment at most gap_timeout of packet time, then are skipped and
// the parser is told (ADR-005e). Memory is accounted per stream and globally;
// the least recently used streams are evicted to stay under the hard limit
// (ADR-005f). Time is packet time, so a file replays exactly as it was
// captured, whatever the speed.
import { IPPROTO, TCP_FLAG, type DecodedPacket } from '../core/packet.ts';
import { flowHash } from '../pipeline/flow-hash.ts';
import {
  REASSEMBLY_STATS,
  type ReassemblyStat,
  type StreamDir,
  type StreamHandler,
  type StreamOpener,
  type TcpReassembler,
  type TcpReassemblyConfig,
} from './api.ts';

const S = Object.fromEntries(REASSEMBLY_STATS.map((n, i) => [n, i])) as Record<ReassemblyStat, number>;

/**
 * What one stream costs besides its buffers (objects, arrays, map entry):
 * a measured order of magnitude, so that 50,000 idle streams count too.
 */
export const STREAM_OVERHEAD = 512;
/** Smallest leftover buffer; grown by doubling up to the stream's limit. */
const MIN_BUF = 2048;
const PORT_FOLLOW = 1;
const PORT_SYN_ONLY = 2;

/** A segment that arrived ahead of a hole (a copy: the capture buffer is reused). */
interface Segment {
  rel: number; // relative sequence number of its first byte
  data: Uint8Array;
}

/** One direction of a stream. */
class Direction {
  started = false;
  /** Sequence number of relative byte 0. */
  isn = 0;
  /** Relative sequence number of the next byte to deliver. */
  next = 0;
  /** The next delivery follows unknown bytes (mid-stream start, hole, overflow). */
  gap = false;
  fin = false;
  /** Bytes the handler has not consumed yet: buf[0, len). */
  buf: Uint8Array | null = null;
  len = 0;
  /** Out-of-order segments, sorted by rel. */
  readonly ooo: Segment[] = [];
  oooBytes = 0;
  /** Packet time when the oldest waiting hole was first seen (valid while ooo is not empty). */
  holeSince = 0;

  /** Relative sequence number of a 32-bit sequence number (wrap-safe around next). */
  rel(seq: number): number {
    return this.next + ((seq - ((this.isn + this.next) >>> 0)) | 0);
  }
}

export class Stream {
  /** Lookup chain (same hash) and LRU list links. */
  chain: Stream | null = null;
  prev: Stream | null = null;
  lnext: Stream | null = null;
  readonly dirs: [Direction, Direction] = [new Direction(), new Direction()];
  readonly ipA = new Uint8Array(16);
  readonly ipB = new Uint8Array(16);
  ipLen = 4;
  portA = 0;
  portB = 0;
  lastSeen = 0;
  /** Bytes accounted to this stream (overhead + buffers). */
  mem = STREAM_OVERHEAD;
  handler: StreamHandler | null = null;
  alive = true;

  constructor(readonly hash: number) {}

  /** Direction of `p` in this stream, or -1 when p is not of this stream. */
  dirOf(p: DecodedPacket): number {
    const n = this.ipLen;
    if (p.srcPort === this.portA && p.dstPort === this.portB && eqIp(p.srcIp, this.ipA, n) && eqIp(p.dstIp, this.ipB, n)) return 0;
    if (p.srcPort === this.portB && p.dstPort === this.portA && eqIp(p.srcIp, this.ipB, n) && eqIp(p.dstIp, this.ipA, n)) return 1;
    return -1;
  }
}

function clamp(used: number, max: number): number {
  return used < 0 ? 0 : used > max ? max : used;
}

function eqIp(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One stream holds at most 4 x per_stream_buffer_limit (per direction a
 * leftover buffer and out-of-order segments, each up to the limit), so the
 * global limit stays hard only if it is at least that much more than one
 * stream: eviction of the others then always brings memory under it.
 */
export function checkLimits(cfg: TcpReassemblyConfig): void {
  const need = 4 * cfg.perStreamBufferLimit + STREAM_OVERHEAD;
  if (cfg.globalMemoryLimit < need) {
    throw new Error(
      `tcp_reassembly: global_memory_limit (${cfg.globalMemoryLimit}) must be at least 4 x per_stream_buffer_limit + ${STREAM_OVERHEAD} (${need})`,
    );
  }
}

export class Reassembler implements TcpReassembler {
  private readonly table = new Map<number, Stream>();
  /** LRU list: head = least recently used. */
  private head: Stream | null = null;
  private tail: Stream | null = null;
  private count = 0;
  private memory = 0;
  /** Streams with segments waiting behind a hole (checked for gap_timeout). */
  private readonly waiting = new Set<Stream>();
  private readonly portRule = new Uint8Array(65536);
  private readonly counters = new Float64Array(REASSEMBLY_STATS.length);
  private now = 0;
  private nextSweep = 0;
  /** The stream being handled: never evicted to make room for itself. */
  private current: Stream | null = null;

  constructor(
    private readonly cfg: TcpReassemblyConfig,
    private readonly opener: StreamOpener,
    /** Ports when cfg.ports is empty (the stream parsers' own). */
    defaultPorts: readonly number[] = [],
  ) {
    checkLimits(cfg);
    const ports = cfg.ports.length > 0 ? cfg.ports : defaultPorts;
    for (const p of ports) this.portRule[p] = cfg.midStreamJoin ? PORT_FOLLOW : PORT_SYN_ONLY;
    for (const p of cfg.synRequiredPorts) if (this.portRule[p] !== 0) this.portRule[p] = PORT_SYN_ONLY;
  }

  handlePacket(p: DecodedPacket): boolean {
    if (p.protocol !== IPPROTO.TCP) return false;
    const ra = this.portRule[p.srcPort]!;
    const rb = this.portRule[p.dstPort]!;
    if (ra === 0 && rb === 0) return false;
    const now = p.tsSec + p.tsNsec / 1e9;
    if (now > this.now) this.now = now;
    if (this.now >= this.nextSweep) this.sweep();
    const c = this.counters;
    const hash = flowHash(p);
    let s = this.find(hash, p);
    const flags = p.tcpFlags;
    const syn = (flags & TCP_FLAG.SYN) !== 0;
    if (s === null) {
      // Pure ACKs and FINs without data start nothing: they are what trails a closed stream.
      if (!syn && p.payloadLength === 0) return true;
      if ((ra === PORT_SYN_ONLY || rb === PORT_SYN_ONLY) && !(syn && (flags & TCP_FLAG.ACK) === 0)) {
        c[S.syn_required_skipped]!++;
        return true;
      }
      const h = this.opener.openStream(p);
      if (h === null) {
        c[S.unclaimed]!++;
        return false;
      }
      s = this.create(hash, p, h);
    } else {
      this.touch(s);
    }
    s.lastSeen = this.now;
    const di = s.dirOf(p) as StreamDir;
    const d = s.dirs[di];
    this.current = s;
    if (syn) {
      const isn = (p.tcpSeq + 1) >>> 0;
      if (d.started && d.isn !== isn && (d.next > 0 || d.len > 0 || d.ooo.length > 0)) {
        // A new connection on the same 5-tuple: the old stream is over.
        this.closeStream(s, S.streams_closed);
        this.current = null;
        return this.handlePacket(p);
      }
      d.started = true;
      d.isn = isn;
      d.next = 0;
      d.gap = false;
    } else if (!d.started) {
      d.started = true;
      d.isn = p.tcpSeq;
      d.next = 0;
      d.gap = true;
      c[S.mid_stream_joins]!++;
    }
    if (p.payloadLength > 0 && s.alive) this.segment(s, di, d, p.tcpSeq, p.data, p.payloadOffset, p.payloadLength);
    if (s.alive && d.ooo.length > 0 && this.now - d.holeSince >= this.cfg.gapTimeoutSec) this.skipHole(s, di, d);
    if (s.alive) {
      if ((flags & TCP_FLAG.RST) !== 0) this.closeStream(s, S.streams_closed);
      else if ((flags & TCP_FLAG.FIN) !== 0) {
        if (!d.fin && d.ooo.length === 0) s.handler!.onEnd?.(di);
        d.fin = true;
        const o = s.dirs[di ^ 1]!;
        if (o.fin && d.ooo.length === 0 && o.ooo.length === 0) this.closeStream(s, S.streams_closed);
      }
    }
    this.current = null;
    c[S.segments]!++;
    return true;
  }

  /** One segment's payload data[off, off+len) at sequence number seq. */
  private segment(s: Stream, di: StreamDir, d: Direction, seq: number, data: Uint8Array, off: number, len: number): void {
    const c = this.counters;
    let rel = d.rel(seq);
    if (rel + len <= d.next) {
      c[S.retransmitted_segments]!++;
      c[S.overlap_bytes]! += len;
      return;
    }
    if (rel < d.next) {
      const t = d.next - rel;
      c[S.overlap_bytes]! += t;
      off += t;
      len -= t;
      rel = d.next;
    }
    if (rel > d.next) {
      this.hold(s, di, d, rel, data, off, len);
      return;
    }
    this.deliver(s, di, d, data, off, len);
    if (d.ooo.length > 0 && s.alive) this.drain(s, di, d);
  }

  /** Buffers an out-of-order segment (a copy), within the stream's limit. */
  private hold(s: Stream, di: StreamDir, d: Direction, rel: number, data: Uint8Array, off: number, len: number): void {
    const c = this.counters;
    const q = d.ooo;
    // Where it goes (sorted by rel); an identical retransmission is dropped.
    let i = q.length;
    while (i > 0 && q[i - 1]!.rel > rel) i--;
    if (i > 0) {
      const prev = q[i - 1]!;
      if (prev.rel + prev.data.length >= rel + len) {
        c[S.retransmitted_segments]!++;
        c[S.overlap_bytes]! += len;
        return;
      }
    }
    if (d.len + d.oooBytes + len > this.cfg.perStreamBufferLimit) {
      // No room to wait any longer: give up on the hole now.
      c[S.gaps_forced]!++;
      if (q.length > 0) {
        this.skipHole(s, di, d);
        if (!s.alive) return;
        this.segment(s, di, d, (d.isn + rel) >>> 0, data, off, len);
        return;
      }
      // Nothing buffered yet and still too big: skip straight to this segment.
      this.gapTo(d, rel);
      this.deliver(s, di, d, data, off, len);
      return;
    }
    if (q.length === 0) {
      d.holeSince = this.now;
      this.waiting.add(s);
    }
    c[S.out_of_order_segments]!++;
    this.reserve(s, len);
    q.splice(i, 0, { rel, data: data.slice(off, off + len) });
    d.oooBytes += len;
    this.account(s, len);
  }

  /** Delivers the buffered segments that became contiguous. */
  private drain(s: Stream, di: StreamDir, d: Direction): void {
    const q = d.ooo;
    while (q.length > 0 && q[0]!.rel <= d.next && s.alive) {
      const seg = q.shift()!;
      d.oooBytes -= seg.data.length;
      this.account(s, -seg.data.length);
      const end = seg.rel + seg.data.length;
      if (end <= d.next) {
        this.counters[S.overlap_bytes]! += seg.data.length;
        continue;
      }
      const t = d.next - seg.rel;
      this.counters[S.overlap_bytes]! += t;
      this.deliver(s, di, d, seg.data, t, seg.data.length - t);
    }
    if (q.length === 0) {
      if (!s.dirs[di ^ 1]!.ooo.length) this.waiting.delete(s);
    } else d.holeSince = this.now; // the next hole waits from now
  }

  /** Skips the hole before the first buffered segment and delivers from there. */
  private skipHole(s: Stream, di: StreamDir, d: Direction): void {
    const first = d.ooo[0]!;
    this.gapTo(d, first.rel);
    this.drain(s, di, d);
  }

  private gapTo(d: Direction, rel: number): void {
    this.counters[S.gaps]!++;
    this.counters[S.gap_bytes]! += rel - d.next;
    d.next = rel;
    d.gap = true;
  }

  /** Hands the next bytes in order, data[off, off+len), to the handler. */
  private deliver(s: Stream, di: StreamDir, d: Direction, data: Uint8Array, off: number, len: number): void {
    d.next += len;
    this.counters[S.bytes_delivered]! += len;
    if (d.gap && d.len > 0) this.setLen(s, d, 0); // the message the leftover started can never complete
    this.feed(s, di, d, data, off, len);
  }

  /**
   * Calls the handler with what it left unconsumed followed by
   * data[off, off+len). In the common case (nothing left over) the handler
   * reads the capture buffer directly; only what it leaves is copied.
   */
  private feed(s: Stream, di: StreamDir, d: Direction, data: Uint8Array, off: number, len: number): void {
    const c = this.counters;
    const h = s.handler!;
    const limit = this.cfg.perStreamBufferLimit;
    if (d.len === 0) {
      const gap = d.gap;
      d.gap = false;
      const used = clamp(h.onData(di, data, off, off + len, gap), len);
      if (!s.alive) return;
      const rest = len - used;
      if (rest > 0) {
        if (rest > limit) {
          // A message bigger than the stream may hold: skip it, resynchronise after.
          c[S.overflow_bytes]! += rest;
          d.gap = true;
          return;
        }
        this.ensure(s, d, rest);
        d.buf!.set(data.subarray(off + used, off + len), 0);
        d.len = rest;
      }
      return;
    }
    if (d.len + len > limit) {
      // The parser could not frame a message within the limit: drop what it held.
      c[S.overflow_bytes]! += d.len;
      this.setLen(s, d, 0);
      d.gap = true;
      this.feed(s, di, d, data, off, len);
      return;
    }
    this.ensure(s, d, d.len + len);
    const buf = d.buf!;
    buf.set(data.subarray(off, off + len), d.len);
    const total = d.len + len;
    const used = clamp(h.onData(di, buf, 0, total, false), total);
    if (!s.alive) return;
    if (used > 0 && used < total) buf.copyWithin(0, used, total);
    this.setLen(s, d, total - used);
  }

  /** Makes d.buf hold at least n bytes (keeping d.len bytes), accounting the growth. */
  private ensure(s: Stream, d: Direction, n: number): void {
    const cur = d.buf === null ? 0 : d.buf.length;
    if (cur >= n) return;
    let cap = Math.max(MIN_BUF, cur * 2);
    while (cap < n) cap *= 2;
    cap = Math.min(cap, Math.max(n, this.cfg.perStreamBufferLimit));
    this.reserve(s, cap - cur);
    const nb = new Uint8Array(cap);
    if (d.buf !== null && d.len > 0) nb.set(d.buf.subarray(0, d.len));
    d.buf = nb;
    this.account(s, cap - cur);
  }

  /** Sets the leftover length; frees a large buffer once it is empty. */
  private setLen(s: Stream, d: Direction, n: number): void {
    d.len = n;
    if (n === 0 && d.buf !== null && d.buf.length > MIN_BUF) {
      this.account(s, -d.buf.length);
      d.buf = null;
    }
  }

  /** Adds delta bytes to a stream's and the global accounting (reserve() made room first). */
  private account(s: Stream, delta: number): void {
    s.mem += delta;
    this.memory += delta;
    const c = this.counters;
    if (this.memory > c[S.memory_peak]!) c[S.memory_peak] = this.memory;
  }

  /**
   * Makes room for `need` more bytes *before* they are allocated, evicting
   * least recently used streams (never `keep` or the stream at hand): the
   * limit is hard, never crossed even for a moment.
   */
  private reserve(keep: Stream | null, need: number): void {
    const limit = this.cfg.globalMemoryLimit - need;
    let v = this.head;
    while (this.memory > limit && v !== null) {
      const n = v.lnext;
      if (v !== keep && v !== this.current) this.closeStream(v, S.streams_evicted_memory);
      v = n;
    }
    // Only the stream at hand is left: it is within the limit by construction (checkLimits).
  }

  private create(hash: number, p: DecodedPacket, h: StreamHandler): Stream {
    const c = this.counters;
    if (this.count >= this.cfg.maxConcurrentStreams && this.head !== null) this.closeStream(this.head, S.streams_evicted_max);
    this.reserve(null, STREAM_OVERHEAD);
    const s = new Stream(hash);
    s.ipLen = p.ipVersion === 6 ? 16 : 4;
    s.ipA.set(p.srcIp.subarray(0, s.ipLen));
    s.ipB.set(p.dstIp.subarray(0, s.ipLen));
    s.portA = p.srcPort;
    s.portB = p.dstPort;
    s.handler = h;
    s.chain = this.table.get(hash) ?? null;
    this.table.set(hash, s);
    // Append to the LRU tail.
    s.prev = this.tail;
    if (this.tail !== null) this.tail.lnext = s;
    else this.head = s;
    this.tail = s;
    this.count++;
    c[S.streams_created]!++;
    this.memory += STREAM_OVERHEAD;
    if (this.memory > c[S.memory_peak]!) c[S.memory_peak] = this.memory;
    return s;
  }

  private find(hash: number, p: DecodedPacket): Stream | null {
    let s = this.table.get(hash) ?? null;
    while (s !== null && s.dirOf(p) < 0) s = s.chain;
    return s;
  }

  /** Moves a stream to the LRU tail (most recently used). */
  private touch(s: Stream): void {
    if (this.tail === s) return;
    // unlink
    if (s.prev !== null) s.prev.lnext = s.lnext;
    else this.head = s.lnext;
    s.lnext!.prev = s.prev;
    // append
    s.prev = this.tail;
    s.lnext = null;
    this.tail!.lnext = s;
    this.tail = s;
  }

  /** Flushes a stream (skipping its holes), tells its handler, and forgets it. */
  private closeStream(s: Stream, reason: number): void {
    if (!s.alive) return;
    this.counters[reason]!++;
    if (reason !== S.streams_evicted_memory && reason !== S.streams_evicted_max) {
      for (let di = 0; di < 2 && s.alive; di++) {
        const d = s.dirs[di]!;
        while (d.ooo.length > 0 && s.alive) this.skipHole(s, di as StreamDir, d);
      }
    }
    s.alive = false;
    s.handler!.onClose();
    // Unlink from the table chain.
    let h = this.table.get(s.hash)!;
    if (h === s) {
      if (s.chain === null) this.table.delete(s.hash);
      else this.table.set(s.hash, s.chain);
    } else {
      while (h.chain !== s) h = h.chain!;
      h.chain = s.chain;
    }
    // Unlink from the LRU list.
    if (s.prev !== null) s.prev.lnext = s.lnext;
    else this.head = s.lnext;
    if (s.lnext !== null) s.lnext.prev = s.prev;
    else this.tail = s.prev;
    s.prev = s.lnext = s.chain = null;
    this.waiting.delete(s);
    this.memory -= s.mem;
    s.mem = 0;
    for (const d of s.dirs) {
      d.buf = null;
      d.ooo.length = 0;
    }
    this.count--;
  }

  /** Once a second of packet time: idle streams out, expired holes skipped. */
  private sweep(): void {
    const now = this.now;
    this.nextSweep = now + 1;
    const idle = now - this.cfg.streamTimeoutSec;
    while (this.head !== null && this.head.lastSeen <= idle) this.closeStream(this.head, S.streams_timed_out);
    if (this.waiting.size === 0) return;
    for (const s of [...this.waiting]) {
      for (let di = 0; di < 2 && s.alive; di++) {
        const d = s.dirs[di]!;
        if (d.ooo.length > 0 && now - d.holeSince >= this.cfg.gapTimeoutSec) this.skipHole(s, di as StreamDir, d);
      }
    }
  }

  expire(nowSec: number): void {
    if (nowSec > this.now) this.now = nowSec;
    this.sweep();
  }

  close(): void {
    while (this.head !== null) this.closeStream(this.head, S.streams_closed);
  }

  stats(): Record<string, number> {
    const c = this.counters;
    c[S.active_streams] = this.count;
    c[S.memory_bytes] = this.memory;
    const r: Record<string, number> = {};
    for (let i = 0; i < REASSEMBLY_STATS.length; i++) r[REASSEMBLY_STATS[i]!] = c[i]!;
    return r;
  }

  /** Streams currently followed. */
  get activeStreams(): number {
    return this.count;
  }

  /** Bytes currently accounted. */
  get memoryBytes(): number {
    return this.memory;
  }
}
