// One AF_PACKET socket with a TPACKET_V3 receive ring mapped into our memory:
// set up in the order that lets no unwanted packet into the ring, and torn
// down completely on any failure. Turns the errnos an operator can cause into
// messages that say what to do.
import { LinkType } from '../../../core/packet.ts';
import { OtusError } from '../../../core/errors.ts';
import * as libc from '../../../native/libc.ts';
import { NativeError } from '../../../native/libc.ts';
import { BpfFilterError, compileFilterLive, compileFilterOffline, DLT_EN10MB, DLT_RAW, PcapActivateError } from '../../../native/libpcap.ts';
import type { AfPacketConfig } from './config.ts';
import { VLAN_RESERVE } from './ring.ts';

const FANOUT_MODES = { hash: libc.PACKET_FANOUT_HASH, lb: libc.PACKET_FANOUT_LB, cpu: libc.PACKET_FANOUT_CPU } as const;
const ENETDOWN = 100;
const ENODEV = 19;
const ENXIO = 6;

export interface KernelCounters {
  /** Packets the kernel saw for this socket, including the dropped ones (tp_packets). */
  packets: number;
  drops: number;
  freezes: number;
}

export class PacketSocket {
  fd = -1;
  ifIndex = 0;
  linkType: number = LinkType.ETHERNET;
  ringBytes = 0;
  private ringAddr = 0n;
  ring: ArrayBuffer | null = null;
  /** Set when the filter had to be compiled without the device (see compileFilterLive). */
  filterWarning = '';
  private readonly statsBuf = Buffer.alloc(12);

  constructor(private readonly cfg: AfPacketConfig) {}

  get name(): string {
    return this.cfg.interface;
  }

  /** Opens, configures, maps and binds; on failure leaves nothing open and throws an OtusError. */
  open(): void {
    try {
      this.setup();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private setup(): void {
    const c = this.cfg;
    const name = c.interface;
    this.ifIndex = libc.ifNameToIndex(name);
    if (this.ifIndex === 0) {
      throw new OtusError(`afpacket: no network interface "${name}" in this network namespace (see \`ip link\`)`, 'NO_SUCH_INTERFACE');
    }
    const expr = c.bpf_filter?.trim() ?? '';
    // Validated before anything needs privilege, so a bad filter is reported
    // as such even to a user who could not capture anyway.
    if (expr) compileOrExplain(() => compileFilterOffline(expr, DLT_EN10MB, c.snaplen));

    // Protocol 0: the socket receives nothing until bind() names the
    // protocol and the interface, after the filter and the ring are in place.
    try {
      this.fd = libc.socket(libc.AF_PACKET, libc.SOCK_RAW | libc.SOCK_CLOEXEC, 0);
    } catch (e) {
      if (e instanceof NativeError && (e.code === 'EPERM' || e.code === 'EACCES')) {
        throw new OtusError(
          `afpacket: capturing on "${name}" needs the CAP_NET_RAW capability: run as root, or grant it ` +
            '(setcap cap_net_raw+ep on the node binary, or AmbientCapabilities=CAP_NET_RAW in the systemd unit)',
          'CAPTURE_PERMISSION',
        );
      }
      throw e;
    }
    const fd = this.fd;

    const hw = libc.interfaceHwType(fd, name);
    this.linkType = linkTypeOf(hw, name);
    if ((libc.interfaceFlags(fd, name) & libc.IFF_UP) === 0) throw interfaceDown(name);

    if (hw === libc.ARPHRD_LOOPBACK) {
      // Loopback hands every packet to packet sockets twice, leaving and
      // arriving; keep one (libpcap drops the outgoing copy too). Kernels
      // before 4.20 lack the option and deliver both.
      try {
        libc.setsockoptInt(fd, libc.SOL_PACKET, libc.PACKET_IGNORE_OUTGOING, 1, 'setsockopt(PACKET_IGNORE_OUTGOING)');
      } catch (e) {
        if (!(e instanceof NativeError && e.code === 'ENOPROTOOPT')) throw e;
      }
    }
    libc.setsockoptInt(fd, libc.SOL_PACKET, libc.PACKET_VERSION, libc.TPACKET_V3, 'setsockopt(PACKET_VERSION, TPACKET_V3)');
    libc.setsockoptInt(fd, libc.SOL_PACKET, libc.PACKET_RESERVE, VLAN_RESERVE, 'setsockopt(PACKET_RESERVE)');

    // AF_PACKET has no snap length of its own: a filter's return value is
    // how the kernel truncates (libpcap does the same).
    const program = expr ? this.compile(expr) : c.snaplen < 262144 ? libc.acceptProgram(c.snaplen) : null;
    if (c.fanout) {
      // A socket can join a fan-out group only once bound, and until it has
      // joined it gets a copy of every packet, duplicating what the group's
      // members get: admit nothing until it is in the group.
      libc.attachFilter(fd, libc.acceptProgram(0));
    } else if (program) {
      libc.attachFilter(fd, program);
    }

    this.setupRing();

    if (c.promiscuous) {
      const mreq = Buffer.alloc(16); // struct packet_mreq { int ifindex; u16 type; u16 alen; u8 address[8]; }
      mreq.writeInt32LE(this.ifIndex, 0);
      mreq.writeUInt16LE(libc.PACKET_MR_PROMISC, 4);
      // Reference-counted by the kernel and dropped when the socket closes: no cleanup needed.
      libc.setsockopt(fd, libc.SOL_PACKET, libc.PACKET_ADD_MEMBERSHIP, mreq, 'setsockopt(PACKET_ADD_MEMBERSHIP, PROMISC)');
    }

    const sll = Buffer.alloc(20); // struct sockaddr_ll
    sll.writeUInt16LE(libc.AF_PACKET, 0);
    sll.writeUInt16BE(libc.ETH_P_ALL, 2);
    sll.writeInt32LE(this.ifIndex, 4);
    try {
      libc.bind(fd, sll, `bind(${name})`);
    } catch (e) {
      if (e instanceof NativeError && (e.errno === ENODEV || e.errno === ENXIO)) {
        throw new OtusError(`afpacket: network interface "${name}" disappeared while the capture was being set up`, 'NO_SUCH_INTERFACE');
      }
      throw e;
    }
    // A device that went down between the flag check and bind() is reported
    // by bind() as a pending socket error, not as its return value.
    const err = libc.getsockoptInt(fd, libc.SOL_SOCKET, libc.SO_ERROR, 'getsockopt(SO_ERROR)');
    if (err === ENETDOWN) throw interfaceDown(name);
    if (err !== 0) throw new NativeError(`bind(${name})`, err);

    if (c.fanout) {
      this.joinFanout(c.fanout);
      libc.attachFilter(fd, program ?? libc.acceptProgram(c.snaplen));
    }
  }

  private compile(expr: string): Uint8Array {
    const c = this.cfg;
    try {
      return compileOrExplain(() => compileFilterLive(c.interface, expr, c.snaplen));
    } catch (e) {
      if (!(e instanceof PcapActivateError)) throw e;
      this.filterWarning =
        `could not compile the filter for the live device (${e.message}); compiled it as for a file instead, ` +
        'so tests on the outer VLAN tag ("vlan") will not match tagged traffic';
      return compileOrExplain(() => compileFilterOffline(expr, this.linkType === LinkType.RAW ? DLT_RAW : DLT_EN10MB, c.snaplen));
    }
  }

  private setupRing(): void {
    const c = this.cfg;
    const page = libc.pageSize();
    if (c.block_size % page !== 0) {
      throw new OtusError(`afpacket: block_size ${c.block_size} is not a multiple of the page size (${page})`, 'CONFIG_ERROR');
    }
    const framesPerBlock = Math.floor(c.block_size / c.frame_size);
    const req = Buffer.alloc(28); // struct tpacket_req3
    req.writeUInt32LE(c.block_size, 0);
    req.writeUInt32LE(c.block_count, 4);
    req.writeUInt32LE(c.frame_size, 8);
    req.writeUInt32LE(framesPerBlock * c.block_count, 12);
    req.writeUInt32LE(c.block_timeout_ms, 16);
    req.writeUInt32LE(0, 20); // tp_sizeof_priv
    req.writeUInt32LE(0, 24); // tp_feature_req_word
    const bytes = c.block_size * c.block_count;
    const mib = (bytes / 2 ** 20).toFixed(1);
    try {
      libc.setsockopt(this.fd, libc.SOL_PACKET, libc.PACKET_RX_RING, req, 'setsockopt(PACKET_RX_RING)');
    } catch (e) {
      if (e instanceof NativeError && e.code === 'ENOMEM') {
        throw new OtusError(
          `afpacket: the kernel could not allocate a ${mib} MiB ring (${c.block_count} blocks of ${c.block_size} bytes): lower block_count or block_size`,
          'CAPTURE_RING',
        );
      }
      if (e instanceof NativeError && e.code === 'EINVAL') {
        throw new OtusError(
          `afpacket: the kernel refused the ring (${c.block_count} blocks of ${c.block_size} bytes, frame_size ${c.frame_size}): ${e.message}`,
          'CAPTURE_RING',
        );
      }
      throw e;
    }
    try {
      this.ringAddr = libc.mmapShared(this.fd, bytes, `mmap(${mib} MiB ring)`);
    } catch (e) {
      if (e instanceof NativeError && (e.code === 'ENOMEM' || e.code === 'EAGAIN')) {
        throw new OtusError(`afpacket: cannot map a ${mib} MiB ring (${e.message}): lower block_count or block_size`, 'CAPTURE_RING');
      }
      throw e;
    }
    this.ringBytes = bytes;
    this.ring = libc.viewOf(this.ringAddr, bytes);
  }

  private joinFanout(f: NonNullable<AfPacketConfig['fanout']>): void {
    const flags = f.defrag ? libc.PACKET_FANOUT_FLAG_DEFRAG : 0;
    const arg = (f.group_id & 0xffff) | ((FANOUT_MODES[f.mode] | flags) << 16);
    try {
      libc.setsockoptInt(this.fd, libc.SOL_PACKET, libc.PACKET_FANOUT, arg, 'setsockopt(PACKET_FANOUT)');
    } catch (e) {
      if (e instanceof NativeError && e.code === 'EINVAL') {
        throw new OtusError(
          `afpacket: cannot join fan-out group ${f.group_id} on "${this.name}": the group exists with another mode or ` +
            'defrag setting, or on another interface (group ids are shared by every process in the network namespace)',
          'CAPTURE_FANOUT',
        );
      }
      if (e instanceof NativeError && e.code === 'ENOSPC') {
        throw new OtusError(`afpacket: fan-out group ${f.group_id} on "${this.name}" is full`, 'CAPTURE_FANOUT');
      }
      throw e;
    }
  }

  /**
   * Reads and clears the kernel's counters (PACKET_STATISTICS resets them on
   * every read, so the caller accumulates). tp_packets includes the drops.
   */
  readCounters(): KernelCounters {
    if (this.fd < 0) return { packets: 0, drops: 0, freezes: 0 };
    const b = this.statsBuf;
    libc.getsockopt(this.fd, libc.SOL_PACKET, libc.PACKET_STATISTICS, b, 'getsockopt(PACKET_STATISTICS)');
    return { packets: b.readUInt32LE(0), drops: b.readUInt32LE(4), freezes: b.readUInt32LE(8) };
  }

  /**
   * After poll reported an error: why the socket failed, as an error for
   * run() to reject with. ENETDOWN is what the kernel sets both when the
   * device goes down and when it is unregistered; which one it was shows in
   * whether the device still exists (asked through our socket, so in its
   * namespace).
   */
  failure(): OtusError {
    let err = 0;
    try {
      err = libc.getsockoptInt(this.fd, libc.SOL_SOCKET, libc.SO_ERROR, 'getsockopt(SO_ERROR)');
    } catch (e) {
      return e instanceof OtusError ? e : new OtusError(String(e));
    }
    const name = this.name;
    if (err === ENETDOWN || err === ENXIO || err === ENODEV) {
      let up = false;
      let exists = true;
      try {
        up = (libc.interfaceFlags(this.fd, name) & libc.IFF_UP) !== 0;
      } catch {
        exists = false;
      }
      if (!exists) return new OtusError(`afpacket: network interface "${name}" was removed while capturing`, 'INTERFACE_GONE');
      return new OtusError(
        `afpacket: network interface "${name}" went down while capturing${up ? ' (it is up again; restart the task)' : ''}`,
        'INTERFACE_DOWN',
      );
    }
    if (err === 0) return new OtusError(`afpacket: the capture socket on "${name}" reported an error and no error code`, 'CAPTURE_ERROR');
    return new NativeError(`afpacket: capture socket on "${name}"`, err);
  }

  /** Unmaps and closes; the ring's ArrayBuffer is detached first so stale views read as empty. */
  close(): void {
    if (this.ring) {
      libc.detach(this.ring);
      this.ring = null;
    }
    if (this.ringAddr !== 0n) {
      libc.munmap(this.ringAddr, this.ringBytes);
      this.ringAddr = 0n;
    }
    if (this.fd >= 0) {
      libc.close(this.fd);
      this.fd = -1;
    }
  }
}

function interfaceDown(name: string): OtusError {
  return new OtusError(`afpacket: network interface "${name}" is down (bring it up: ip link set ${name} up)`, 'INTERFACE_DOWN');
}

function linkTypeOf(hw: number, name: string): number {
  switch (hw) {
    case libc.ARPHRD_ETHER:
    case libc.ARPHRD_LOOPBACK: // Linux frames loopback traffic with an Ethernet header too
      return LinkType.ETHERNET;
    case libc.ARPHRD_NONE: // tun devices and the like: the frame starts at the IP header
    case libc.ARPHRD_RAWIP:
      return LinkType.RAW;
    default:
      throw new OtusError(
        `afpacket: network interface "${name}" has hardware type ${hw} (ARPHRD_*), whose link-layer header Otus does not decode; ` +
          'supported: Ethernet, loopback, raw IP (tun)',
        'UNSUPPORTED_LINK',
      );
  }
}

function compileOrExplain(fn: () => Uint8Array): Uint8Array {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BpfFilterError) {
      throw new OtusError(`afpacket: ${e.message}`, e.code);
    }
    throw e;
  }
}
