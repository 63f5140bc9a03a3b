// The libc calls that Node does not expose (packet sockets, mmap, poll,
// setns), through koffi. Everything here is a thin, typed wrapper: a failed
// call throws a NativeError naming the call and the errno, and the callers
// turn the errnos they expect into messages for operators.
//
// koffi and libc are loaded on first use, not at import: importing the plugin
// table must stay cheap and work on machines (or in commands) that never open
// a live capture.
//
// Constants are the Linux values, which are the same on x86-64 and arm64, the
// two architectures koffi ships prebuilt binaries for that we target.
import { createRequire } from 'node:module';
import type { LibraryHandle } from 'koffi';
import { getSystemErrorMessage, getSystemErrorName } from 'node:util';
import { OtusError } from '../core/errors.ts';

export const AF_PACKET = 17;
export const SOCK_RAW = 3;
/** Children the daemon or the tests spawn must not inherit a capture ring. */
export const SOCK_CLOEXEC = 0o2000000;
export const ETH_P_ALL = 0x0003;
export const SOL_SOCKET = 1;
export const SOL_PACKET = 263;
export const SO_ERROR = 4;
export const SO_ATTACH_FILTER = 26;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_VERSION = 10;
export const PACKET_RESERVE = 12;
export const PACKET_FANOUT = 18;
export const PACKET_IGNORE_OUTGOING = 23;
export const PACKET_MR_PROMISC = 1;
export const TPACKET_V3 = 2;
export const PACKET_FANOUT_HASH = 0;
export const PACKET_FANOUT_LB = 1;
export const PACKET_FANOUT_CPU = 2;
export const PACKET_FANOUT_FLAG_DEFRAG = 0x8000;
export const POLLIN = 0x001;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCGIFHWADDR = 0x8927;
export const IFF_UP = 0x1;
export const CLONE_NEWNET = 0x40000000;
export const ARPHRD_ETHER = 1;
export const ARPHRD_LOOPBACK = 772;
export const ARPHRD_NONE = 0xfffe;
export const ARPHRD_RAWIP = 519;
const SC_PAGESIZE = 30;
const IFNAMSIZ = 16;
const MAP_FAILED = 0xffffffffffffffffn;

/** A failed libc call: `errno` and its name (`code`) let callers pick a message. */
export class NativeError extends OtusError {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${errnoMessage(errno)} (${errnoName(errno)})`, errnoName(errno));
    this.name = 'NativeError';
  }
}

export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

export function errnoMessage(errno: number): string {
  try {
    return getSystemErrorMessage(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

type Koffi = typeof import('koffi').default;
let koffiModule: Koffi | undefined;

/** The koffi module, loaded on first use. */
export function ffi(): Koffi {
  if (!koffiModule) {
    try {
      koffiModule = createRequire(import.meta.url)('koffi') as Koffi;
    } catch (e) {
      throw new OtusError(`live capture needs the koffi package (npm ci): ${(e as Error).message}`, 'NATIVE_LOAD');
    }
  }
  return koffiModule;
}

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  setsockopt: (fd: number, level: number, name: number, val: Uint8Array, len: number) => number;
  getsockopt: (fd: number, level: number, name: number, val: Uint8Array, len: Uint8Array) => number;
  bind: (fd: number, addr: Uint8Array, len: number) => number;
  getsockname: (fd: number, addr: Uint8Array, len: Uint8Array) => number;
  mmap: (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => bigint;
  munmap: (addr: bigint, len: number) => number;
  close: (fd: number) => number;
  poll: (fds: Uint8Array, nfds: number, timeoutMs: number) => number;
  if_nametoindex: (name: string) => number;
  ioctl: (fd: number, req: number, argType: string, arg: Uint8Array) => number;
  setns: (fd: number, nstype: number) => number;
  sysconf: (name: number) => number;
  malloc: (size: number) => bigint | null;
  free: (ptr: bigint) => void;
  getpid: () => number;
}

let lib: Libc | undefined;

function libc(): Libc {
  if (lib) return lib;
  if (process.platform !== 'linux') {
    throw new OtusError(`live capture needs Linux (AF_PACKET); this is ${process.platform}`, 'UNSUPPORTED_PLATFORM');
  }
  let h: LibraryHandle;
  try {
    h = ffi().load('libc.so.6');
  } catch (e) {
    throw new OtusError(`cannot load the C library (libc.so.6): ${(e as Error).message}`, 'NATIVE_LOAD');
  }
  lib = {
    socket: h.func('int socket(int domain, int type, int protocol)'),
    setsockopt: h.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
    getsockopt: h.func('int getsockopt(int fd, int level, int name, void *val, void *len)'),
    bind: h.func('int bind(int fd, const void *addr, uint32_t len)'),
    getsockname: h.func('int getsockname(int fd, void *addr, void *len)'),
    mmap: h.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
    munmap: h.func('int munmap(void *addr, size_t len)'),
    close: h.func('int close(int fd)'),
    poll: h.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    if_nametoindex: h.func('unsigned int if_nametoindex(const char *name)'),
    ioctl: h.func('int ioctl(int fd, unsigned long req, ...)'),
    setns: h.func('int setns(int fd, int nstype)'),
    sysconf: h.func('long sysconf(int name)'),
    malloc: h.func('void *malloc(size_t size)'),
    free: h.func('void free(void *ptr)'),
    getpid: h.func('int getpid()'),
  } as Libc;
  return lib;
}

function check(rc: number, call: string): number {
  if (rc < 0) throw new NativeError(call, ffi().errno());
  return rc;
}

export function socket(domain: number, type: number, protocol: number): number {
  return check(libc().socket(domain, type, protocol), 'socket');
}

export function close(fd: number): void {
  // EINTR on close still releases the descriptor on Linux: never retry.
  libc().close(fd);
}

export function setsockopt(fd: number, level: number, name: number, value: Uint8Array, call: string): void {
  check(libc().setsockopt(fd, level, name, value, value.byteLength), call);
}

export function setsockoptInt(fd: number, level: number, name: number, value: number, call: string): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  setsockopt(fd, level, name, b, call);
}

/** Fills `into` and returns the length the kernel wrote. */
export function getsockopt(fd: number, level: number, name: number, into: Uint8Array, call: string): number {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(into.byteLength, 0);
  check(libc().getsockopt(fd, level, name, into, len), call);
  return len.readUInt32LE(0);
}

export function getsockoptInt(fd: number, level: number, name: number, call: string): number {
  const b = Buffer.alloc(4);
  getsockopt(fd, level, name, b, call);
  return b.readInt32LE(0);
}

export function bind(fd: number, addr: Uint8Array, call = 'bind'): void {
  check(libc().bind(fd, addr, addr.byteLength), call);
}

export function getsockname(fd: number, into: Uint8Array): number {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(into.byteLength, 0);
  check(libc().getsockname(fd, into, len), 'getsockname');
  return len.readUInt32LE(0);
}

/** Maps `len` bytes of `fd` shared, read-write; returns the address. */
export function mmapShared(fd: number, len: number, call = 'mmap'): bigint {
  const p = libc().mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p === MAP_FAILED || p === null) throw new NativeError(call, ffi().errno());
  return p;
}

export function munmap(addr: bigint, len: number): void {
  check(libc().munmap(addr, len), 'munmap');
}

/**
 * An ArrayBuffer over native memory, without a copy. It must not be touched
 * after the memory is unmapped: detach it first (`ab.transfer(0)`), so that a
 * stale view reads as empty instead of faulting the process.
 */
export function viewOf(addr: bigint, len: number): ArrayBuffer {
  return ffi().view(addr, len);
}

const pollfd = Buffer.alloc(8);

/** poll(2) on one descriptor; returns revents (0 on timeout). EINTR counts as a timeout. */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  pollfd.writeInt32LE(fd, 0);
  pollfd.writeInt16LE(events, 4);
  pollfd.writeInt16LE(0, 6);
  const rc = libc().poll(pollfd, 1, timeoutMs);
  if (rc < 0) {
    const e = ffi().errno();
    if (e === 4 /* EINTR */) return 0;
    throw new NativeError('poll', e);
  }
  return rc === 0 ? 0 : pollfd.readUInt16LE(6);
}

/** 0 when there is no such interface in the calling thread's network namespace. */
export function ifNameToIndex(name: string): number {
  if (Buffer.byteLength(name) >= IFNAMSIZ) return 0;
  return libc().if_nametoindex(name);
}

function ifreq(name: string): Buffer {
  const b = Buffer.alloc(40);
  b.write(name, 0, IFNAMSIZ - 1, 'utf8');
  return b;
}

/** Interface flags (IFF_*), asked through `fd` so the answer comes from that socket's namespace. */
export function interfaceFlags(fd: number, name: string): number {
  const r = ifreq(name);
  check(libc().ioctl(fd, SIOCGIFFLAGS, 'void *', r), 'ioctl(SIOCGIFFLAGS)');
  return r.readUInt16LE(IFNAMSIZ);
}

/** The interface's ARPHRD_* hardware type (what its link-layer header is). */
export function interfaceHwType(fd: number, name: string): number {
  const r = ifreq(name);
  check(libc().ioctl(fd, SIOCGIFHWADDR, 'void *', r), 'ioctl(SIOCGIFHWADDR)');
  return r.readUInt16LE(IFNAMSIZ);
}

/** Moves the calling thread into the namespace `fd` refers to. */
export function setns(fd: number, nstype: number): void {
  check(libc().setns(fd, nstype), 'setns');
}

let pageSizeCache = 0;
export function pageSize(): number {
  if (pageSizeCache === 0) pageSizeCache = check(libc().sysconf(SC_PAGESIZE), 'sysconf(_SC_PAGESIZE)');
  return pageSizeCache;
}

/**
 * SO_ATTACH_FILTER with classic BPF instructions (8 bytes each, host order,
 * as libpcap's bpf_insn and the kernel's sock_filter both lay them out). The
 * kernel copies the program, so the native copy lives only for the call.
 */
export function attachFilter(fd: number, insns: Uint8Array): void {
  const n = insns.byteLength / 8;
  if (!Number.isInteger(n) || n < 1 || n > 4096) throw new OtusError(`BPF program of ${insns.byteLength} bytes is not 1..4096 instructions`);
  const c = libc();
  const mem = c.malloc(insns.byteLength);
  if (mem === null || mem === 0n) throw new NativeError('malloc', ffi().errno());
  try {
    const view = viewOf(mem, insns.byteLength);
    new Uint8Array(view).set(insns);
    detach(view);
    const fprog = Buffer.alloc(16); // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    fprog.writeUInt16LE(n, 0);
    fprog.writeBigUInt64LE(mem, 8);
    setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, 'setsockopt(SO_ATTACH_FILTER)');
  } finally {
    c.free(mem);
  }
}

/** A one-instruction program: accept `snaplen` bytes of every packet (0 drops everything). */
export function acceptProgram(snaplen: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(0x06, 0); // BPF_RET | BPF_K
  b.writeUInt32LE(snaplen >>> 0, 4);
  return b;
}

/**
 * Detaches `ab` (ES2024 ArrayBuffer.prototype.transfer with length 0, which
 * copies nothing): every view on it then reads as empty, so native memory
 * can be released without leaving a way to fault the process.
 */
export function detach(ab: ArrayBuffer): void {
  (ab as ArrayBuffer & { transfer(len: number): ArrayBuffer }).transfer(0);
}

/** Readiness as koffi's poll handle reports it: a libuv status (< 0 on POLLERR) and the events. */
export type PollCallback = (status: number, events: { readable: boolean }) => void;
export interface PollHandle {
  start(opts: { readable: boolean }, cb: PollCallback): void;
  stop(): void;
  close(): void;
}

/**
 * Starts watching `fd` for readability on the calling thread's libuv loop
 * (koffi's poll handle; not yet a documented koffi API, hence the pinned
 * version), or returns null when this koffi has no such handle. libuv allows
 * one watcher per descriptor: keep the handle, start/stop it, and close it
 * before closing the descriptor.
 */
export function watchReadable(fd: number, cb: PollCallback): PollHandle | null {
  const poll = (ffi() as unknown as { node?: { poll?: unknown } }).node?.poll;
  if (typeof poll !== 'function') return null;
  return (poll as (fd: number, opts: { readable: boolean }, cb: PollCallback) => PollHandle)(fd, { readable: true }, cb);
}

/** Whether watchReadable is available. */
export function canWatchOnLoop(): boolean {
  return typeof (ffi() as unknown as { node?: { poll?: unknown } }).node?.poll === 'function';
}

/** For measuring the cost of one FFI crossing; does a real (cheap) syscall. */
export function getpid(): number {
  return libc().getpid();
}
