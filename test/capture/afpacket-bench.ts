// Measurements behind the afpacket capturer's design (not a test; run with
// `node dist/test/capture/afpacket-bench.js`, as root for the live part):
//   1. the TypeScript ring walk, per packet and per block, on a ring in memory;
//   2. one koffi call, and one wait for readiness in each of the two ways the
//      capturer can wait (libuv-integrated poll handle, blocking poll(2));
//   3. live capture over a veth pair at tcpreplay's top speed, both ways.
//
// Numbers (2 vCPU VM, Linux 6.18, Node 24.21, koffi 3.3.4; two runs):
//   ring walk, sink touching one byte: 38-44 ns/packet (23-26 Mpps on one
//     thread), i.e. 25-29 us per 1 MiB block of 1500-byte frames
//   koffi call: ~215 ns; poll(2) with timeout 0: ~470 ns
//   one wait that finds the ring ready: 3.8-4.4 us by blocking poll(2) + a
//     loop turn, 6.9-7.2 us on the libuv loop (koffi poll handle)
//   live, 1 M 64-byte frames at ~415 kpps (tcpreplay's ceiling here): all
//     delivered, 0 kernel drops, ~245 waits (one per ~4000 packets), 90-130
//     ns of our CPU per packet; 300 k 1500-byte frames at ~335 kpps: all
//     delivered, ~515 waits (about one per block), 130-240 ns/packet
// The capturer waits on the libuv loop: ~3 us more per block than a blocking
// poll (under 0.01 us per packet at these block fills), bought for a thread
// that is never blocked, so stop() and the worker's timers and messages are
// served at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frameEnd, LinkType, type RawPacket } from '../../src/core/packet.ts';
import type { CaptureSink } from '../../src/plugin/interfaces.ts';
import { RingReader, TP_STATUS_USER, BLOCK_HDR_LEN } from '../../src/plugins/capture/afpacket/ring.ts';
import { AfPacketCapturer } from '../../src/plugins/capture/afpacket/index.ts';
import * as libc from '../../src/native/libc.ts';
import { writePcap } from '../helpers/pcap-writer.ts';
import { inNetns, netnsSkipReason, nsExec, withVethPair } from '../helpers/netns.ts';
import { ipv4Frame } from './afpacket-frames.ts';

const now = () => performance.now();

class CountingSink implements CaptureSink {
  n = 0;
  sum = 0;
  onPacket(p: RawPacket): boolean {
    this.n++;
    this.sum += p.data[frameEnd(p) - 1]!; // touch the data, as a decoder would
    return true;
  }
  async ready(): Promise<void> {}
}

function ringWalk(pktLen: number): void {
  const BS = 1 << 20;
  const blocks = 16;
  const ab = new ArrayBuffer(BS * blocks);
  const dv = new DataView(ab);
  const slot = Math.ceil((86 + pktLen) / 16) * 16;
  const perBlock = Math.floor((BS - BLOCK_HDR_LEN) / slot);
  const fill = () => {
    for (let b = 0; b < blocks; b++) {
      const base = b * BS;
      dv.setUint32(base + 12, perBlock, true);
      dv.setUint32(base + 16, BLOCK_HDR_LEN, true);
      for (let i = 0; i < perBlock; i++) {
        const o = base + BLOCK_HDR_LEN + i * slot;
        dv.setUint32(o, slot, true);
        dv.setUint32(o + 12, pktLen, true);
        dv.setUint32(o + 16, pktLen, true);
        dv.setUint32(o + 20, TP_STATUS_USER, true);
        dv.setUint16(o + 24, 86, true);
      }
      dv.setUint32(base + 8, TP_STATUS_USER, true);
    }
  };
  const r = new RingReader(ab, BS, blocks, LinkType.ETHERNET, 1, 262144);
  const sink = new CountingSink();
  let t = 0;
  const rounds = 40;
  for (let k = 0; k < rounds; k++) {
    fill();
    const t0 = now();
    r.drain(sink, blocks);
    if (k >= 5) t += now() - t0; // after warm-up
  }
  const pkts = perBlock * blocks * (rounds - 5);
  console.log(
    `ring walk, ${pktLen}-byte packets: ${((t * 1e6) / pkts).toFixed(1)} ns/packet, ` +
      `${((t * 1e6) / (blocks * (rounds - 5)) / 1000).toFixed(1)} us per 1 MiB block of ${perBlock} packets, ` +
      `${(pkts / t / 1000).toFixed(2)} Mpps`,
  );
}

async function crossings(): Promise<void> {
  const N = 200_000;
  let t0 = now();
  for (let i = 0; i < N; i++) libc.getpid();
  console.log(`koffi call (getpid): ${(((now() - t0) * 1e6) / N).toFixed(0)} ns/call`);

  const c = libc.ffi().load('libc.so.6');
  const eventfd = c.func('int eventfd(unsigned int initval, int flags)');
  const write = c.func('long write(int fd, void *buf, size_t n)');
  const read = c.func('long read(int fd, void *buf, size_t n)');
  const fd = eventfd(0, 0o4000 /* EFD_NONBLOCK */);
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(1n);
  const buf = Buffer.alloc(8);

  t0 = now();
  for (let i = 0; i < N; i++) libc.pollOne(fd, libc.POLLIN, 0);
  console.log(`poll(2) with timeout 0, nothing ready: ${(((now() - t0) * 1e6) / N).toFixed(0)} ns/call`);

  // A wait that finds the descriptor ready, both ways: the per-block crossing
  // of a capture that is waiting when the block arrives.
  const M = 20_000;
  t0 = now();
  for (let i = 0; i < M; i++) {
    write(fd, one, 8);
    libc.pollOne(fd, libc.POLLIN, 50);
    read(fd, buf, 8);
    await new Promise<void>((r) => setImmediate(r));
  }
  console.log(`wait by blocking poll(2) + yield to the loop: ${(((now() - t0) * 1e6) / M / 1000).toFixed(2)} us/wait`);

  let wake: (() => void) | null = null;
  const cb = () => {
    h.stop();
    const w = wake;
    wake = null;
    w?.();
  };
  const h = libc.watchReadable(fd, cb)!;
  h.stop();
  t0 = now();
  for (let i = 0; i < M; i++) {
    write(fd, one, 8);
    await new Promise<void>((r) => {
      wake = r;
      h.start({ readable: true }, cb);
    });
    read(fd, buf, 8);
  }
  console.log(`wait on the libuv loop (koffi poll handle): ${(((now() - t0) * 1e6) / M / 1000).toFixed(2)} us/wait`);
  h.close();
  libc.close(fd);
}

async function live(syncWait: boolean, packets: number, len: number): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'otus-afpbench-'));
  try {
    await withVethPair(async (p) => {
      const file = join(work, 'b.pcap');
      const frames = [];
      for (let i = 0; i < 1000; i++) frames.push({ data: ipv4Frame({ sport: 1000 + i, payload: Buffer.alloc(len - 42) }), tsSec: 0, tsNsec: 0 });
      writePcap(file, frames);
      const cap = new AfPacketCapturer({ syncWait });
      inNetns(p.nsB, () => cap.init({ interface: p.ifB }, { taskId: 'b', workerIndex: -1, agent: 'b', log: () => {} }));
      const sink = new CountingSink();
      const done = cap.run(sink);
      const cpu0 = process.cpuUsage();
      const t0 = now();
      const { stdout } = await nsExec(p.nsA, 'tcpreplay', ['-t', '-l', String(packets / 1000), '-i', p.ifA, file]);
      const until = now() + 3000;
      while (sink.n + cap.stats().kernelDrops < packets && now() < until) await new Promise((r) => setTimeout(r, 5));
      const ms = now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const s = cap.stats();
      await cap.stop();
      await done;
      const rate = /Rated: .*?([\d.]+) pps/.exec(stdout)?.[1] ?? '?';
      console.log(
        `live ${syncWait ? 'blocking poll(2)' : 'libuv poll handle'}, ${len}-byte frames: sent ${packets} at ${rate} pps (tcpreplay), ` +
          `delivered ${s.packets}, kernel drops ${s.kernelDrops}, waits ${cap.waits}, ` +
          `our CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms over ${ms.toFixed(0)} ms ` +
          `(${(((cpu.user + cpu.system) * 1000) / Math.max(1, s.packets)).toFixed(0)} ns/packet)`,
      );
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

ringWalk(64);
ringWalk(1500);
await crossings();
const skip = netnsSkipReason('tcpreplay');
if (skip) {
  console.log(`live part skipped: ${skip}`);
} else {
  for (const sync of [false, true]) {
    await live(sync, 1_000_000, 64);
    await live(sync, 300_000, 1500);
  }
}
