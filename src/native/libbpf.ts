// Debian's libbpf (libbpf.so.1) through koffi: the calls the policy control
// plane needs to open and load a BPF object, attach its programs to TC
// clsact hooks, read and write its maps, run BPF_PROG_TEST_RUN and consume
// its ring buffer. Thin typed wrappers only; every failure throws a
// NativeError naming the call and the errno.
//
// libbpf 1.x returns -errno from every int-returning call and NULL (with
// errno set) from pointer-returning ones. Loaded on first use: a daemon that
// never touches policies never needs libbpf.
import type { LibraryHandle } from 'koffi';
import { NativeError, ffi } from './libc.ts';
import { OtusError } from '../core/errors.ts';

export const BPF_TC_INGRESS = 1;
export const BPF_TC_EGRESS = 2;
export const BPF_ANY = 0;
const EEXIST = 17;
const ENOENT = 2;

/** An opaque native pointer (struct bpf_object *, struct bpf_map *...). */
export type Ptr = bigint;

interface Libbpf {
  open_file: (path: string, opts: null) => Ptr | null;
  load: (obj: Ptr) => number;
  close: (obj: Ptr) => void;
  find_map: (obj: Ptr, name: string) => Ptr | null;
  find_prog: (obj: Ptr, name: string) => Ptr | null;
  map_fd: (map: Ptr) => number;
  map_set_max_entries: (map: Ptr, n: number) => number;
  map_value_size: (map: Ptr) => number;
  map_key_size: (map: Ptr) => number;
  map_max_entries: (map: Ptr) => number;
  prog_fd: (prog: Ptr) => number;
  tc_hook_create: (hook: Uint8Array) => number;
  tc_hook_destroy: (hook: Uint8Array) => number;
  tc_attach: (hook: Uint8Array, opts: Uint8Array) => number;
  tc_detach: (hook: Uint8Array, opts: Uint8Array) => number;
  tc_query: (hook: Uint8Array, opts: Uint8Array) => number;
  update: (fd: number, key: Uint8Array, value: Uint8Array, flags: bigint) => number;
  lookup: (fd: number, key: Uint8Array, value: Uint8Array) => number;
  del: (fd: number, key: Uint8Array) => number;
  next_key: (fd: number, key: Uint8Array | null, next: Uint8Array) => number;
  update_batch: (fd: number, keys: Uint8Array, values: Uint8Array, count: Uint8Array, opts: Uint8Array | null) => number;
  lookup_batch: (fd: number, inb: Uint8Array | null, outb: Uint8Array, keys: Uint8Array, values: Uint8Array, count: Uint8Array, opts: Uint8Array | null) => number;
  delete_batch: (fd: number, keys: Uint8Array, count: Uint8Array, opts: Uint8Array | null) => number;
  test_run: (fd: number, opts: Uint8Array) => number;
  rb_new: (mapFd: number, cb: unknown, ctx: null, opts: null) => Ptr | null;
  rb_consume: (rb: Ptr) => number;
  rb_epoll_fd: (rb: Ptr) => number;
  rb_free: (rb: Ptr) => void;
  num_possible_cpus: () => number;
  cbType: unknown;
}

let lib: Libbpf | undefined;
let loadError: string | undefined;

function libbpf(): Libbpf {
  if (lib) return lib;
  if (loadError) throw new OtusError(loadError, 'EBPF_UNAVAILABLE');
  if (process.platform !== 'linux') {
    loadError = `the policy dataplane needs Linux (eBPF); this is ${process.platform}`;
    throw new OtusError(loadError, 'EBPF_UNAVAILABLE');
  }
  let h: LibraryHandle | undefined;
  const tried: string[] = [];
  for (const name of ['libbpf.so.1', 'libbpf.so']) {
    try {
      h = ffi().load(name);
      break;
    } catch (e) {
      tried.push(`${name}: ${(e as Error).message}`);
    }
  }
  if (!h) {
    loadError = `the policy dataplane needs libbpf, which could not be loaded (apt-get install libbpf1): ${tried.join('; ')}`;
    throw new OtusError(loadError, 'EBPF_UNAVAILABLE');
  }
  const k = ffi();
  const cbProto = k.proto('int otus_rb_sample_cb(void *ctx, void *data, size_t size)');
  // libbpf prints to stderr by default, including the netlink complaint of an
  // expected ENOENT (removing a filter that is not there). Every failure we
  // care about comes back as an errno and is reported by the caller instead.
  h.func('void *libbpf_set_print(void *fn)')(null);
  lib = {
    open_file: h.func('void *bpf_object__open_file(const char *path, const void *opts)'),
    load: h.func('int bpf_object__load(void *obj)'),
    close: h.func('void bpf_object__close(void *obj)'),
    find_map: h.func('void *bpf_object__find_map_by_name(void *obj, const char *name)'),
    find_prog: h.func('void *bpf_object__find_program_by_name(void *obj, const char *name)'),
    map_fd: h.func('int bpf_map__fd(void *map)'),
    map_set_max_entries: h.func('int bpf_map__set_max_entries(void *map, uint32_t n)'),
    map_value_size: h.func('uint32_t bpf_map__value_size(void *map)'),
    map_key_size: h.func('uint32_t bpf_map__key_size(void *map)'),
    map_max_entries: h.func('uint32_t bpf_map__max_entries(void *map)'),
    prog_fd: h.func('int bpf_program__fd(void *prog)'),
    tc_hook_create: h.func('int bpf_tc_hook_create(void *hook)'),
    tc_hook_destroy: h.func('int bpf_tc_hook_destroy(void *hook)'),
    tc_attach: h.func('int bpf_tc_attach(void *hook, void *opts)'),
    tc_detach: h.func('int bpf_tc_detach(void *hook, void *opts)'),
    tc_query: h.func('int bpf_tc_query(void *hook, void *opts)'),
    update: h.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
    lookup: h.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
    del: h.func('int bpf_map_delete_elem(int fd, const void *key)'),
    next_key: h.func('int bpf_map_get_next_key(int fd, const void *key, void *next)'),
    update_batch: h.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, void *count, const void *opts)'),
    lookup_batch: h.func('int bpf_map_lookup_batch(int fd, void *inb, void *outb, void *keys, void *values, void *count, const void *opts)'),
    delete_batch: h.func('int bpf_map_delete_batch(int fd, const void *keys, void *count, const void *opts)'),
    test_run: h.func('int bpf_prog_test_run_opts(int fd, void *opts)'),
    rb_new: h.func('void *ring_buffer__new(int map_fd, otus_rb_sample_cb *cb, void *ctx, const void *opts)'),
    rb_consume: h.func('int ring_buffer__consume(void *rb)'),
    rb_epoll_fd: h.func('int ring_buffer__epoll_fd(void *rb)'),
    rb_free: h.func('void ring_buffer__free(void *rb)'),
    num_possible_cpus: h.func('int libbpf_num_possible_cpus()'),
    cbType: k.pointer(cbProto),
  } as Libbpf;
  return lib;
}

/** Throws NativeError for a libbpf -errno return; passes other values through. */
function check(rc: number, call: string): number {
  if (rc < 0) throw new NativeError(call, -rc);
  return rc;
}

function nonNull(p: Ptr | null, call: string): Ptr {
  if (p === null || p === 0n) throw new NativeError(call, ffi().errno() || ENOENT);
  return p;
}

/** Loads libbpf now; throws the reason it cannot be used. */
export function ensureLibbpf(): void {
  libbpf();
}

export function openObject(path: string): Ptr {
  return nonNull(libbpf().open_file(path, null), `bpf_object__open_file(${path})`);
}

export function loadObject(obj: Ptr): void {
  check(libbpf().load(obj), 'bpf_object__load');
}

export function closeObject(obj: Ptr): void {
  libbpf().close(obj);
}

export interface MapInfo {
  ptr: Ptr;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export function findMap(obj: Ptr, name: string): MapInfo {
  const l = libbpf();
  const ptr = nonNull(l.find_map(obj, name), `bpf_object__find_map_by_name(${name})`);
  return { ptr, keySize: l.map_key_size(ptr), valueSize: l.map_value_size(ptr), maxEntries: l.map_max_entries(ptr) };
}

export function setMaxEntries(map: Ptr, n: number, name: string): void {
  check(libbpf().map_set_max_entries(map, n), `bpf_map__set_max_entries(${name})`);
}

export function mapFd(map: Ptr, name: string): number {
  return check(libbpf().map_fd(map), `bpf_map__fd(${name})`);
}

export function programFd(obj: Ptr, name: string): number {
  const l = libbpf();
  const p = nonNull(l.find_prog(obj, name), `bpf_object__find_program_by_name(${name})`);
  return check(l.prog_fd(p), `bpf_program__fd(${name})`);
}

export function possibleCpus(): number {
  return check(libbpf().num_possible_cpus(), 'libbpf_num_possible_cpus');
}

// --- TC (clsact) ---------------------------------------------------------

/** struct bpf_tc_hook { size_t sz; int ifindex; enum attach_point; __u32 parent; } = 24 bytes. */
function tcHook(ifindex: number, attachPoint: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(24n, 0);
  b.writeInt32LE(ifindex, 8);
  b.writeUInt32LE(attachPoint, 12);
  return b;
}

/** struct bpf_tc_opts { size_t sz; int prog_fd; __u32 flags, prog_id, handle, priority; } = 32 bytes. */
function tcOpts(progFd: number, handle: number, priority: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeBigUInt64LE(32n, 0);
  b.writeInt32LE(progFd, 8);
  b.writeUInt32LE(handle, 20);
  b.writeUInt32LE(priority, 24);
  return b;
}

/** Creates the clsact qdisc; false when it already existed (someone else's, or ours from before). */
export function tcHookCreate(ifindex: number): boolean {
  const rc = libbpf().tc_hook_create(tcHook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS));
  if (rc === -EEXIST) return false;
  check(rc, 'bpf_tc_hook_create');
  return true;
}

/** Removes the clsact qdisc and with it every filter on both directions. */
export function tcHookDestroy(ifindex: number): void {
  const rc = libbpf().tc_hook_destroy(tcHook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS));
  if (rc === -ENOENT || rc === -22 /* EINVAL: no such qdisc */) return;
  check(rc, 'bpf_tc_hook_destroy');
}

/** Attaches `progFd` at (handle, priority); returns the program id the kernel reports. */
export function tcAttach(ifindex: number, point: number, progFd: number, handle: number, priority: number): number {
  const opts = tcOpts(progFd, handle, priority);
  check(libbpf().tc_attach(tcHook(ifindex, point), opts), 'bpf_tc_attach');
  return opts.readUInt32LE(16);
}

export function tcDetach(ifindex: number, point: number, handle: number, priority: number): void {
  const rc = libbpf().tc_detach(tcHook(ifindex, point), tcOpts(0, handle, priority));
  if (rc === -ENOENT) return;
  check(rc, 'bpf_tc_detach');
}

/** The program id attached at (handle, priority), or 0 when there is none. */
export function tcQuery(ifindex: number, point: number, handle: number, priority: number): number {
  const opts = tcOpts(0, handle, priority);
  const rc = libbpf().tc_query(tcHook(ifindex, point), opts);
  if (rc === -ENOENT || rc === -22) return 0;
  check(rc, 'bpf_tc_query');
  return opts.readUInt32LE(16);
}

// --- maps ------------------------------------------------------------------

export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, call = 'bpf_map_update_elem'): void {
  check(libbpf().update(fd, key, value, 0n), call);
}

/** False when the key is absent. */
export function mapLookup(fd: number, key: Uint8Array, into: Uint8Array): boolean {
  const rc = libbpf().lookup(fd, key, into);
  if (rc === -ENOENT) return false;
  check(rc, 'bpf_map_lookup_elem');
  return true;
}

/** False when the key was absent. */
export function mapDelete(fd: number, key: Uint8Array): boolean {
  const rc = libbpf().del(fd, key);
  if (rc === -ENOENT) return false;
  check(rc, 'bpf_map_delete_elem');
  return true;
}

/** False at the end of the map. `key` null asks for the first key. */
export function mapNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  const rc = libbpf().next_key(fd, key, next);
  if (rc === -ENOENT) return false;
  check(rc, 'bpf_map_get_next_key');
  return true;
}

/** BPF_MAP_UPDATE_BATCH: `count` keys and values, packed. One syscall. */
export function mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number, call = 'bpf_map_update_batch'): void {
  const n = Buffer.alloc(4);
  n.writeUInt32LE(count, 0);
  check(libbpf().update_batch(fd, keys, values, n, null), call);
}

/**
 * BPF_MAP_LOOKUP_BATCH: fills up to `max` keys and values; `cursor` (a
 * key-sized buffer, or null for the first call) carries on from the last
 * call. Returns how many were read and whether the map has more.
 */
export function mapLookupBatch(fd: number, inCursor: Uint8Array | null, outCursor: Uint8Array, keys: Uint8Array, values: Uint8Array, max: number): { count: number; more: boolean } {
  const n = Buffer.alloc(4);
  n.writeUInt32LE(max, 0);
  const rc = libbpf().lookup_batch(fd, inCursor, outCursor, keys, values, n, null);
  const count = n.readUInt32LE(0);
  if (rc === -ENOENT) return { count, more: false };
  check(rc, 'bpf_map_lookup_batch');
  return { count, more: true };
}

export function mapDeleteBatch(fd: number, keys: Uint8Array, count: number): void {
  const n = Buffer.alloc(4);
  n.writeUInt32LE(count, 0);
  const rc = libbpf().delete_batch(fd, keys, n, null);
  if (rc === -ENOENT) return;
  check(rc, 'bpf_map_delete_batch');
}

// --- BPF_PROG_TEST_RUN -------------------------------------------------------

export interface TestRunResult {
  retval: number;
  /** Mean time per run in nanoseconds, as the kernel measured it. */
  durationNs: number;
}

/** Runs the program `repeat` times over `packet` in the kernel (BPF_PROG_TEST_RUN). */
export function testRun(progFd: number, packet: Uint8Array, repeat: number): TestRunResult {
  // struct bpf_test_run_opts (libbpf 1.1): 80 bytes, see libbpf's bpf.h.
  const o = Buffer.alloc(80);
  const out = Buffer.alloc(packet.byteLength + 256);
  const k = ffi();
  // koffi passes a Buffer argument's memory, not a struct field: point into native copies.
  const inPtr = k.alloc('uint8_t', packet.byteLength);
  const outPtr = k.alloc('uint8_t', out.byteLength);
  try {
    k.encode(inPtr, 'uint8_t', Array.from(packet), packet.byteLength);
    o.writeBigUInt64LE(80n, 0);
    o.writeBigUInt64LE(k.address(inPtr) as bigint, 8);
    o.writeBigUInt64LE(k.address(outPtr) as bigint, 16);
    o.writeUInt32LE(packet.byteLength, 24);
    o.writeUInt32LE(out.byteLength, 28);
    o.writeInt32LE(repeat, 60);
    check(libbpf().test_run(progFd, o), 'bpf_prog_test_run_opts');
    return { retval: o.readUInt32LE(56), durationNs: o.readUInt32LE(64) };
  } finally {
    k.free(inPtr);
    k.free(outPtr);
  }
}

// --- ring buffer --------------------------------------------------------------

export interface RingBuffer {
  /** Calls the handler for every record waiting; returns how many. Never blocks. */
  consume(): number;
  /** An epoll descriptor that becomes readable when records arrive. */
  readonly epollFd: number;
  free(): void;
}

/** ring_buffer__new over `mapFd`; `onRecord` gets a copy of each record, synchronously inside consume(). */
export function ringBuffer(mapFd: number, onRecord: (rec: Buffer) => void): RingBuffer {
  const l = libbpf();
  const k = ffi();
  const cb = k.register((_ctx: unknown, data: bigint, size: number | bigint) => {
    try {
      const n = Number(size);
      const view = k.view(data, n);
      const copy = Buffer.from(new Uint8Array(view).slice());
      onRecord(copy);
    } catch {
      // A throwing handler must not unwind through libbpf's C frames.
    }
    return 0;
  }, l.cbType as never);
  const rb = l.rb_new(mapFd, cb, null, null);
  if (rb === null || rb === 0n) {
    k.unregister(cb);
    throw new NativeError('ring_buffer__new', ffi().errno() || ENOENT);
  }
  let freed = false;
  return {
    consume: () => (freed ? 0 : check(l.rb_consume(rb), 'ring_buffer__consume')),
    epollFd: check(l.rb_epoll_fd(rb), 'ring_buffer__epoll_fd'),
    free: () => {
      if (freed) return;
      freed = true;
      l.rb_free(rb);
      k.unregister(cb);
    },
  };
}
