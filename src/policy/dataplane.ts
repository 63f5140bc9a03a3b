// The kernel side of one policy dataplane, as the control plane sees it: the
// loaded BPF object (bpf/policy.bpf.c), its maps, its TC attachments and its
// ring buffer. Everything here is synchronous FFI through libbpf; the
// PolicyService above it adds rules, persistence and the daemon's plumbing.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OtusError } from '../core/errors.ts';
import { NativeError, canWatchOnLoop, close, ifNameToIndex, interfaceHwType, socket, SOCK_CLOEXEC, watchReadable, type PollHandle } from '../native/libc.ts';
import * as bpf from '../native/libbpf.ts';
import { BITMAP_BYTES, type Bitmap, type CompiledSet, type PortDimension } from './compile.ts';
import {
  CFG_BYTES,
  EVENT_BYTES,
  LPM_KEY_BYTES,
  MAP_LAYOUT,
  SESS_KEY_BYTES,
  SESS_VAL_BYTES,
  STATS_BYTES,
  STATS_FIELDS,
  cfgWord,
  decodeEvent,
  decodeSession,
  type DecodedEvent,
  type DecodedSession,
  type PolicyStats,
} from './layout.ts';
import { MAX_RULES } from './rules.ts';

export type Direction = 'ingress' | 'egress';
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
const POINT: Record<Direction, number> = { ingress: bpf.BPF_TC_INGRESS, egress: bpf.BPF_TC_EGRESS };
const PROGRAM: Record<Direction, string> = { ingress: 'otus_policy_ingress', egress: 'otus_policy_egress' };
/**
 * Link types whose frames start with an Ethernet header at TC, which is what
 * the program parses: ARPHRD_ETHER (Ethernet, veth, bridges, bonds, VLAN
 * devices) and ARPHRD_LOOPBACK (lo carries a zeroed Ethernet header). On any
 * other (a tun or WireGuard device, an IP-in-IP or GRE tunnel) the packet
 * starts at its IP header, the program would find no IPv4 frame in it and
 * let everything pass: the rules would silently not apply.
 */
const ETHERNET_FRAMED = new Map([
  [1, 'ARPHRD_ETHER'],
  [772, 'ARPHRD_LOOPBACK'],
]);

/** The ARPHRD_* type of `ifname`, in the calling thread's network namespace. */
function linkTypeOf(ifname: string): number {
  const fd = socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */ | SOCK_CLOEXEC, 0);
  try {
    return interfaceHwType(fd, ifname);
  } finally {
    close(fd);
  }
}

/** Where our filter sits on the clsact hook: fixed, so a restart finds (and replaces) its own. */
export const TC_HANDLE = 0x0f75;
export const TC_PRIORITY = 0x0f75;

export interface DataplaneOptions {
  /** The compiled object; default: dist/bpf/policy.bpf.o (scripts/build-bpf.sh). */
  objectPath?: string;
  /** Capacity of the sessions LRU hash. */
  sessionsMax: number;
  /** Bytes of the events ring buffer (a power of two, at least a page). */
  ringBufferBytes: number;
  /** Emit an event for every new allowed session too (deny and log sessions always report). */
  eventsNewSession: boolean;
  /** Minimum interval between two DENY or LOG events of one session. */
  eventIntervalMs: number;
}

export interface Attachment {
  interface: string;
  ifindex: number;
  direction: Direction;
  progId: number;
  /** The interface's clsact qdisc is ours: created by this dataplane, or by a run of ours that died (attach's `qdiscCreatedIfindex`). */
  ownQdisc: boolean;
}

export function defaultObjectPath(): string {
  // dist/src/policy/x.js -> dist/bpf; src/policy/x.ts (run from source) -> dist/bpf too.
  const candidates = [new URL('../../bpf/policy.bpf.o', import.meta.url), new URL('../../dist/bpf/policy.bpf.o', import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

/** Turns the errnos of loading into what an operator can act on. */
function explain(e: unknown, what: string): OtusError {
  if (e instanceof NativeError) {
    if (e.errno === 1 || e.errno === 13) {
      return new OtusError(`${what}: ${e.message}: eBPF needs root, or CAP_BPF with CAP_NET_ADMIN and CAP_PERFMON`, 'EBPF_UNAVAILABLE');
    }
    if (e.errno === 38 || e.errno === 95) return new OtusError(`${what}: ${e.message}: this kernel does not support what the policy program needs (eBPF, TC clsact)`, 'EBPF_UNAVAILABLE');
    return new OtusError(`${what}: ${e.message}`, 'EBPF_ERROR');
  }
  return e instanceof OtusError ? e : new OtusError(`${what}: ${(e as Error).message}`, 'EBPF_ERROR');
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

function bitmapBytes(b: Bitmap): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, BITMAP_BYTES);
}

interface SlotKeys {
  src: Buffer[];
  dst: Buffer[];
  proto: number[];
  sport: number[];
  dport: number[];
}

export class PolicyDataplane {
  private readonly fds: Record<string, number> = {};
  private readonly progFds: Record<Direction, number>;
  private readonly attached = new Map<string, Attachment>();
  /** ifindex -> we created its clsact qdisc (and remove it once our last filter is gone). */
  private readonly ownQdisc = new Map<number, boolean>();
  private readonly slotKeys: [SlotKeys | null, SlotKeys | null] = [null, null];
  private generation = 0;
  private rb: bpf.RingBuffer | null = null;
  private rbWatch: PollHandle | null = null;
  private rbTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** The slot the last flip left behind, emptied a moment later (off the publish call). */
  private pendingClear: NodeJS.Timeout | null = null;
  private pendingSlot = -1;
  readonly ncpus: number;
  readonly sessionsMax: number;

  private constructor(
    private readonly obj: bpf.Ptr,
    private readonly o: DataplaneOptions,
  ) {
    this.ncpus = bpf.possibleCpus();
    this.sessionsMax = o.sessionsMax;
    for (const name of [...Object.keys(MAP_LAYOUT), 'events']) this.fds[name] = bpf.mapFd(bpf.findMap(obj, name).ptr, name);
    this.progFds = { ingress: bpf.programFd(obj, PROGRAM.ingress), egress: bpf.programFd(obj, PROGRAM.egress) };
    this.writeCfg(0, 0, 0);
  }

  /** Opens, sizes and loads the object; throws EBPF_UNAVAILABLE with the reason when this machine cannot. */
  static open(o: DataplaneOptions): PolicyDataplane {
    const path = o.objectPath ?? defaultObjectPath();
    try {
      bpf.ensureLibbpf();
    } catch (e) {
      throw explain(e, 'policy dataplane');
    }
    if (!existsSync(path)) {
      throw new OtusError(`policy dataplane: BPF object ${path} is missing (run scripts/build-bpf.sh, which needs clang and libbpf-dev)`, 'EBPF_UNAVAILABLE');
    }
    let obj: bpf.Ptr;
    try {
      obj = bpf.openObject(path);
    } catch (e) {
      throw explain(e, `policy dataplane: cannot open ${path}`);
    }
    try {
      for (const [name, [k, v]] of Object.entries(MAP_LAYOUT)) {
        const m = bpf.findMap(obj, name);
        if (m.keySize !== k || m.valueSize !== v) {
          throw new OtusError(`policy dataplane: ${path} does not match this control plane (map ${name}: key/value ${m.keySize}/${m.valueSize} bytes, expected ${k}/${v}); rebuild it with scripts/build-bpf.sh`, 'EBPF_UNAVAILABLE');
        }
      }
      bpf.setMaxEntries(bpf.findMap(obj, 'sessions').ptr, o.sessionsMax, 'sessions');
      bpf.setMaxEntries(bpf.findMap(obj, 'events').ptr, o.ringBufferBytes, 'events');
      bpf.loadObject(obj);
      return new PolicyDataplane(obj, o);
    } catch (e) {
      bpf.closeObject(obj);
      throw explain(e, 'policy dataplane: cannot load the BPF program');
    }
  }

  get gen(): number {
    return this.generation;
  }

  private writeCfg(nwords: number, defaultAction: number, gen: number): void {
    const b = Buffer.alloc(CFG_BYTES);
    b.writeBigUInt64LE(cfgWord(gen, nwords, defaultAction, this.o.eventsNewSession ? 1 : 0), 0);
    b.writeBigUInt64LE(BigInt(Math.round(this.o.eventIntervalMs * 1e6)), 8);
    bpf.mapUpdate(this.fds['cfg']!, u32(0), b, 'bpf_map_update_elem(cfg)');
  }

  /**
   * Publishes a compiled set: fills the inactive slot, then flips the config
   * word. Packets see the old set or the new one, never a mixture; every
   * session is decided again at its next packet. Returns the new generation.
   */
  publish(set: CompiledSet, defaultAction: number): number {
    this.assertOpen();
    if (set.rules.length > MAX_RULES) throw new OtusError(`at most ${MAX_RULES} rules`);
    const gen = this.generation + 1;
    const slot = gen & 1;
    this.flushClear();
    this.clearSlot(slot);
    const keys: SlotKeys = { src: [], dst: [], proto: [], sport: [], dport: [] };
    this.slotKeys[slot] = keys;
    for (const [dim, entries] of [['src', set.src], ['dst', set.dst]] as const) {
      const fd = this.fds[`${dim}_lpm`]!;
      for (const e of entries) {
        const k = Buffer.alloc(LPM_KEY_BYTES);
        k.writeUInt32LE(32 + e.len, 0);
        k.writeUInt32LE(slot, 4);
        k.writeUInt32BE(e.addr, 8); // the program compares network-order bytes
        bpf.mapUpdate(fd, k, bitmapBytes(e.bits), `bpf_map_update_elem(${dim}_lpm)`);
        keys[dim].push(k);
      }
    }
    this.writeHash('proto_bm', set.proto.map((p) => (slot << 16) | p.key), set.proto.map((p) => p.bits));
    keys.proto = set.proto.map((p) => (slot << 16) | p.key);
    for (const dim of ['sport', 'dport'] as const) {
      const d: PortDimension = set[dim];
      const idx = new Uint32Array(65536);
      for (let p = 0; p < 65536; p++) idx[p] = slot * 65536 + p;
      bpf.mapUpdateBatch(this.fds[`${dim}_cls`]!, Buffer.from(idx.buffer), Buffer.from(d.classOf.buffer, d.classOf.byteOffset, d.classOf.byteLength), 65536, `bpf_map_update_batch(${dim}_cls)`);
      const k = d.bits.map((_, c) => (slot << 16) | c);
      this.writeHash(`${dim}_bm`, k, d.bits);
      keys[dim] = k;
    }
    if (set.rules.length) {
      const n = set.rules.length;
      const ki = new Uint32Array(n);
      const va = new Uint32Array(n);
      set.rules.forEach((r, i) => {
        ki[i] = slot * MAX_RULES + i;
        va[i] = r.action;
      });
      bpf.mapUpdateBatch(this.fds['rule_act']!, Buffer.from(ki.buffer), Buffer.from(va.buffer), n, 'bpf_map_update_batch(rule_act)');
    }
    this.writeCfg(set.nwords, defaultAction, gen);
    this.generation = gen;
    // The old slot is garbage now; programs already past the flip finish within
    // microseconds (RCU), so it is emptied shortly after, not during this call.
    this.pendingSlot = slot ^ 1;
    this.pendingClear = setTimeout(() => this.flushClear(), 50);
    this.pendingClear.unref();
    return gen;
  }

  private flushClear(): void {
    if (this.pendingClear) clearTimeout(this.pendingClear);
    this.pendingClear = null;
    if (this.pendingSlot >= 0 && !this.closed) this.clearSlot(this.pendingSlot);
    this.pendingSlot = -1;
  }

  private writeHash(map: string, keys: number[], values: Bitmap[]): void {
    if (!keys.length) return;
    const k = Buffer.from(Uint32Array.from(keys).buffer);
    const v = Buffer.alloc(keys.length * BITMAP_BYTES);
    values.forEach((b, i) => v.set(new Uint8Array(b.buffer, b.byteOffset, BITMAP_BYTES), i * BITMAP_BYTES));
    bpf.mapUpdateBatch(this.fds[map]!, k, v, keys.length, `bpf_map_update_batch(${map})`);
  }

  /** Removes what a previous publish left in `slot` (inactive since the last flip). */
  private clearSlot(slot: number): void {
    const old = this.slotKeys[slot];
    if (!old) return;
    for (const k of old.src) bpf.mapDelete(this.fds['src_lpm']!, k);
    for (const k of old.dst) bpf.mapDelete(this.fds['dst_lpm']!, k);
    for (const [map, list] of [['proto_bm', old.proto], ['sport_bm', old.sport], ['dport_bm', old.dport]] as const) {
      if (list.length) bpf.mapDeleteBatch(this.fds[map]!, Buffer.from(Uint32Array.from(list).buffer), list.length);
    }
    this.slotKeys[slot] = null;
  }

  // --- TC ----------------------------------------------------------------------

  /**
   * Attaches the program to `ifname` in the calling thread's network
   * namespace. Our filter has a fixed handle and priority and replaces one
   * left there by an earlier run (TC filters outlive the process that set
   * them), so a restart never stacks two programs.
   */
  attach(ifname: string, direction: Direction, o: { qdiscCreatedIfindex?: number } = {}): Attachment {
    this.assertOpen();
    const key = `${ifname}/${direction}`;
    const have = this.attached.get(key);
    if (have) return have;
    const ifindex = ifNameToIndex(ifname);
    if (!ifindex) throw new OtusError(`interface ${ifname}: no such interface`, 'NO_SUCH_INTERFACE');
    const linkType = linkTypeOf(ifname);
    if (!ETHERNET_FRAMED.has(linkType)) {
      throw new OtusError(
        `interface ${ifname}: link type ${linkType} has no Ethernet header; the policy program reads Ethernet frames ` +
          `(${[...ETHERNET_FRAMED.values()].join(', ')}), so its rules would not apply here`,
        'UNSUPPORTED_LINK',
      );
    }
    try {
      if (!this.ownQdisc.has(ifindex)) {
        // An existing qdisc is someone else's, unless an earlier run of ours
        // created it on this very interface (same ifindex) and died before
        // removing it.
        this.ownQdisc.set(ifindex, bpf.tcHookCreate(ifindex) || o.qdiscCreatedIfindex === ifindex);
      }
      bpf.tcDetach(ifindex, POINT[direction], TC_HANDLE, TC_PRIORITY); // a stale one of ours, if any
      const progId = bpf.tcAttach(ifindex, POINT[direction], this.progFds[direction], TC_HANDLE, TC_PRIORITY);
      const a: Attachment = { interface: ifname, ifindex, direction, progId, ownQdisc: this.ownQdisc.get(ifindex) === true };
      this.attached.set(key, a);
      return a;
    } catch (e) {
      this.dropQdiscIfUnused(ifindex);
      throw explain(e, `attach to ${ifname} ${direction}`);
    }
  }

  /** Removes our filter; the clsact qdisc too when we created it and nothing of ours is left on it. */
  detach(ifname: string, direction: Direction): boolean {
    const key = `${ifname}/${direction}`;
    const a = this.attached.get(key);
    if (!a) return false;
    try {
      bpf.tcDetach(a.ifindex, POINT[direction], TC_HANDLE, TC_PRIORITY);
    } catch (e) {
      // The interface may be gone, and its filters with it.
      if (!(e instanceof NativeError && (e.errno === 19 || e.errno === 6))) throw explain(e, `detach from ${ifname} ${direction}`);
    }
    this.attached.delete(key);
    this.dropQdiscIfUnused(a.ifindex);
    return true;
  }

  private dropQdiscIfUnused(ifindex: number): void {
    if ([...this.attached.values()].some((x) => x.ifindex === ifindex)) return;
    const own = this.ownQdisc.get(ifindex);
    this.ownQdisc.delete(ifindex);
    if (own) {
      try {
        bpf.tcHookDestroy(ifindex);
      } catch {
        // The interface is gone.
      }
    }
  }

  attachments(): Attachment[] {
    return [...this.attached.values()];
  }

  // --- figures -----------------------------------------------------------------

  /** Per-CPU counters, summed. */
  stats(): PolicyStats {
    this.assertOpen();
    const b = Buffer.alloc(this.ncpus * STATS_BYTES);
    const out = Object.fromEntries(STATS_FIELDS.map((f) => [f, 0])) as PolicyStats;
    if (!bpf.mapLookup(this.fds['stats']!, u32(0), b)) return out;
    for (let c = 0; c < this.ncpus; c++) {
      STATS_FIELDS.forEach((f, i) => (out[f] += Number(b.readBigUInt64LE(c * STATS_BYTES + i * 8))));
    }
    return out;
  }

  /** Every session in the table (batched: a few syscalls per thousands of entries). */
  sessions(): DecodedSession[] {
    this.assertOpen();
    const fd = this.fds['sessions']!;
    const chunk = 4096;
    const keys = Buffer.alloc(chunk * SESS_KEY_BYTES);
    const vals = Buffer.alloc(chunk * SESS_VAL_BYTES);
    const out: DecodedSession[] = [];
    let inCursor: Buffer | null = null;
    for (;;) {
      const outCursor = Buffer.alloc(SESS_KEY_BYTES);
      const r = bpf.mapLookupBatch(fd, inCursor, outCursor, keys, vals, chunk);
      for (let i = 0; i < r.count; i++) out.push(decodeSession(keys, i * SESS_KEY_BYTES, vals, i * SESS_VAL_BYTES));
      if (!r.more) break;
      inCursor = outCursor;
    }
    return out;
  }

  /** Runs one direction's program over `packet` `repeat` times in the kernel (BPF_PROG_TEST_RUN). */
  testRun(direction: Direction, packet: Uint8Array, repeat: number): bpf.TestRunResult {
    this.assertOpen();
    return bpf.testRun(this.progFds[direction], packet, repeat);
  }

  /** Forgets every session (their next packets are new sessions again). */
  clearSessions(): number {
    const all = this.sessions();
    const fd = this.fds['sessions']!;
    const k = Buffer.alloc(SESS_KEY_BYTES);
    let n = 0;
    for (const s of all) {
      const initIsA = s.srcIp < s.dstIp || (s.srcIp === s.dstIp && s.srcPort <= s.dstPort);
      k.writeUInt32BE(initIsA ? s.srcIp : s.dstIp, 0);
      k.writeUInt32BE(initIsA ? s.dstIp : s.srcIp, 4);
      k.writeUInt16LE(initIsA ? s.srcPort : s.dstPort, 8);
      k.writeUInt16LE(initIsA ? s.dstPort : s.srcPort, 10);
      k[12] = s.proto;
      if (bpf.mapDelete(fd, k)) n++;
    }
    return n;
  }

  // --- events ------------------------------------------------------------------

  /** Starts delivering ring-buffer events to `onEvent` on this thread's loop. */
  startEvents(onEvent: (e: DecodedEvent) => void, pollMs = 100): void {
    this.assertOpen();
    if (this.rb) return;
    this.rb = bpf.ringBuffer(this.fds['events']!, (rec) => {
      if (rec.length >= EVENT_BYTES - 4) onEvent(decodeEvent(rec));
    });
    const rb = this.rb;
    if (canWatchOnLoop()) {
      this.rbWatch = watchReadable(rb.epollFd, () => {
        rb.consume();
      });
    }
    // Also a timer: a missed wakeup costs at most pollMs of delay, never events.
    this.rbTimer = setInterval(() => rb.consume(), pollMs);
    this.rbTimer.unref();
  }

  /** Delivers whatever events are waiting, now. */
  drainEvents(): number {
    return this.rb ? this.rb.consume() : 0;
  }

  stopEvents(): void {
    if (this.rbTimer) clearInterval(this.rbTimer);
    this.rbTimer = null;
    if (this.rbWatch) {
      this.rbWatch.stop();
      this.rbWatch.close();
      this.rbWatch = null;
    }
    if (this.rb) {
      this.rb.consume();
      this.rb.free();
      this.rb = null;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new OtusError('the policy dataplane is closed', 'EBPF_CLOSED');
  }

  /** Detaches everywhere and releases the object: no TC filter, no program, no map is left behind. */
  close(): void {
    if (this.closed) return;
    if (this.pendingClear) clearTimeout(this.pendingClear);
    this.pendingClear = null;
    this.stopEvents();
    for (const a of [...this.attached.values()]) {
      try {
        this.detach(a.interface, a.direction);
      } catch {
        // Best effort on the way out; the qdisc owner check stays in detach().
      }
    }
    this.closed = true;
    bpf.closeObject(this.obj);
  }
}
