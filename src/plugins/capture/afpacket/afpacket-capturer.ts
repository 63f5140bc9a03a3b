// Capturer "afpacket": live capture from a Linux interface through a
// TPACKET_V3 memory-mapped ring (DESIGN sections 2, 6, 9; ADR-001, ADR-006).
//
// Per packet there is no native call and no copy: the ring is mapped once and
// read from TypeScript (ring.ts). Native code is crossed only to wait for the
// next block when none is ready, and that wait does not block the thread: the
// socket is watched by the thread's own libuv loop (koffi's poll handle), so
// timers and messages of a capture thread or pipeline worker keep running,
// and stop() ends the wait at once.
//
// Binding mode (one capturer per pipeline worker): give every worker's
// instance the same `fanout.group_id`; the kernel then spreads flows over the
// sockets of the group (mode hash keeps both directions of a flow together).
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { OtusError } from '../../../core/errors.ts';
import * as libc from '../../../native/libc.ts';
import type { Capturer, CaptureSink, CaptureStats, PluginConfig, PluginContext } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';
import { afpacketConfigSchema, type AfPacketConfig } from './config.ts';
import { RingReader } from './ring.ts';
import { PacketSocket } from './socket.ts';

/** How long one synchronous poll(2) may block when koffi's loop-integrated poll is unavailable. */
const SYNC_POLL_MS = 50;

const WAKE_READY = 0;
const WAKE_ERROR = 1;
const WAKE_STOP = 2;

/** The capturer's config (the task's capture.config with interface and bpf_filter merged in); errors name capture.config.*. */
const parseAfpacketConfig = (config: PluginConfig): AfPacketConfig => parsePluginConfig(afpacketConfigSchema, config, 'capturer afpacket', 'capture.config');

export interface AfPacketOptions {
  /**
   * Wait with a blocking poll(2) of at most 50 ms instead of on the libuv
   * loop. Only for measurement; it is also the fallback when koffi lacks its
   * loop-integrated poll.
   */
  syncWait?: boolean;
}

export class AfPacketCapturer implements Capturer {
  private cfg: AfPacketConfig | null = null;
  private sock: PacketSocket | null = null;
  private reader: RingReader | null = null;
  private poller: libc.PollHandle | null = null;
  private wake: ((why: number) => void) | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private closed = false;
  private packets = 0;
  private bytes = 0;
  private kernelPackets = 0;
  private kernelDrops = 0;
  private kernelFreezes = 0;
  /** Waits for a block (the native crossings of the loop), for measurement. */
  waits = 0;

  constructor(private readonly opts: AfPacketOptions = {}) {}

  private readonly onPoll = (status: number): void => {
    this.poller?.stop();
    const w = this.wake;
    this.wake = null;
    w?.(status < 0 ? WAKE_ERROR : WAKE_READY);
  };

  checkConfig(config: PluginConfig): void {
    parseAfpacketConfig(config);
  }

  /**
   * Opens the socket and maps the ring here rather than in run(): a wrong
   * interface, filter or privilege fails the task at start, and a fan-out
   * member receives its share of flows from this moment on.
   */
  init(config: PluginConfig, ctx: PluginContext): void {
    if (this.sock || this.closed) throw new OtusError('afpacket: init() may be called once per capturer');
    const cfg = parseAfpacketConfig(config);
    const sock = new PacketSocket(cfg);
    sock.open();
    if (sock.filterWarning) ctx.log('warn', `afpacket on ${cfg.interface}: ${sock.filterWarning}`);
    this.cfg = cfg;
    this.sock = sock;
    this.reader = new RingReader(sock.ring!, cfg.block_size, cfg.block_count, sock.linkType, sock.ifIndex, cfg.snaplen);
  }

  /** Link type of the delivered frames (LinkType), known after init. */
  get linkType(): number {
    return this.sock?.linkType ?? 0;
  }

  async run(sink: CaptureSink): Promise<void> {
    if (this.running) throw new OtusError('afpacket: run() is already in progress');
    if (!this.sock || !this.reader || this.closed) throw new OtusError('afpacket: run() needs init() first and cannot follow stop()');
    this.running = this.loop(sink, this.sock, this.reader);
    try {
      await this.running;
    } finally {
      this.running = null;
      this.release();
    }
  }

  private async loop(sink: CaptureSink, sock: PacketSocket, reader: RingReader): Promise<void> {
    const blocks = this.cfg!.block_count;
    const onLoop = !this.opts.syncWait && libc.canWatchOnLoop();
    while (!this.stopping) {
      if (reader.drain(sink, blocks) > 0) {
        // Let the thread's timers and messages (stats, stop) run between laps.
        await yieldToLoop();
        continue;
      }
      this.waits++;
      const why = onLoop ? await this.waitOnLoop(sock.fd) : await this.waitSync(sock.fd);
      if (why === WAKE_ERROR) {
        // Whatever the kernel had already handed over is still good.
        reader.drain(sink, blocks);
        throw sock.failure();
      }
      if (why === WAKE_READY && !reader.ready()) reader.resync();
    }
  }

  private waitOnLoop(fd: number): Promise<number> {
    return new Promise<number>((resolve) => {
      this.wake = resolve;
      // One handle per socket, started per wait: libuv allows one watcher per
      // descriptor, and stopping it between waits keeps a level-triggered
      // readiness from firing while we are busy walking blocks.
      if (this.poller) this.poller.start({ readable: true }, this.onPoll);
      else this.poller = libc.watchReadable(fd, this.onPoll);
    });
  }

  private async waitSync(fd: number): Promise<number> {
    const rev = libc.pollOne(fd, libc.POLLIN, SYNC_POLL_MS);
    await yieldToLoop();
    if (this.stopping) return WAKE_STOP;
    return rev & (libc.POLLERR | libc.POLLHUP | libc.POLLNVAL) ? WAKE_ERROR : WAKE_READY;
  }

  /** Ends run() promptly (at the latest after the block being walked), then unmaps the ring and closes the socket. */
  async stop(): Promise<void> {
    this.stopping = true;
    const w = this.wake;
    if (w) {
      this.wake = null;
      this.poller?.stop();
      w(WAKE_STOP);
    }
    if (this.running) await this.running.catch(() => {});
    this.release();
  }

  /**
   * Packets and bytes (wire length) delivered; kernel drops and queue freezes
   * accumulated from PACKET_STATISTICS, which the kernel clears on every read
   * (its 32-bit counters then cannot wrap as long as stats() is called now
   * and then, as the capture thread does every 200 ms).
   */
  stats(): CaptureStats {
    this.collectKernelCounters();
    const r = this.reader;
    return {
      packets: this.packets + (r ? r.packets : 0),
      bytes: this.bytes + (r ? r.bytes : 0),
      kernelDrops: this.kernelDrops,
      kernelFreezes: this.kernelFreezes,
      kernelPackets: this.kernelPackets,
    };
  }

  /** What the kernel counted for this socket, drops included (tp_packets); for tests and diagnostics. */
  kernelSeen(): number {
    this.collectKernelCounters();
    return this.kernelPackets;
  }

  progress(): number | null {
    return null;
  }

  private collectKernelCounters(): void {
    if (!this.sock || this.sock.fd < 0) return;
    const k = this.sock.readCounters();
    this.kernelPackets += k.packets;
    this.kernelDrops += k.drops;
    this.kernelFreezes += k.freezes;
  }

  private release(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopping = true;
    try {
      this.collectKernelCounters();
    } catch {
      // The counters are best effort once the socket has failed.
    }
    if (this.reader) {
      this.packets += this.reader.packets;
      this.bytes += this.reader.bytes;
      this.reader.close();
      this.reader = null;
    }
    // libuv must let go of the descriptor before it is closed and its number reused.
    this.poller?.close();
    this.poller = null;
    this.sock?.close();
    this.sock = null;
  }
}

registerPlugin('capturer', 'afpacket', () => new AfPacketCapturer());
