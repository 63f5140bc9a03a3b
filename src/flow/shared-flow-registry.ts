// The FlowRegistry of one task, in a SharedArrayBuffer that all of the task's
// pipeline workers map (DESIGN section 2, ADR-008/014). A SIP message seen on
// worker 0 registers the media endpoint that worker 1 sees next: sharing one
// table makes a registration visible to every worker the moment register()
// returns, with no message passing and no per-worker copy to keep in step.
//
// Layout: a header of 32 Int32 words, an open-addressing (linear probing)
// table of SLOT_WORDS-word slots, then one call-id hash word per slot (dense,
// so that unregisterCall scans 4 bytes per slot). The slot count is a power of
// two, at least twice the capacity, so the live load factor stays <= 1/2.
// Each slot: seqlock word, state (empty/live/tombstone), key hash, key (port,
// protocol, IP version; 4 address words), generation, kind, expiry (f64 in two
// words), call-id and codec as a length byte plus UTF-8 bytes.
//
// Concurrency:
// - Writers (register/unregister/unregisterCall: rare, from SIP) take one lock
//   word (futex style: CAS, a short spin, then Atomics.wait), so at most one
//   writer mutates the table at a time, from any thread.
// - Readers (lookup: every media packet) never take the lock. Each slot has a
//   seqlock word: a writer makes it odd, rewrites the slot, makes it even
//   again; a reader reads the word, the fields, the word again, and retries
//   when it was odd or changed. Readers use Atomics.load for every shared
//   word (sequentially consistent), which is what makes the seqlock sound
//   under the ECMAScript memory model: plain reads could be reordered past the
//   closing check on weakly ordered CPUs (ARM64 edge nodes).
// - Every write to a slot (insert, new context, expiry refresh, removal)
//   bumps its generation. Each instance (one per worker) caches, per slot,
//   the key, generation, expiry and frozen FlowContext it last read there, so
//   a hit compares the key and expiry in local memory and confirms only the
//   generation in the shared slot: one Atomics load, no decoding, no allocation.
// - Entries never move, so a reader's probe cannot skip over an entry that is
//   being relocated. Deletion leaves a tombstone; a run of tombstones that ends
//   at an empty slot is turned back into empty slots (no key's probe sequence
//   can cross an empty slot, so none can depend on that run). A header word
//   holds the longest probe distance of any entry, which bounds every miss.
// - A reader that keeps finding a slot mid-write gives up on that slot after
//   MAX_RETRIES (counted as `contended`) rather than wait for a writer that may
//   have been descheduled: a lookup never blocks.
// - A worker terminated while it holds the write lock would leave it held;
//   workers of a task are only terminated together, with the registry.
//
// Call-ids are stored as at most 127 UTF-8 bytes, codecs as at most 31: a
// longer string is cut to its longest prefix of whole characters that fits
// (TextEncoder.encodeInto never splits a character). Lookups return that
// prefix, and unregisterCall() cuts its argument the same way, so the full
// call-id still removes the entries registered under it.
import { IPPROTO, type DecodedPacket } from '../core/packet.ts';
import type { FlowContext, FlowRegistry, MediaKind } from './api.ts';

export const MAX_CALL_ID_BYTES = 127;
export const MAX_CODEC_BYTES = 31;
/** Largest capacity accepted by create() (2^21 slots, ~440 MB: size it to the calls expected). */
export const MAX_CAPACITY = 1 << 20;

const MAGIC = 0x4f465231; // "OFR1": guards attach() against a foreign buffer

// ---- header words
const H_MAGIC = 0;
const H_LOCK = 1;
const H_SLOTS = 2;
const H_CAPACITY = 3;
const H_OCCUPIED = 4; // live slots, expired ones included until reclaimed
const H_TOMBSTONES = 5;
const H_MAX_PROBE = 6;
const H_NOW_LO = 8; // latest nowSec given to register(), f64 in two words
const H_NOW_HI = 9;
const H_SWEPT_LO = 10; // nowSec of the last sweep, f64 in two words
const H_SWEPT_HI = 11;
const H_COUNTERS = 12;
/** `inserted` when the tombstone count last triggered a sweep (after the counters). */
const H_TOMB_SWEEP_AT = 24;
const HEADER_WORDS = 32;

/** Table-wide counters, kept in shared memory and written by writers only (under the lock). */
const SHARED_COUNTERS = [
  'inserted',
  'refreshed',
  'updated',
  'unregistered',
  'expired_reclaimed',
  'refused_full',
  'truncated_call_id',
  'truncated_codec',
  'invalid',
  'sweeps',
] as const;
type SharedCounter = (typeof SHARED_COUNTERS)[number];
const SC = Object.fromEntries(SHARED_COUNTERS.map((n, i) => [n, H_COUNTERS + i])) as Record<SharedCounter, number>;
if (H_COUNTERS + SHARED_COUNTERS.length > H_TOMB_SWEEP_AT) throw new Error('flow registry: the header counters overlap H_TOMB_SWEEP_AT');

// ---- slot words
const W_SEQ = 0;
const W_STATE = 1;
const W_HASH = 2;
const W_K0 = 3; // port | proto << 16 | (v6 ? 1 : 0) << 24
const W_K1 = 4; // IP address, big-endian words; v4 uses W_K1 only
const W_K2 = 5;
const W_K3 = 6;
const W_K4 = 7;
const W_GEN = 8;
const W_KIND = 9;
const W_EXP_LO = 10;
const W_EXP_HI = 11;
const W_CALL = 12; // length byte + up to 127 bytes
const CALL_WORDS = 32;
/** Words holding a length byte and `len` string bytes. */
function usedWords(len: number): number {
  return (len + 1 + 3) >>> 2;
}
const W_CODEC = W_CALL + CALL_WORDS; // length byte + up to 31 bytes
const CODEC_WORDS = 8;
const SLOT_WORDS = W_CODEC + CODEC_WORDS;

const EMPTY = 0;
const LIVE = 1;
const TOMB = 2;

const KIND_RTP = 0;
const KIND_RTCP = 1;

const MAX_RETRIES = 1 << 12;
// Per-instance cache record, one per slot, 32 bytes: a hit reads one record
// (half a cache line) instead of entries in four parallel arrays.
const CACHE_WORDS = 8;
const C_GEN = 0; // 0: nothing cached
const C_K0 = 1; // k0..k4 at C_K0..C_K0+4 (the key; its hash follows from it)
const C_EXP_F64 = 3; // expiry, f64 index within the record (words 6-7)
const LOCK_SPINS = 64;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function mix32(h: number): number {
  // murmur3 finaliser: spreads every input bit over the whole word.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

function ipWord(ip: Uint8Array, i: number): number {
  return (ip[i]! << 24) | (ip[i + 1]! << 16) | (ip[i + 2]! << 8) | ip[i + 3]!;
}

/** Header, slots, then one call-id hash word per slot (dense, so unregisterCall scans 4 bytes a slot). */
function bytesFor(slots: number): number {
  return (HEADER_WORDS + slots * SLOT_WORDS + slots) * 4;
}

function slotsFor(capacity: number): number {
  let n = 16;
  while (n < capacity * 2) n *= 2;
  return n;
}

export interface FlowRegistryStats {
  [name: string]: number;
}

export class SharedFlowRegistry implements FlowRegistry {
  private readonly sab: SharedArrayBuffer;
  private readonly a: Int32Array;
  private readonly slots: number;
  private readonly mask: number;
  private readonly capacity: number;
  /** Word index of the call-id hash array (0 = no live entry in that slot). */
  private readonly callHashBase: number;

  // The key of the endpoint being looked up or written, kept in fields so
  // that a probe passes nothing and allocates nothing.
  private k0 = 0;
  private k1 = 0;
  private k2 = 0;
  private k3 = 0;
  private k4 = 0;
  private kh = 0;
  private foundGen = 0;

  // f64 <-> two Int32 words (Atomics has no Float64Array).
  private readonly f64 = new Float64Array(1);
  private readonly f64w = new Int32Array(this.f64.buffer);

  // Writer-side encodings of the context strings, zero-padded so that
  // unregisterCall can compare whole words.
  private readonly callW = new Int32Array(CALL_WORDS);
  private readonly callB = new Uint8Array(this.callW.buffer);
  private readonly codecW = new Int32Array(CODEC_WORDS);
  private readonly codecB = new Uint8Array(this.codecW.buffer);
  // Reader-side copies of a slot's strings: decoded from a private buffer,
  // after the seqlock confirmed the copy is whole.
  private readonly rCallW = new Int32Array(CALL_WORDS);
  private readonly rCallB = new Uint8Array(this.rCallW.buffer);
  private readonly rCodecW = new Int32Array(CODEC_WORDS);
  private readonly rCodecB = new Uint8Array(this.rCodecW.buffer);

  // Per-instance (per-worker) cache: slot -> the key, generation and frozen
  // context seen there last. A hit costs no decoding and no allocation, and
  // compares the key in this thread's own memory: an Atomics.load is a
  // builtin call in V8 (~9 ns here, against ~1 ns for a plain load), so the
  // shared slot is read only to confirm that its generation is unchanged.
  /** CACHE_WORDS per slot: generation, key, and the expiry seen with that generation (it changes only with it). */
  private readonly cache: Int32Array;
  /** The same memory, for the expiry. */
  private readonly cacheF64: Float64Array;
  private readonly cacheCtx: (FlowContext | null)[];

  // The last lookup, so that two parsers asking about one packet (rtcp's
  // canHandle, then rtp's) cost one probe.
  private memoPkt: DecodedPacket | null = null;
  private memoFrame = 0;
  private memoTs = 0;
  private memoCtx: FlowContext | null = null;

  // Per-instance counters (plain numbers: only this thread writes them).
  private nLookups = 0;
  private nHits = 0;
  private nMemoHits = 0;
  private nContended = 0;
  private nDecodes = 0;

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.a = new Int32Array(sab);
    this.slots = this.a[H_SLOTS]!;
    this.capacity = this.a[H_CAPACITY]!;
    this.mask = this.slots - 1;
    this.callHashBase = HEADER_WORDS + this.slots * SLOT_WORDS;
    this.cache = new Int32Array(this.slots * CACHE_WORDS);
    this.cacheF64 = new Float64Array(this.cache.buffer);
    this.cacheCtx = new Array<FlowContext | null>(this.slots).fill(null);
  }

  /** A new, empty registry for up to `capacity` live endpoints (create it once per task). */
  static create(capacity: number): SharedFlowRegistry {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
      throw new RangeError(`flow registry capacity must be an integer in 1..${MAX_CAPACITY}, got ${capacity}`);
    }
    const slots = slotsFor(capacity);
    const sab = new SharedArrayBuffer(bytesFor(slots));
    const a = new Int32Array(sab);
    a[H_SLOTS] = slots;
    a[H_CAPACITY] = capacity;
    const t = new Float64Array([-Infinity]);
    const tw = new Int32Array(t.buffer);
    a[H_NOW_LO] = a[H_SWEPT_LO] = tw[0]!;
    a[H_NOW_HI] = a[H_SWEPT_HI] = tw[1]!;
    Atomics.store(a, H_MAGIC, MAGIC);
    return new SharedFlowRegistry(sab);
  }

  /** Maps a registry created elsewhere (pass `shared` in workerData). */
  static attach(sab: SharedArrayBuffer): SharedFlowRegistry {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < HEADER_WORDS * 4) {
      throw new TypeError('flow registry: attach() needs the SharedArrayBuffer of SharedFlowRegistry.shared');
    }
    const a = new Int32Array(sab);
    const slots = a[H_SLOTS]!;
    if (Atomics.load(a, H_MAGIC) !== MAGIC || slots < 16 || (slots & (slots - 1)) !== 0 || sab.byteLength !== bytesFor(slots)) {
      throw new TypeError('flow registry: attach() got a buffer that is not a flow registry');
    }
    return new SharedFlowRegistry(sab);
  }

  /** The shared memory, to hand to workers (workerData) for attach(). */
  get shared(): SharedArrayBuffer {
    return this.sab;
  }

  // ------------------------------------------------------------ readers

  lookup(pkt: DecodedPacket): FlowContext | null {
    const frame = pkt.frameNo;
    if (frame !== 0 && frame === this.memoFrame && pkt === this.memoPkt && pkt.tsSec === this.memoTs) {
      this.nMemoHits++;
      return this.memoCtx;
    }
    let ctx: FlowContext | null = null;
    const proto = pkt.protocol;
    const v = pkt.ipVersion;
    if ((proto === IPPROTO.UDP || proto === IPPROTO.TCP) && (v === 4 || v === 6)) {
      this.nLookups++;
      const now = pkt.tsSec + pkt.tsNsec * 1e-9;
      ctx = this.lookupEndpoint(proto, v, pkt.dstIp, pkt.dstPort, now);
      if (ctx === null) ctx = this.lookupEndpoint(proto, v, pkt.srcIp, pkt.srcPort, now);
      if (ctx !== null) this.nHits++;
    }
    this.memoPkt = pkt;
    this.memoFrame = frame;
    this.memoTs = pkt.tsSec;
    this.memoCtx = ctx;
    return ctx;
  }

  /** The context of one endpoint at packet time `nowSec`, or null (absent or expired). */
  lookupEndpoint(proto: number, ipVersion: number, ip: Uint8Array, port: number, nowSec: number): FlowContext | null {
    if (!this.setKey(proto, ipVersion, ip, port)) return null;
    // Two rounds: a generation that changes between the probe and the
    // string copy means the entry was rewritten; probe once more.
    for (let round = 0; round < 2; round++) {
      const slot = this.probe(nowSec);
      if (slot < 0) return null;
      const gen = this.foundGen;
      if (this.cache[slot * CACHE_WORDS + C_GEN] === gen) {
        const c = this.cacheCtx[slot]!;
        if (c !== null) return c;
      }
      const c = this.readContext(slot, gen);
      if (c !== null) return c;
    }
    return null;
  }

  private setKey(proto: number, ipVersion: number, ip: Uint8Array, port: number): boolean {
    if (ipVersion === 4) {
      if (ip.length < 4) return false;
      this.k1 = ipWord(ip, 0);
      this.k2 = 0;
      this.k3 = 0;
      this.k4 = 0;
    } else if (ipVersion === 6) {
      if (ip.length < 16) return false;
      this.k1 = ipWord(ip, 0);
      this.k2 = ipWord(ip, 4);
      this.k3 = ipWord(ip, 8);
      this.k4 = ipWord(ip, 12);
    } else {
      return false;
    }
    this.k0 = (port & 0xffff) | ((proto & 0xff) << 16) | ((ipVersion === 6 ? 1 : 0) << 24);
    let h = mix32(this.k0 ^ 0x9747b28c);
    h = mix32(h ^ this.k1);
    if (ipVersion === 6) {
      h = mix32(h ^ this.k2);
      h = mix32(h ^ this.k3);
      h = mix32(h ^ this.k4);
    }
    this.kh = h;
    return true;
  }

  private keyMatches(b: number): boolean {
    const a = this.a;
    return (
      Atomics.load(a, b + W_HASH) === this.kh &&
      Atomics.load(a, b + W_K0) === this.k0 &&
      Atomics.load(a, b + W_K1) === this.k1 &&
      Atomics.load(a, b + W_K2) === this.k2 &&
      Atomics.load(a, b + W_K3) === this.k3 &&
      Atomics.load(a, b + W_K4) === this.k4
    );
  }

  /** True when this instance last saw the current key in `slot`. */
  private cachedKeyIs(slot: number): boolean {
    const k = this.cache;
    const c = slot * CACHE_WORDS + C_K0;
    return k[c] === this.k0 && k[c + 1] === this.k1 && k[c + 2] === this.k2 && k[c + 3] === this.k3 && k[c + 4] === this.k4;
  }

  /**
   * For a slot whose cached key is the current one: 1 if it still holds the
   * cached generation (so the same key, live, with the cached expiry) and has
   * not expired, 0 if it has expired, -1 if it changed since it was cached.
   * One shared load: every write to a slot (key, strings, expiry, state)
   * bumps its generation, so an unchanged generation vouches for the whole
   * cached copy. A write still in progress has not bumped it yet: the answer
   * is then the slot as it was before that write, which a lookup racing a
   * register may return anyway.
   */
  private checkCached(b: number, slot: number, now: number): number {
    if (Atomics.load(this.a, b + W_GEN) !== this.cache[slot * CACHE_WORDS + C_GEN]) return -1;
    return this.cacheF64[slot * (CACHE_WORDS >> 1) + C_EXP_F64]! > now ? 1 : 0;
  }

  /**
   * Lock-free probe for the current key: the slot of its live, unexpired
   * entry (generation in foundGen), or -1.
   */
  private probe(now: number): number {
    const a = this.a;
    const mask = this.mask;
    // The probe bound is read only when the home slot is not the answer: a
    // bound read after slot 0 is at least as fresh as one read before it.
    let maxProbe = -1;
    let i = this.kh & mask;
    for (let d = 0; ; d++, i = (i + 1) & mask) {
      if (d > 0) {
        if (maxProbe < 0) maxProbe = Atomics.load(a, H_MAX_PROBE);
        if (d > maxProbe) return -1;
      }
      const b = HEADER_WORDS + i * SLOT_WORDS;
      const cachedGen = this.cache[i * CACHE_WORDS + C_GEN]!;
      if (cachedGen !== 0 && this.cachedKeyIs(i)) {
        const r = this.checkCached(b, i, now);
        if (r === 1) {
          this.foundGen = cachedGen;
          return i;
        }
        if (r === 0) return -1;
        // Changed since cached: read it in full below.
      }
      // Filter without the seqlock: an empty slot ends every probe sequence
      // (the key is absent), and a mismatch needs no validation, since a slot
      // can only turn into this key through a register() not yet returned.
      const st0 = Atomics.load(a, b + W_STATE);
      if (st0 === EMPTY) return -1;
      if (st0 !== LIVE || Atomics.load(a, b + W_HASH) !== this.kh) continue;
      for (let tries = 0; ; tries++) {
        if (tries > MAX_RETRIES) {
          this.nContended++;
          break;
        }
        const v1 = Atomics.load(a, b + W_SEQ);
        if ((v1 & 1) !== 0) continue;
        const st = Atomics.load(a, b + W_STATE);
        if (st === EMPTY) return -1;
        if (st !== LIVE || !this.keyMatches(b)) break;
        const lo = Atomics.load(a, b + W_EXP_LO);
        const hi = Atomics.load(a, b + W_EXP_HI);
        const gen = Atomics.load(a, b + W_GEN);
        if (Atomics.load(a, b + W_SEQ) !== v1) continue;
        this.f64w[0] = lo;
        this.f64w[1] = hi;
        // Keys are unique in the table: an expired entry means absent.
        if (!(this.f64[0]! > now)) return -1;
        this.foundGen = gen;
        return i;
      }
    }
  }

  /** Decodes the strings of `slot` if it still holds generation `gen`; fills the cache. */
  private readContext(slot: number, gen: number): FlowContext | null {
    const a = this.a;
    const b = HEADER_WORDS + slot * SLOT_WORDS;
    for (let tries = 0; tries <= MAX_RETRIES; tries++) {
      const v1 = Atomics.load(a, b + W_SEQ);
      if ((v1 & 1) !== 0) continue;
      if (Atomics.load(a, b + W_STATE) !== LIVE || Atomics.load(a, b + W_GEN) !== gen) return null;
      const kind = Atomics.load(a, b + W_KIND);
      const expLo = Atomics.load(a, b + W_EXP_LO);
      const expHi = Atomics.load(a, b + W_EXP_HI);
      const k0 = Atomics.load(a, b + W_K0);
      const k1 = Atomics.load(a, b + W_K1);
      const k2 = Atomics.load(a, b + W_K2);
      const k3 = Atomics.load(a, b + W_K3);
      const k4 = Atomics.load(a, b + W_K4);
      // The first word carries the length byte: read it, then the words the string uses.
      this.rCallW[0] = Atomics.load(a, b + W_CALL);
      for (let w = 1, n = Math.min(usedWords(this.rCallB[0]!), CALL_WORDS); w < n; w++) this.rCallW[w] = Atomics.load(a, b + W_CALL + w);
      this.rCodecW[0] = Atomics.load(a, b + W_CODEC);
      for (let w = 1, n = Math.min(usedWords(this.rCodecB[0]!), CODEC_WORDS); w < n; w++) this.rCodecW[w] = Atomics.load(a, b + W_CODEC + w);
      if (Atomics.load(a, b + W_SEQ) !== v1) continue;
      const c = slot * CACHE_WORDS;
      const ck = this.cache;
      ck[c + C_K0] = k0;
      ck[c + C_K0 + 1] = k1;
      ck[c + C_K0 + 2] = k2;
      ck[c + C_K0 + 3] = k3;
      ck[c + C_K0 + 4] = k4;
      const callLen = Math.min(this.rCallB[0]!, MAX_CALL_ID_BYTES);
      const codecLen = Math.min(this.rCodecB[0]!, MAX_CODEC_BYTES);
      const ctx: FlowContext = Object.freeze({
        callId: decoder.decode(this.rCallB.subarray(1, 1 + callLen)),
        codec: decoder.decode(this.rCodecB.subarray(1, 1 + codecLen)),
        kind: (kind === KIND_RTCP ? 'rtcp' : 'rtp') as MediaKind,
      });
      this.nDecodes++;
      ck[c + 2 * C_EXP_F64] = expLo;
      ck[c + 2 * C_EXP_F64 + 1] = expHi;
      ck[c + C_GEN] = gen;
      this.cacheCtx[slot] = ctx;
      return ctx;
    }
    this.nContended++;
    return null;
  }

  /**
   * Live entries: occupied slots whose expiry is after the latest time any
   * register() was given (expired entries leave lazily, hence the scan).
   */
  size(): number {
    const a = this.a;
    const now = this.readF64(H_NOW_LO);
    let n = 0;
    for (let i = 0; i < this.slots; i++) {
      const b = HEADER_WORDS + i * SLOT_WORDS;
      if (Atomics.load(a, b + W_STATE) === LIVE && this.readF64(b + W_EXP_LO) > now) n++;
    }
    return n;
  }

  // ------------------------------------------------------------ writers
  //
  // Every write to the table is made by the lock holder, and the lock's
  // atomic acquire and release order one holder's writes before the next
  // holder's reads. So a lock holder reads with plain loads (no race, and a
  // scan of the whole table costs microseconds, not an Atomics call per
  // word); its stores stay atomic because readers load concurrently.

  register(proto: number, ipVersion: number, ip: Uint8Array, port: number, ctx: FlowContext, ttlSec: number, nowSec: number): void {
    this.memoPkt = null;
    if (!Number.isFinite(nowSec) || Number.isNaN(ttlSec)) return this.countInvalid();
    if (!(ttlSec > 0)) {
      this.unregister(proto, ipVersion, ip, port);
      return;
    }
    if (!this.setKey(proto, ipVersion, ip, port) || !(port >= 0 && port <= 0xffff)) return this.countInvalid();
    const kind = ctx.kind === 'rtcp' ? KIND_RTCP : KIND_RTP;
    const callCut = this.encode(ctx.callId, this.callB, MAX_CALL_ID_BYTES);
    const codecCut = this.encode(ctx.codec, this.codecB, MAX_CODEC_BYTES);
    const expiry = nowSec + ttlSec;
    const a = this.a;
    this.lock();
    try {
      if (callCut) Atomics.add(a, SC.truncated_call_id, 1);
      if (codecCut) Atomics.add(a, SC.truncated_codec, 1);
      if (nowSec > this.readF64Locked(H_NOW_LO)) this.writeF64(H_NOW_LO, nowSec);

      let slot = this.findForWrite(nowSec);
      if (slot >= 0 && this.isKeyAt(slot)) {
        const b = HEADER_WORDS + slot * SLOT_WORDS;
        const same = a[b + W_KIND]! === kind && this.stringsEqual(b);
        Atomics.add(a, b + W_SEQ, 1);
        this.writeF64(b + W_EXP_LO, expiry);
        // A refresh bumps the generation too: readers' caches hold the expiry.
        if (same) this.bumpGen(b);
        else this.writeContent(slot, b, kind);
        Atomics.add(a, b + W_SEQ, 1);
        Atomics.add(a, same ? SC.refreshed : SC.updated, 1);
        return;
      }
      // An expired entry in the key's own probe sequence is simply replaced.
      const reusesExpired = slot >= 0 && a[HEADER_WORDS + slot * SLOT_WORDS + W_STATE]! === LIVE;
      if (!reusesExpired && a[H_OCCUPIED]! >= this.capacity) {
        // Full: expired entries go first; only a table full of live ones
        // refuses. At most one sweep per second of packet time: a table full
        // of live entries would otherwise be scanned for every refusal.
        this.sweepOnce(nowSec, 1);
        if (a[H_OCCUPIED]! >= this.capacity) {
          Atomics.add(a, SC.refused_full, 1);
          return;
        }
        slot = this.findForWrite(nowSec);
      }
      if (slot < 0) {
        Atomics.add(a, SC.refused_full, 1);
        return;
      }
      const b = HEADER_WORDS + slot * SLOT_WORDS;
      const st = a[b + W_STATE]!;
      const dist = (slot - (this.kh & this.mask)) & this.mask;
      // Publish the wider probe bound before the entry, so that no reader
      // can see the entry yet stop probing short of it.
      if (dist > a[H_MAX_PROBE]!) Atomics.store(a, H_MAX_PROBE, dist);
      Atomics.add(a, b + W_SEQ, 1);
      Atomics.store(a, b + W_HASH, this.kh);
      Atomics.store(a, b + W_K0, this.k0);
      Atomics.store(a, b + W_K1, this.k1);
      Atomics.store(a, b + W_K2, this.k2);
      Atomics.store(a, b + W_K3, this.k3);
      Atomics.store(a, b + W_K4, this.k4);
      this.writeF64(b + W_EXP_LO, expiry);
      this.writeContent(slot, b, kind);
      Atomics.store(a, b + W_STATE, LIVE);
      Atomics.add(a, b + W_SEQ, 1);
      if (st === LIVE) {
        Atomics.add(a, SC.expired_reclaimed, 1);
      } else {
        Atomics.add(a, H_OCCUPIED, 1);
        if (st === TOMB) Atomics.sub(a, H_TOMBSTONES, 1);
      }
      Atomics.add(a, SC.inserted, 1);
      // Keep tombstones from lengthening probes indefinitely, at an amortised
      // cost: a sweep scans the whole table and cannot clear tombstones that
      // live entries follow, so with many calls live it may leave more than
      // the threshold behind; sweeping again on the next insert would then
      // scan the table per call set up (measured: 16K SIP messages/s instead
      // of 65-86K with 30,000 live endpoints in the default 65,536). So at most
      // one such sweep per slots/8 inserts: 8 slot visits per insert, and the
      // tombstones are reused by inserts meanwhile.
      if (a[H_TOMBSTONES]! > this.slots >>> 2 && ((a[SC.inserted]! - a[H_TOMB_SWEEP_AT]!) | 0) >= this.slots >>> 3) {
        a[H_TOMB_SWEEP_AT] = a[SC.inserted]!;
        this.sweepOnce(nowSec);
      }
    } finally {
      this.unlock();
    }
  }

  unregister(proto: number, ipVersion: number, ip: Uint8Array, port: number): void {
    this.memoPkt = null;
    if (!this.setKey(proto, ipVersion, ip, port)) return this.countInvalid();
    this.lock();
    try {
      const slot = this.findForWrite(-Infinity);
      if (slot >= 0 && this.isKeyAt(slot)) {
        this.removeAt(slot);
        Atomics.add(this.a, SC.unregistered, 1);
        this.clearTombstoneRun(slot);
      }
    } finally {
      this.unlock();
    }
  }

  unregisterCall(callId: string): number {
    this.memoPkt = null;
    this.encode(callId, this.callB, MAX_CALL_ID_BYTES);
    const a = this.a;
    const words = (this.callB[0]! + 1 + 3) >>> 2;
    const h = this.callHash();
    const hb = this.callHashBase;
    let removed = 0;
    this.lock();
    try {
      for (let i = 0; i < this.slots; i++) {
        if (a[hb + i] !== h) continue;
        const b = HEADER_WORDS + i * SLOT_WORDS;
        if (a[b + W_STATE]! !== LIVE) continue;
        let w = 0;
        while (w < words && a[b + W_CALL + w]! === this.callW[w]) w++;
        if (w < words) continue;
        this.removeAt(i);
        removed++;
        // In slot order, so a later removal's run clearing also covers an earlier one's.
        this.clearTombstoneRun(i);
      }
      if (removed > 0) Atomics.add(a, SC.unregistered, removed);
    } finally {
      this.unlock();
    }
    return removed;
  }

  /**
   * Counters: table-wide (shared by every worker) and this instance's own
   * lookups. `slots` is the table size, `occupied` includes expired entries
   * not reclaimed yet, `max_probe` bounds every miss.
   */
  stats(): FlowRegistryStats {
    const a = this.a;
    const s: FlowRegistryStats = {
      capacity: this.capacity,
      slots: this.slots,
      occupied: Atomics.load(a, H_OCCUPIED),
      tombstones: Atomics.load(a, H_TOMBSTONES),
      max_probe: Atomics.load(a, H_MAX_PROBE),
    };
    for (const n of SHARED_COUNTERS) s[n] = Atomics.load(a, SC[n]) >>> 0;
    s.lookups = this.nLookups;
    s.hits = this.nHits;
    s.memo_hits = this.nMemoHits;
    s.contended = this.nContended;
    s.context_decodes = this.nDecodes;
    return s;
  }

  // ------------------------------------------------------------ writer internals (lock held)

  /**
   * The slot holding the current key (expired or not), else the first slot
   * a new entry may take (tombstone, entry expired at `now`, or the empty
   * slot that ends the probe sequence), else -1 (no room at all).
   */
  private findForWrite(now: number): number {
    const a = this.a;
    const mask = this.mask;
    const maxProbe = a[H_MAX_PROBE]!;
    let free = -1;
    let i = this.kh & mask;
    for (let d = 0; d < this.slots; d++, i = (i + 1) & mask) {
      const b = HEADER_WORDS + i * SLOT_WORDS;
      const st = a[b + W_STATE]!;
      if (st === EMPTY) return free >= 0 ? free : i;
      if (st === LIVE && this.keyMatchesLocked(b)) return i;
      if (free < 0 && (st === TOMB || !(this.readF64Locked(b + W_EXP_LO) > now))) free = i;
      // Past the probe bound no entry of this key can exist.
      if (d >= maxProbe && free >= 0) return free;
    }
    return free;
  }

  private isKeyAt(slot: number): boolean {
    const b = HEADER_WORDS + slot * SLOT_WORDS;
    return this.a[b + W_STATE]! === LIVE && this.keyMatchesLocked(b);
  }

  private stringsEqual(b: number): boolean {
    const a = this.a;
    // Only the words that hold the length byte and the string: the rest of a
    // slot may keep bytes of a longer earlier string, which nothing reads.
    const cw = usedWords(this.callB[0]!);
    for (let w = 0; w < cw; w++) if (a[b + W_CALL + w]! !== this.callW[w]) return false;
    const kw = usedWords(this.codecB[0]!);
    for (let w = 0; w < kw; w++) if (a[b + W_CODEC + w]! !== this.codecW[w]) return false;
    return true;
  }

  /** Hash of the encoded call-id in callW, never 0 (0 marks a slot without a live entry). */
  private callHash(): number {
    const words = (this.callB[0]! + 1 + 3) >>> 2;
    let h = 0x2545f491;
    for (let w = 0; w < words; w++) h = mix32(h ^ this.callW[w]!);
    return h | 1;
  }

  /** Writes kind and strings and bumps the generation (seqlock already odd). */
  private writeContent(slot: number, b: number, kind: number): void {
    const a = this.a;
    Atomics.store(a, this.callHashBase + slot, this.callHash());
    Atomics.store(a, b + W_KIND, kind);
    // Plain stores: every caller holds the lock and has made the slot's
    // sequence odd, and publishes with an atomic increment afterwards; a
    // reader that overlaps sees the sequence change and reads again.
    const cw = usedWords(this.callB[0]!);
    for (let w = 0; w < cw; w++) a[b + W_CALL + w] = this.callW[w]!;
    const kw = usedWords(this.codecB[0]!);
    for (let w = 0; w < kw; w++) a[b + W_CODEC + w] = this.codecW[w]!;
    this.bumpGen(b);
  }

  /** Generations skip 0, which the per-instance cache uses for "nothing cached". */
  private bumpGen(b: number): void {
    const g = (this.a[b + W_GEN]! + 1) | 0;
    Atomics.store(this.a, b + W_GEN, g === 0 ? 1 : g);
  }

  private removeAt(slot: number): void {
    const a = this.a;
    const b = HEADER_WORDS + slot * SLOT_WORDS;
    Atomics.add(a, b + W_SEQ, 1);
    Atomics.store(a, b + W_STATE, TOMB);
    Atomics.store(a, this.callHashBase + slot, 0);
    this.bumpGen(b);
    Atomics.add(a, b + W_SEQ, 1);
    Atomics.sub(a, H_OCCUPIED, 1);
    Atomics.add(a, H_TOMBSTONES, 1);
  }

  /** If the slot after `slot` is empty, turns the tombstone run ending at `slot` into empty slots. */
  private clearTombstoneRun(slot: number): void {
    const a = this.a;
    const mask = this.mask;
    if (a[HEADER_WORDS + ((slot + 1) & mask) * SLOT_WORDS + W_STATE] !== EMPTY) return;
    let i = slot;
    for (let n = 0; n < this.slots; n++, i = (i - 1) & mask) {
      const b = HEADER_WORDS + i * SLOT_WORDS;
      if (a[b + W_STATE]! !== TOMB) break;
      Atomics.store(a, b + W_STATE, EMPTY);
      Atomics.sub(a, H_TOMBSTONES, 1);
    }
  }

  private clearAllTombstoneRuns(): void {
    const a = this.a;
    for (let i = 0; i < this.slots; i++) {
      if (a[HEADER_WORDS + i * SLOT_WORDS + W_STATE]! === TOMB) this.clearTombstoneRun(i);
    }
  }

  /**
   * Reclaims entries expired at `now`, clears tombstone runs and lowers the
   * probe bound to the longest distance still in use (safe: no entry can be
   * inserted meanwhile, and a reader holding the old, larger bound only
   * probes further). Returns how many entries it reclaimed.
   */
  private sweep(now: number): number {
    const a = this.a;
    let reclaimed = 0;
    for (let i = 0; i < this.slots; i++) {
      const b = HEADER_WORDS + i * SLOT_WORDS;
      if (a[b + W_STATE]! === LIVE && !(this.readF64Locked(b + W_EXP_LO) > now)) {
        this.removeAt(i);
        reclaimed++;
      }
    }
    this.clearAllTombstoneRuns();
    let maxProbe = 0;
    for (let i = 0; i < this.slots; i++) {
      const b = HEADER_WORDS + i * SLOT_WORDS;
      if (a[b + W_STATE]! !== LIVE) continue;
      const d = (i - (a[b + W_HASH]! & this.mask)) & this.mask;
      if (d > maxProbe) maxProbe = d;
    }
    Atomics.store(a, H_MAX_PROBE, maxProbe);
    Atomics.add(a, SC.expired_reclaimed, reclaimed);
    Atomics.add(a, SC.sweeps, 1);
    return reclaimed;
  }

  /**
   * Sweeps unless a sweep already ran at this packet time or later (or less
   * than `minGapSec` before it): entries
   * registered since then expire after it, so a second sweep at the same
   * time would reclaim nothing, and a full table would pay a scan per refusal.
   */
  private sweepOnce(now: number, minGapSec = 0): void {
    const last = this.readF64Locked(H_SWEPT_LO);
    if (!(now > last) || now - last < minGapSec) return;
    this.writeF64(H_SWEPT_LO, now);
    this.sweep(now);
  }

  /**
   * Encodes `s` as a length byte and UTF-8 into `out`, cut at `max` bytes
   * (on a character boundary); true when it was cut. Only the words the
   * result uses are meaningful (usedWords); their padding bytes are zero.
   */
  private encode(s: string, out: Uint8Array, max: number): boolean {
    const n = s.length;
    if (n <= max) {
      // Call-ids and codec names are ASCII in practice: copy them directly.
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        out[1 + i] = c;
      }
      if (i === n) {
        out[0] = n;
        for (let j = n + 1, end = usedWords(n) << 2; j < end; j++) out[j] = 0;
        return false;
      }
    }
    out.fill(0);
    const r = encoder.encodeInto(s, out.subarray(1, 1 + max));
    out[0] = r.written;
    return r.read < s.length;
  }

  private readF64(w: number): number {
    this.f64w[0] = this.a[w]!;
    this.f64w[1] = this.a[w + 1]!;
    return this.f64[0]!;
  }

  private readF64Locked(w: number): number {
    this.f64w[0] = this.a[w]!;
    this.f64w[1] = this.a[w + 1]!;
    return this.f64[0]!;
  }

  private keyMatchesLocked(b: number): boolean {
    const a = this.a;
    return a[b + W_HASH] === this.kh && a[b + W_K0] === this.k0 && a[b + W_K1] === this.k1 && a[b + W_K2] === this.k2 && a[b + W_K3] === this.k3 && a[b + W_K4] === this.k4;
  }

  private writeF64(w: number, v: number): void {
    this.f64[0] = v;
    Atomics.store(this.a, w, this.f64w[0]!);
    Atomics.store(this.a, w + 1, this.f64w[1]!);
  }

  private countInvalid(): void {
    Atomics.add(this.a, SC.invalid, 1);
  }

  // Futex-style mutex (0 free, 1 held, 2 held with waiters): uncontended
  // lock/unlock is one CAS and one atomic subtract.
  private lock(): void {
    const a = this.a;
    let c = Atomics.compareExchange(a, H_LOCK, 0, 1);
    if (c === 0) return;
    for (let i = 0; i < LOCK_SPINS; i++) {
      if (Atomics.load(a, H_LOCK) === 0 && Atomics.compareExchange(a, H_LOCK, 0, 1) === 0) return;
    }
    if (c !== 2) c = Atomics.exchange(a, H_LOCK, 2);
    while (c !== 0) {
      Atomics.wait(a, H_LOCK, 2);
      c = Atomics.exchange(a, H_LOCK, 2);
    }
  }

  private unlock(): void {
    const a = this.a;
    if (Atomics.sub(a, H_LOCK, 1) !== 1) {
      Atomics.store(a, H_LOCK, 0);
      Atomics.notify(a, H_LOCK, 1);
    }
  }
}
