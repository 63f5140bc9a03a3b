// The TPACKET_V3 ring walk, on a ring laid out by hand in an ArrayBuffer
// exactly as the kernel lays it out: no privilege, no kernel needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameBytes, LinkType, type RawPacket } from '../../src/core/packet.ts';
import type { CaptureSink } from '../../src/plugin/interfaces.ts';
import {
  BLOCK_HDR_LEN,
  RingReader,
  TP_STATUS_KERNEL,
  TP_STATUS_USER,
  TP_STATUS_VLAN_TPID_VALID,
  TP_STATUS_VLAN_VALID,
} from '../../src/plugins/capture/afpacket/ring.ts';

const BS = 4096;
/** Where the kernel puts an Ethernet frame after the tpacket3_hdr + sockaddr_ll + 4 reserved bytes. */
const MAC_OFF = 86;

interface FakePkt {
  frame: Uint8Array;
  origLen?: number;
  sec?: number;
  nsec?: number;
  vlan?: { tci: number; tpid?: number };
  mac?: number;
}

class FakeRing {
  readonly ab: ArrayBuffer;
  readonly dv: DataView;
  private seq = 1n;
  constructor(readonly blocks: number) {
    this.ab = new ArrayBuffer(BS * blocks);
    this.dv = new DataView(this.ab);
  }
  /** Fills block `b` with packets and hands it to user space. */
  fill(b: number, pkts: FakePkt[]): void {
    const base = b * BS;
    const u8 = new Uint8Array(this.ab);
    u8.fill(0, base, base + BS);
    const le = true;
    this.dv.setUint32(base + 0, 3, le); // version
    this.dv.setUint32(base + 12, pkts.length, le);
    this.dv.setUint32(base + 16, BLOCK_HDR_LEN, le);
    this.dv.setBigUint64(base + 24, this.seq++, le);
    let off = base + BLOCK_HDR_LEN;
    pkts.forEach((p, i) => {
      const mac = p.mac ?? MAC_OFF;
      const size = Math.ceil((mac + p.frame.length) / 16) * 16;
      this.dv.setUint32(off + 0, i === pkts.length - 1 ? 0 : size, le);
      this.dv.setUint32(off + 4, p.sec ?? 1_700_000_000 + i, le);
      this.dv.setUint32(off + 8, p.nsec ?? 1000 * i, le);
      this.dv.setUint32(off + 12, p.frame.length, le);
      this.dv.setUint32(off + 16, p.origLen ?? p.frame.length, le);
      let status = TP_STATUS_USER;
      if (p.vlan) {
        status |= TP_STATUS_VLAN_VALID;
        this.dv.setUint32(off + 32, p.vlan.tci, le);
        if (p.vlan.tpid !== undefined) {
          status |= TP_STATUS_VLAN_TPID_VALID;
          this.dv.setUint16(off + 36, p.vlan.tpid, le);
        }
      }
      this.dv.setUint32(off + 20, status, le);
      this.dv.setUint16(off + 24, mac, le);
      u8.set(p.frame, off + mac);
      off += size;
    });
    this.dv.setUint32(base + 8, TP_STATUS_USER, le);
  }
  status(b: number): number {
    return this.dv.getUint32(b * BS + 8, true);
  }
}

interface Seen {
  data: Buffer;
  origLen: number;
  tsSec: number;
  tsNsec: number;
  linkType: number;
  ifIndex: number;
}

class Sink implements CaptureSink {
  seen: Seen[] = [];
  last: RawPacket | null = null;
  answer = true;
  onPacket(p: RawPacket): boolean {
    this.last = p;
    this.seen.push({ data: Buffer.from(frameBytes(p)), origLen: p.origLen, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType, ifIndex: p.ifIndex });
    return this.answer;
  }
  async ready(): Promise<void> {}
}

function frame(len: number, fill: number): Uint8Array {
  const f = new Uint8Array(len).fill(fill);
  for (let i = 0; i < 12; i++) f[i] = i + 1; // MAC addresses
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

test('ring: nothing is read while the kernel owns the next block', () => {
  const ring = new FakeRing(3);
  const r = new RingReader(ring.ab, BS, 3, LinkType.ETHERNET, 7, 262144);
  const sink = new Sink();
  assert.equal(r.ready(), false);
  assert.equal(r.drain(sink, 10), 0);
  assert.equal(sink.seen.length, 0);
});

test('ring: packets of handed-over blocks are delivered in order, and each block goes back to the kernel', () => {
  const ring = new FakeRing(3);
  const a = frame(60, 0xaa);
  const b = frame(1514, 0xbb);
  const c = frame(100, 0xcc);
  ring.fill(0, [{ frame: a, sec: 10, nsec: 5 }, { frame: b, origLen: 1514 }]);
  ring.fill(1, [{ frame: c, origLen: 9000 }]);
  const r = new RingReader(ring.ab, BS, 3, LinkType.ETHERNET, 7, 262144);
  const sink = new Sink();
  assert.equal(r.ready(), true);
  // Any answer from the sink is ignored: a live source never holds a block back.
  sink.answer = false;
  assert.equal(r.drain(sink, 10), 2);
  assert.deepEqual(
    sink.seen.map((s) => [s.data.length, s.origLen, s.data[20]]),
    [
      [60, 60, 0xaa],
      [1514, 1514, 0xbb],
      [100, 9000, 0xcc],
    ],
  );
  assert.deepEqual(sink.seen[0]!.data, Buffer.from(a));
  assert.equal(sink.seen[0]!.tsSec, 10);
  assert.equal(sink.seen[0]!.tsNsec, 5);
  assert.equal(sink.seen[0]!.linkType, LinkType.ETHERNET);
  assert.equal(sink.seen[0]!.ifIndex, 7);
  assert.equal(ring.status(0), TP_STATUS_KERNEL);
  assert.equal(ring.status(1), TP_STATUS_KERNEL);
  assert.equal(r.packets, 3);
  assert.equal(r.bytes, 60 + 1514 + 9000);
  assert.equal(sink.last!.data.length, 0, 'no view on the ring survives the drain');
});

test('ring: the walk wraps around the ring and stops after maxBlocks', () => {
  const ring = new FakeRing(3);
  const r = new RingReader(ring.ab, BS, 3, LinkType.ETHERNET, 1, 262144);
  const sink = new Sink();
  ring.fill(0, [{ frame: frame(60, 0) }]);
  ring.fill(1, [{ frame: frame(60, 1) }]);
  assert.equal(r.drain(sink, 10), 2);
  ring.fill(2, [{ frame: frame(60, 2) }]);
  ring.fill(0, [{ frame: frame(60, 3) }]);
  assert.equal(r.drain(sink, 1), 1);
  assert.equal(r.drain(sink, 1), 1);
  assert.deepEqual(
    sink.seen.map((s) => s.data[20]),
    [0, 1, 2, 3],
  );
});

test('ring: a VLAN tag the kernel stripped is put back in the frame', () => {
  const ring = new FakeRing(2);
  const f = frame(64, 0x11);
  ring.fill(0, [
    { frame: f, vlan: { tci: 0x2064 } }, // priority 1, VLAN 100, TPID not given: 802.1Q
    { frame: f, vlan: { tci: 0x00c8, tpid: 0x88a8 } }, // 802.1ad outer tag
  ]);
  const r = new RingReader(ring.ab, BS, 2, LinkType.ETHERNET, 1, 262144);
  const sink = new Sink();
  r.drain(sink, 1);
  const expect = (tpid: number, tci: number) =>
    Buffer.concat([Buffer.from(f.subarray(0, 12)), Buffer.from([tpid >> 8, tpid & 0xff, tci >> 8, tci & 0xff]), Buffer.from(f.subarray(12))]);
  assert.deepEqual(sink.seen[0]!.data, expect(0x8100, 0x2064));
  assert.equal(sink.seen[0]!.origLen, 68);
  assert.deepEqual(sink.seen[1]!.data, expect(0x88a8, 0x00c8));
});

test('ring: a re-inserted tag does not push the capture past snaplen', () => {
  const ring = new FakeRing(2);
  ring.fill(0, [{ frame: frame(64, 0x22), origLen: 1000, vlan: { tci: 5 } }]);
  const r = new RingReader(ring.ab, BS, 2, LinkType.ETHERNET, 1, 64);
  const sink = new Sink();
  r.drain(sink, 1);
  assert.equal(sink.seen[0]!.data.length, 64);
  assert.equal(sink.seen[0]!.origLen, 1004);
  assert.equal(sink.seen[0]!.data.readUInt16BE(12), 0x8100);
});

test('ring: raw-IP interfaces get no tag re-insertion', () => {
  const ring = new FakeRing(2);
  const f = frame(40, 0x45);
  ring.fill(0, [{ frame: f, vlan: { tci: 5 } }]);
  const r = new RingReader(ring.ab, BS, 2, LinkType.RAW, 1, 262144);
  const sink = new Sink();
  r.drain(sink, 1);
  assert.deepEqual(sink.seen[0]!.data, Buffer.from(f));
  assert.equal(sink.seen[0]!.linkType, LinkType.RAW);
});

test('ring: a packet header pointing outside its block is counted, not delivered, and the block is returned', () => {
  const ring = new FakeRing(2);
  ring.fill(0, [{ frame: frame(60, 1) }, { frame: frame(60, 2), mac: 4000 }]);
  const r = new RingReader(ring.ab, BS, 2, LinkType.ETHERNET, 1, 262144);
  const sink = new Sink();
  assert.equal(r.drain(sink, 2), 1);
  assert.equal(sink.seen.length, 1);
  assert.equal(r.malformed, 1);
  assert.equal(ring.status(0), TP_STATUS_KERNEL);
});

test('ring: a sink that throws still gets the block returned, and the error propagates', () => {
  const ring = new FakeRing(2);
  ring.fill(0, [{ frame: frame(60, 1) }]);
  const r = new RingReader(ring.ab, BS, 2, LinkType.ETHERNET, 1, 262144);
  const boom: CaptureSink = {
    onPacket: () => {
      throw new Error('boom');
    },
    ready: async () => {},
  };
  assert.throws(() => r.drain(boom, 2), /boom/);
  assert.equal(ring.status(0), TP_STATUS_KERNEL);
});

test('ring: resync finds the oldest handed-over block when the cursor is out of step', () => {
  const ring = new FakeRing(4);
  ring.fill(2, [{ frame: frame(60, 2) }]); // seq 1
  ring.fill(3, [{ frame: frame(60, 3) }]); // seq 2
  const r = new RingReader(ring.ab, BS, 4, LinkType.ETHERNET, 1, 262144);
  const sink = new Sink();
  assert.equal(r.ready(), false);
  assert.equal(r.resync(), true);
  assert.equal(r.drain(sink, 4), 2);
  assert.deepEqual(
    sink.seen.map((s) => s.data[20]),
    [2, 3],
  );
  assert.equal(r.resync(), false, 'nothing handed over: stay');
});

test('ring: after close() no view reaches the ring', () => {
  const ring = new FakeRing(2);
  ring.fill(0, [{ frame: frame(60, 1) }]);
  const r = new RingReader(ring.ab, BS, 2, LinkType.ETHERNET, 1, 262144);
  r.close();
  assert.equal(r.ready(), false);
  assert.equal(r.drain(new Sink(), 2), 0);
});
