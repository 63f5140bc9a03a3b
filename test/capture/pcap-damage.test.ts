// Damaged capture files: every packet before the damage is delivered, then
// the read fails with a CaptureFileError naming the file, the byte offset
// where the damage starts and what is wrong. Each case runs with the default
// buffer and with a tiny one, so that damage found across a chunk boundary is
// reported the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import {
  block,
  epb,
  idb,
  payload,
  pcapExpected,
  pcapFile,
  pcapHeader,
  pcapRecord,
  shb,
  spb,
  tempDir,
  unitsToTs,
  writeTemp,
  type Expected,
  type PcapRec,
} from './pcap-build.ts';
import { assertDamage, assertPackets, readAll } from './pcap-read-all.ts';

const BUFFERS = [undefined, 64];

const good: PcapRec[] = [
  { sec: 100, frac: 1, data: payload(60, 1) },
  { sec: 101, frac: 2, data: payload(70, 2) },
  { sec: 102, frac: 3, data: payload(80, 3) },
];
const goodLen = pcapFile(good).length; // where the damage starts

interface Case {
  name: string;
  bytes: Buffer;
  delivered: Expected[];
  offset: number;
  what: RegExp;
}

const le = true;
const ngHead = Buffer.concat([shb(le), idb(le, { linkType: 1, tsresol: 9 })]);
const ngPackets = [epb(le, 0, 1_700_000_000_000_000_001n, payload(50, 1)), epb(le, 0, 1_700_000_000_000_000_002n, payload(51, 2))];
const ngGood = Buffer.concat([ngHead, ...ngPackets]);
const ngExpected: Expected[] = [
  { data: payload(50, 1), origLen: 50, ...unitsToTs(1_700_000_000_000_000_001n, 9), linkType: 1, ifIndex: 0 },
  { data: payload(51, 2), origLen: 51, ...unitsToTs(1_700_000_000_000_000_002n, 9), linkType: 1, ifIndex: 0 },
];

function withLength(b: Buffer, at: number, v: number, littleEndian = true): Buffer {
  const c = Buffer.from(b);
  if (littleEndian) c.writeUInt32LE(v >>> 0, at);
  else c.writeUInt32BE(v >>> 0, at);
  return c;
}

const nextRecord = pcapRecord({ sec: 103, frac: 4, data: payload(90, 4) });
const nextEpb = epb(le, 0, 5n, payload(90, 4));

const cases: Case[] = [
  // ---- not a capture / header damage
  { name: 'empty file', bytes: Buffer.alloc(0), delivered: [], offset: 0, what: /empty file: not a pcap or pcapng capture/ },
  { name: 'garbage file', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'), delivered: [], offset: 0, what: /bad magic 0x47455420: not a pcap or pcapng/ },
  { name: 'three bytes', bytes: Buffer.from([0xd4, 0xc3, 0xb2]), delivered: [], offset: 0, what: /truncated file header/ },
  {
    name: 'truncated pcap global header',
    bytes: pcapHeader().subarray(0, 10),
    delivered: [],
    offset: 0,
    what: /truncated global header \(24 bytes expected, 10 present\)/,
  },
  { name: 'unsupported pcap version', bytes: pcapFile(good, { major: 1 }), delivered: [], offset: 0, what: /unsupported pcap version 1\.4/ },

  // ---- pcap record damage
  {
    name: 'pcap truncated record header',
    bytes: Buffer.concat([pcapFile(good), nextRecord.subarray(0, 5)]),
    delivered: pcapExpected(good),
    offset: goodLen,
    what: /truncated record header \(16 bytes expected, 5 present\)/,
  },
  {
    name: 'pcap truncated record data',
    bytes: Buffer.concat([pcapFile(good), nextRecord.subarray(0, 16 + 30)]),
    delivered: pcapExpected(good),
    offset: goodLen,
    what: /truncated record data \(captured length 90, 30 bytes present\)/,
  },
  {
    name: 'pcap absurd record length 0xFFFFFFFF',
    bytes: Buffer.concat([pcapFile(good), withLength(nextRecord, 8, 0xffffffff)]),
    delivered: pcapExpected(good),
    offset: goodLen,
    what: /record length 4294967295 exceeds snaplen\/limit \(snaplen 65535, limit 262144\)/,
  },
  {
    name: 'pcap absurd record length in a big-endian file',
    bytes: Buffer.concat([
      pcapFile(good, { le: false }),
      withLength(pcapRecord({ sec: 1, frac: 1, data: payload(9, 9) }, { le: false }), 8, 0x7fffffff, false),
    ]),
    delivered: pcapExpected(good),
    offset: goodLen,
    what: /record length 2147483647 exceeds/,
  },

  // ---- pcapng damage
  {
    name: 'pcapng truncated section header block',
    bytes: shb(le).subarray(0, 20),
    delivered: [],
    offset: 0,
    what: new RegExp(`truncated section header block \\(block length ${shb(le).length}, 20 bytes present\\)`),
  },
  {
    name: 'pcapng bad byte-order magic',
    bytes: withLength(shb(le), 8, 0x11223344),
    delivered: [],
    offset: 0,
    what: /bad byte-order magic 0x11223344/,
  },
  { name: 'pcapng unsupported version', bytes: Buffer.concat([shb(le, 2), idb(le, { linkType: 1 })]), delivered: [], offset: 0, what: /unsupported pcapng version 2\.0/ },
  {
    name: 'pcapng bad block total length (not a multiple of 4)',
    bytes: Buffer.concat([ngGood, withLength(nextEpb, 4, 13)]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: /bad block length 13 for enhanced packet block/,
  },
  {
    name: 'pcapng bad block total length (below the minimum)',
    bytes: Buffer.concat([ngGood, withLength(nextEpb, 4, 8)]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: /bad block length 8 for enhanced packet block \(a multiple of 4, at least 32\)/,
  },
  {
    name: 'pcapng absurd block length',
    bytes: Buffer.concat([ngGood, withLength(nextEpb, 4, 0xfffffffc)]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: /absurd block length 4294967292/,
  },
  {
    name: 'pcapng mismatched trailing block length',
    bytes: Buffer.concat([ngGood, withLength(nextEpb, nextEpb.length - 4, nextEpb.length + 4)]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: new RegExp(`bad block length: mismatched trailing length ${nextEpb.length + 4} \\(header says ${nextEpb.length}\\)`),
  },
  {
    name: 'pcapng block length longer than the block (trailer not where announced)',
    bytes: Buffer.concat([ngGood, withLength(nextEpb, 4, nextEpb.length + 8), ngPackets[0]!]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: /mismatched trailing length/,
  },
  {
    name: 'pcapng truncated block',
    bytes: Buffer.concat([ngGood, nextEpb.subarray(0, 40)]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: new RegExp(`truncated enhanced packet block \\(block length ${nextEpb.length}, 40 bytes present\\)`),
  },
  {
    name: 'pcapng truncated block header',
    bytes: Buffer.concat([ngGood, nextEpb.subarray(0, 7)]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: /truncated block header \(12 bytes expected, 7 present\)/,
  },
  {
    name: 'pcapng packet for an interface the section does not describe',
    bytes: Buffer.concat([ngGood, epb(le, 3, 1n, payload(4, 1))]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: /enhanced packet block for interface 3, but the section describes 1 interface/,
  },
  {
    name: 'pcapng interfaces do not survive a new section',
    bytes: Buffer.concat([ngGood, shb(le), epb(le, 0, 1n, payload(4, 1))]),
    delivered: ngExpected,
    offset: ngGood.length + shb(le).length,
    what: /for interface 0, but the section describes 0 interface/,
  },
  {
    name: 'pcapng SPB without an interface',
    bytes: Buffer.concat([shb(le), spb(le, 4, payload(4, 1))]),
    delivered: [],
    offset: shb(le).length,
    what: /simple packet block for interface 0/,
  },
  {
    name: 'pcapng captured length beyond the block',
    bytes: Buffer.concat([ngGood, withLength(nextEpb, 20, 1000)]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: /captured length 1000 exceeds the enhanced packet block/,
  },
  {
    name: 'pcapng option running past the interface description block',
    bytes: (() => {
      const b = idb(le, { linkType: 1 });
      return Buffer.concat([shb(le), withLength(b, 16, 2 | (400 << 16))]); // if_name with length 400
    })(),
    delivered: [],
    offset: shb(le).length + 16,
    what: /bad option length 400 \(option 2\)/,
  },
  {
    name: 'pcapng unknown block with a bad length is damage, not skipped',
    bytes: Buffer.concat([ngGood, block(le, 0x99, payload(8, 1), 10)]),
    delivered: ngExpected,
    offset: ngGood.length,
    what: /bad block length 10 for block of type 0x00000099/,
  },
];

for (const bufferSize of BUFFERS) {
  for (const c of cases) {
    test(`damage (${bufferSize ?? 'default'} buffer): ${c.name}`, async (t) => {
      const path = writeTemp(tempDir(t), 'damaged.cap', c.bytes);
      const { packets, error } = await readAll(path, bufferSize ? { bufferSize } : {});
      assertPackets(packets, c.delivered);
      assertDamage(error, path, c.offset, c.what);
    });
  }
}

test('damage: a gzip stream cut short delivers every complete packet it holds, then a CaptureFileError', async (t) => {
  const recs: PcapRec[] = [];
  for (let i = 0; i < 2000; i++) recs.push({ sec: i, frac: i, data: payload(200 + (i % 50), i) });
  const plain = pcapFile(recs);
  const gz = gzipSync(plain);
  const dir = tempDir(t);
  for (const frac of [0.1, 0.5, 0.99]) {
    const cut = gz.subarray(0, Math.floor(gz.length * frac));
    // What any gunzip can recover from the cut stream, and the complete records in it.
    const recoverable = gunzipSync(cut, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).length;
    let n = 0;
    let end = 24;
    while (n < recs.length && end + 16 + recs[n]!.data.length <= recoverable) end += 16 + recs[n++]!.data.length;
    const path = writeTemp(dir, `cut-${frac}.pcap.gz`, cut);
    const { packets, error } = await readAll(path, { bufferSize: 4096 });
    assertPackets(packets, pcapExpected(recs).slice(0, n));
    assertDamage(error, path, end, /truncated record (header|data) .*; gzip: unexpected end of file \(offset in the decompressed data\)/);
  }
});

test('damage: gzip magic with garbage behind it', async (t) => {
  const path = writeTemp(tempDir(t), 'bad.gz', Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]));
  const { packets, error } = await readAll(path);
  assert.equal(packets.length, 0);
  assertDamage(error, path, 0, /gzip/);
});

test('damage: unknown block types between packets are not damage', async (t) => {
  const bytes = Buffer.concat([ngHead, ngPackets[0]!, block(le, 0x7fff0001, payload(100, 3)), block(le, 0x00000bad, new Uint8Array(0)), ngPackets[1]!]);
  const { packets, error } = await readAll(writeTemp(tempDir(t), 'ok.pcapng', bytes), { bufferSize: 64 });
  assert.equal(error, null);
  assertPackets(packets, ngExpected);
});
