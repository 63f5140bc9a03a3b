// libpcap through koffi, for one job: compiling tcpdump filter expressions
// into classic BPF, which the kernel then runs on the packet socket. We use no
// libpcap capture path; the ring is ours (src/plugins/capture/afpacket).
//
// Loaded on first use (Debian's libpcap0.8 ships libpcap.so.0.8; other
// distributions name the same library libpcap.so.1).
import type { LibraryHandle } from 'koffi';
import { detach, ffi } from './libc.ts';
import { OtusError } from '../core/errors.ts';

/** DLT_* values as libpcap's compiler wants them (Linux numbering). */
export const DLT_EN10MB = 1;
export const DLT_RAW = 12;

const PCAP_NETMASK_UNKNOWN = 0xffffffff;
const PCAP_ERRBUF_SIZE = 256;

/** An expression libpcap refuses; the message carries libpcap's reason and the expression. */
export class BpfFilterError extends OtusError {
  constructor(
    readonly expression: string,
    readonly reason: string,
  ) {
    super(`invalid BPF filter "${expression}": ${reason}`, 'BPF_FILTER');
    this.name = 'BpfFilterError';
  }
}

interface Pcap {
  open_dead: (linktype: number, snaplen: number) => bigint | null;
  create: (source: string, errbuf: Uint8Array) => bigint | null;
  set_snaplen: (p: bigint, snaplen: number) => number;
  set_buffer_size: (p: bigint, size: number) => number;
  activate: (p: bigint) => number;
  compile: (p: bigint, prog: Uint8Array, expr: string, optimize: number, netmask: number) => number;
  geterr: (p: bigint) => string;
  statustostr: (status: number) => string;
  freecode: (prog: Uint8Array) => void;
  close: (p: bigint) => void;
  lib_version: () => string;
}

let lib: Pcap | undefined;

function pcap(): Pcap {
  if (lib) return lib;
  let h: LibraryHandle | undefined;
  const tried: string[] = [];
  for (const name of ['libpcap.so.0.8', 'libpcap.so.1', 'libpcap.so']) {
    try {
      h = ffi().load(name);
      break;
    } catch (e) {
      tried.push(`${name}: ${(e as Error).message}`);
    }
  }
  if (!h) {
    throw new OtusError(
      `BPF filters need libpcap, which could not be loaded (install libpcap0.8 or libpcap1): ${tried.join('; ')}`,
      'NATIVE_LOAD',
    );
  }
  lib = {
    open_dead: h.func('void *pcap_open_dead(int linktype, int snaplen)'),
    create: h.func('void *pcap_create(const char *source, void *errbuf)'),
    set_snaplen: h.func('int pcap_set_snaplen(void *p, int snaplen)'),
    set_buffer_size: h.func('int pcap_set_buffer_size(void *p, int size)'),
    activate: h.func('int pcap_activate(void *p)'),
    compile: h.func('int pcap_compile(void *p, void *prog, const char *expr, int optimize, uint32_t netmask)'),
    geterr: h.func('const char *pcap_geterr(void *p)'),
    statustostr: h.func('const char *pcap_statustostr(int status)'),
    freecode: h.func('void pcap_freecode(void *prog)'),
    close: h.func('void pcap_close(void *p)'),
    lib_version: h.func('const char *pcap_lib_version()'),
  } as Pcap;
  return lib;
}

export function libpcapVersion(): string {
  return pcap().lib_version();
}

/** Compiles on handle `p`; returns the instructions (8 bytes each, host order), copied out of libpcap. */
function compileOn(p: bigint, expr: string): Uint8Array {
  const l = pcap();
  const prog = Buffer.alloc(16); // struct bpf_program { u_int bf_len; struct bpf_insn *bf_insns; }
  if (l.compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) !== 0) {
    throw new BpfFilterError(expr, l.geterr(p));
  }
  try {
    const n = prog.readUInt32LE(0);
    const insns = prog.readBigUInt64LE(8);
    const out = new Uint8Array(n * 8);
    const view = ffi().view(insns, n * 8);
    out.set(new Uint8Array(view));
    // The memory goes back to libpcap below: leave no live view on it.
    detach(view);
    return out;
  } finally {
    l.freecode(prog);
  }
}

/**
 * Compiles `expr` for a link type without any device, as `tcpdump -r` would
 * for a file: needs no privilege, so it is how a filter is validated early.
 */
export function compileFilterOffline(expr: string, dlt: number, snaplen: number): Uint8Array {
  const l = pcap();
  const p = l.open_dead(dlt, snaplen);
  if (p === null || p === 0n) throw new OtusError('libpcap: pcap_open_dead failed (out of memory?)');
  try {
    return compileOn(p, expr);
  } finally {
    l.close(p);
  }
}

/** libpcap could not open the device (the caller may fall back to the offline compile). */
export class PcapActivateError extends OtusError {
  constructor(message: string) {
    super(message, 'PCAP_ACTIVATE');
    this.name = 'PcapActivateError';
  }
}

/**
 * Compiles `expr` for a live Linux device, as `tcpdump -i` would. This is
 * not the same program as the offline one: on Linux the kernel strips the
 * outer VLAN tag into packet metadata before a packet socket's filter runs,
 * and only a handle activated on a device makes libpcap emit the
 * metadata-based VLAN tests (BPF_SPECIAL_VLAN_HANDLING). Activating opens a
 * short-lived capture socket of libpcap's own, so this needs CAP_NET_RAW.
 */
export function compileFilterLive(device: string, expr: string, snaplen: number): Uint8Array {
  const l = pcap();
  const errbuf = Buffer.alloc(PCAP_ERRBUF_SIZE);
  const p = l.create(device, errbuf);
  if (p === null || p === 0n) throw new PcapActivateError(`libpcap: ${cstr(errbuf)}`);
  try {
    l.set_snaplen(p, snaplen);
    // The ring libpcap builds on activation is thrown away at once: keep it small.
    l.set_buffer_size(p, 64 * 1024);
    const rc = l.activate(p);
    if (rc < 0) {
      const detail = l.geterr(p) || l.statustostr(rc);
      throw new PcapActivateError(`libpcap cannot open ${device}: ${detail || l.statustostr(rc)}`);
    }
    return compileOn(p, expr);
  } finally {
    l.close(p);
  }
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
}
