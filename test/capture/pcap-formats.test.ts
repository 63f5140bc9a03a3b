// The pcap capturer's file reader: every packet of a well-formed pcap or
// pcapng file is delivered exactly as written (bytes, lengths, timestamps,
// link type, interface), whatever the byte order, resolution and buffering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { LinkType } from '../../src/core/packet.ts';
import { CaptureFileReader } from '../../src/plugins/capture/pcap/index.ts';
import {
  epb,
  idb,
  otherBlock,
  payload,
  pcapExpected,
  pcapFile,
  shb,
  spb,
  tempDir,
  unitsToTs,
  writeTemp,
  type Expected,
  type PcapOpts,
  type PcapRec,
} from './pcap-build.ts';
import { assertPackets, readAll } from './pcap-read-all.ts';

function sampleRecords(nano: boolean): PcapRec[] {
  const max = nano ? 999_999_999 : 999_999;
  return [
    { sec: 1_700_000_000, frac: 0, data: payload(60, 1) },
    { sec: 1_700_000_000, frac: max, data: payload(1514, 2) },
    { sec: 1_700_000_001, frac: 123, data: payload(96, 3), origLen: 1500 }, // cut by the snaplen
    { sec: 0xffffffff, frac: 1, data: payload(1, 4) }, // 2106: seconds are unsigned
    { sec: 5, frac: nano ? 500_000_000 : 500_000, data: new Uint8Array(0), origLen: 64 }, // nothing captured
    { sec: 1_700_000_002, frac: 7, data: payload(333, 5) }, // length not a multiple of 4
  ];
}

for (const le of [true, false]) {
  for (const nano of [false, true]) {
    const name = `pcap ${nano ? 'nsec' : 'usec'} ${le ? 'little' : 'big'}-endian`;
    test(`${name}: packets delivered as written`, async (t) => {
      const dir = tempDir(t);
      const o: PcapOpts = { le, nano, snaplen: 65535, linkType: LinkType.LINUX_SLL2 };
      const recs = sampleRecords(nano);
      const path = writeTemp(dir, 'a.pcap', pcapFile(recs, o));
      const { packets, error } = await readAll(path);
      assert.equal(error, null);
      assertPackets(packets, pcapExpected(recs, o));
    });
  }
}

test('pcap: a file with only the global header has no packets', async (t) => {
  const path = writeTemp(tempDir(t), 'empty.pcap', pcapFile([]));
  const { packets, error } = await readAll(path);
  assert.equal(error, null);
  assert.equal(packets.length, 0);
});

test('pcap: Kuznetzov modified format (24-byte record headers)', async (t) => {
  const o: PcapOpts = { kuznetzov: true, le: true };
  const recs = sampleRecords(false);
  const path = writeTemp(tempDir(t), 'k.pcap', pcapFile(recs, o));
  const { packets, error } = await readAll(path);
  assert.equal(error, null);
  assertPackets(packets, pcapExpected(recs, o));
});

test('pcap: link types the decoder does not support are still delivered, FCS bits stripped', async (t) => {
  const dir = tempDir(t);
  // 147 = LINKTYPE_USER0; 0x14000001 = Ethernet with "4-byte FCS present" in the top bits.
  const a = writeTemp(dir, 'user0.pcap', pcapFile([{ sec: 1, frac: 2, data: payload(10, 1) }], { linkType: 147 }));
  const b = writeTemp(dir, 'fcs.pcap', pcapFile([{ sec: 1, frac: 2, data: payload(10, 1) }], { linkType: 0x14000001 }));
  assert.equal((await readAll(a)).packets[0]!.linkType, 147);
  assert.equal((await readAll(b)).packets[0]!.linkType, LinkType.ETHERNET);
});

test('pcap: a microsecond fraction of a second or more is carried into the seconds', async (t) => {
  const path = writeTemp(tempDir(t), 'carry.pcap', pcapFile([{ sec: 10, frac: 2_500_000, data: payload(4, 1) }]));
  const p = (await readAll(path)).packets[0]!;
  assert.deepEqual([p.tsSec, p.tsNsec], [12, 500_000_000]);
});

test('pcap: origLen below the captured length is raised to it (RawPacket promises origLen >= caplen)', async (t) => {
  const path = writeTemp(tempDir(t), 'orig.pcap', pcapFile([{ sec: 1, frac: 0, data: payload(100, 1), origLen: 50 }]));
  const p = (await readAll(path)).packets[0]!;
  assert.deepEqual([p.data.length, p.origLen], [100, 100]);
});

// ------------------------------------------------------------------ pcapng

const NOW_US = 1_739_442_645_123_456n; // 2025-02-13T10:30:45.123456Z in microseconds

interface NgCase {
  bytes: Buffer;
  expected: Expected[];
}

/**
 * Two sections: the first in byte order `le` with three interfaces of
 * different link types and resolutions, unknown blocks between the packets
 * and an SPB; the second in the other byte order, whose interface 0 is a
 * different one from the first section's.
 */
function twoSections(le: boolean): NgCase {
  const expected: Expected[] = [];
  const parts: Buffer[] = [];
  const ifs = [
    { linkType: LinkType.ETHERNET, snaplen: 65535, tsresol: undefined as number | undefined, tsoffset: undefined as bigint | undefined },
    { linkType: LinkType.RAW, snaplen: 0, tsresol: 9, tsoffset: undefined },
    { linkType: LinkType.LINUX_SLL2, snaplen: 262144, tsresol: 0x80 | 20, tsoffset: 3600n },
    { linkType: 147, snaplen: 128, tsresol: 3, tsoffset: -10n }, // a link type the decoder does not know
  ];
  parts.push(shb(le));
  parts.push(otherBlock(le, 0x40000bad, 20)); // custom block before any interface
  for (const i of ifs) parts.push(idb(le, i));
  const units = [
    NOW_US, // 10^-6
    NOW_US * 1000n + 789n, // 10^-9
    (NOW_US * (1n << 20n)) / 1_000_000n + 12345n, // 2^-20
    NOW_US / 1000n, // 10^-3
  ];
  let seed = 10;
  for (let round = 0; round < 3; round++) {
    for (let id = 0; id < ifs.length; id++) {
      const data = payload(40 + round * 17 + id, seed++);
      const u = units[id]! + BigInt(round * 1001);
      const origLen = data.length + round;
      parts.push(epb(le, id, u, data, origLen));
      const i = ifs[id]!;
      expected.push({ data, origLen, ...unitsToTs(u, i.tsresol ?? 6, i.tsoffset ?? 0n), linkType: i.linkType, ifIndex: id });
    }
    parts.push(otherBlock(le, 4, 16)); // NRB
    parts.push(otherBlock(le, 5, 24)); // ISB
    parts.push(otherBlock(le, 0x0a, 32)); // DSB
    parts.push(otherBlock(le, 2, 28)); // obsolete packet block: skipped
    parts.push(otherBlock(le, 0x12345678, 0)); // a type not invented yet, empty body
  }
  // SPB: interface 0 (snaplen 65535); the wire length cuts the data padded to 4 bytes.
  const spbData = payload(61, 99);
  parts.push(spb(le, 61, spbData));
  expected.push({ data: spbData, origLen: 61, tsSec: 0, tsNsec: 0, linkType: LinkType.ETHERNET, ifIndex: 0 });

  // Second section, other byte order: interfaces start again from 0.
  const le2 = !le;
  parts.push(shb(le2));
  parts.push(idb(le2, { linkType: LinkType.IPV6, snaplen: 0, tsresol: 9 }));
  parts.push(idb(le2, { linkType: LinkType.NULL, snaplen: 0, tsresol: 0x80 | 10 }));
  const d1 = payload(77, 200);
  parts.push(epb(le2, 0, NOW_US * 1000n, d1));
  expected.push({ data: d1, origLen: 77, ...unitsToTs(NOW_US * 1000n, 9), linkType: LinkType.IPV6, ifIndex: 0 });
  const u2 = (1n << 40n) + 1023n;
  const d2 = payload(5, 201);
  parts.push(epb(le2, 1, u2, d2));
  expected.push({ data: d2, origLen: 5, ...unitsToTs(u2, 0x80 | 10), linkType: LinkType.NULL, ifIndex: 1 });
  return { bytes: Buffer.concat(parts), expected };
}

for (const le of [true, false]) {
  test(`pcapng ${le ? 'little' : 'big'}-endian first section: interfaces, resolutions, SPB, skipped blocks, second section`, async (t) => {
    const c = twoSections(le);
    const path = writeTemp(tempDir(t), 'a.pcapng', c.bytes);
    const { packets, error } = await readAll(path);
    assert.equal(error, null);
    assertPackets(packets, c.expected);
  });
}

test('pcapng: the exact nanoseconds of a 2^-20 timestamp are truncated, not rounded', async (t) => {
  const le = true;
  const units = (1_700_000_000n << 20n) + (1n << 20n) - 1n; // 1 unit short of the next second
  const bytes = Buffer.concat([shb(le), idb(le, { linkType: 1, tsresol: 0x80 | 20 }), epb(le, 0, units, payload(8, 1))]);
  const p = (await readAll(writeTemp(tempDir(t), 'b.pcapng', bytes))).packets[0]!;
  assert.deepEqual([p.tsSec, p.tsNsec], [1_700_000_000, 999_999_046]);
});

test('pcapng: SPB captured length is min(wire length, snaplen, block room)', async (t) => {
  const le = false;
  const d = payload(200, 7);
  const bytes = Buffer.concat([
    shb(le),
    idb(le, { linkType: 1, snaplen: 100 }),
    spb(le, 1500, d.subarray(0, 100)), // snaplen cut: 100 bytes of a 1500-byte frame
    spb(le, 30, d.subarray(0, 30)), // shorter than the snaplen
  ]);
  const { packets, error } = await readAll(writeTemp(tempDir(t), 's.pcapng', bytes));
  assert.equal(error, null);
  assert.deepEqual(
    packets.map((p) => [p.data.length, p.origLen]),
    [
      [100, 1500],
      [30, 30],
    ],
  );
  assert.ok(Buffer.from(packets[0]!.data).equals(Buffer.from(d.subarray(0, 100))));
});

// ------------------------------------------------------------------ streaming

function manyPcapRecords(n: number): PcapRec[] {
  const recs: PcapRec[] = [];
  for (let i = 0; i < n; i++) {
    // Sizes vary (0 .. 1500 and a few jumbo ones) so that records straddle chunk ends at every offset.
    const len = i % 97 === 0 ? 9000 : (i * 37) % 1501;
    recs.push({ sec: 1_700_000_000 + (i >> 4), frac: (i * 7919) % 1_000_000_000, data: payload(len, i) });
  }
  return recs;
}

for (const bufferSize of [64, 1000, 4096, 65536]) {
  test(`streaming pcap through a ${bufferSize}-byte buffer: records straddle chunks, large ones grow it`, async (t) => {
    const o: PcapOpts = { nano: true, le: false, snaplen: 9000 };
    const recs = manyPcapRecords(600);
    const path = writeTemp(tempDir(t), 'big.pcap', pcapFile(recs, o));
    const { packets, error } = await readAll(path, { bufferSize });
    assert.equal(error, null);
    assertPackets(packets, pcapExpected(recs, o));
  });

  test(`streaming pcapng through a ${bufferSize}-byte buffer`, async (t) => {
    const parts = [twoSections(true), twoSections(false), twoSections(true)];
    const path = writeTemp(tempDir(t), 'big.pcapng', Buffer.concat(parts.map((p) => p.bytes)));
    const { packets, error } = await readAll(path, { bufferSize });
    assert.equal(error, null);
    assertPackets(packets, parts.flatMap((p) => p.expected));
  });
}

test('streaming: memory stays bounded, the buffer shrinks back after a large record', async (t) => {
  // 2000 records of ~1000 bytes through a 4 KiB buffer; the reader must not keep the file.
  const o: PcapOpts = { snaplen: 262144 };
  const recs: PcapRec[] = [];
  for (let i = 0; i < 2000; i++) recs.push({ sec: i, frac: 0, data: payload(i === 1000 ? 200_000 : 1000, i) });
  const path = writeTemp(tempDir(t), 'm.pcap', pcapFile(recs, o));
  const reader = await CaptureFileReader.open(path, { bufferSize: 4096 });
  let n = 0;
  let maxBuf = 0;
  let lastBuf = 0;
  try {
    for (;;) {
      while (reader.next()) {
        n++;
        const buf = reader.packet.data.buffer.byteLength;
        maxBuf = Math.max(maxBuf, buf);
        lastBuf = buf;
      }
      if (!(await reader.more())) break;
    }
  } finally {
    await reader.close();
  }
  assert.equal(n, 2000);
  assert.ok(maxBuf >= 200_016 && maxBuf <= 512 * 1024, `largest buffer ${maxBuf}`);
  assert.equal(lastBuf, 4096);
  assert.equal(reader.progress, 1);
});

// ------------------------------------------------------------------ compressed

test('gzip-compressed pcap and pcapng are read through zlib', async (t) => {
  const dir = tempDir(t);
  const o: PcapOpts = { nano: true };
  const recs = manyPcapRecords(300);
  const a = writeTemp(dir, 'a.pcap.gz', gzipSync(pcapFile(recs, o)));
  const r1 = await readAll(a, { bufferSize: 1000 });
  assert.equal(r1.error, null);
  assertPackets(r1.packets, pcapExpected(recs, o));

  const c = twoSections(false);
  const b = writeTemp(dir, 'b.pcapng.gz', gzipSync(c.bytes));
  const r2 = await readAll(b);
  assert.equal(r2.error, null);
  assertPackets(r2.packets, c.expected);
});

test('zstd-compressed pcap is read when this Node.js has zstd', async (t) => {
  const z = zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer };
  if (typeof z.zstdCompressSync !== 'function') {
    t.skip('no zstd in this Node.js');
    return;
  }
  const recs = manyPcapRecords(50);
  const path = writeTemp(tempDir(t), 'a.pcap.zst', z.zstdCompressSync(pcapFile(recs)));
  const { packets, error } = await readAll(path);
  assert.equal(error, null);
  assertPackets(packets, pcapExpected(recs));
});
