// Cross-check with tshark (Wireshark's reader) on files it can read: packet
// count, timestamps to the nanosecond, lengths and interface ids. Skipped
// where tshark is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { LinkType } from '../../src/core/packet.ts';
import { epb, idb, payload, shb, spb, tempDir, writeTemp, type IfOpts } from './pcap-build.ts';
import { readAll } from './pcap-read-all.ts';

const TSHARK = '/usr/bin/tshark';
const haveTshark = existsSync(TSHARK);
const execFileP = promisify(execFile);

async function tsharkRows(path: string): Promise<string[]> {
  const { stdout } = await execFileP(
    TSHARK,
    ['-n', '-r', path, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len', '-e', 'frame.interface_id'],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  return stdout.split('\n').filter((l) => l !== '');
}

async function ourRows(path: string, withInterface: boolean): Promise<string[]> {
  const { packets, error } = await readAll(path);
  assert.equal(error, null);
  return packets.map(
    (p) => `${p.tsSec}.${String(p.tsNsec).padStart(9, '0')}\t${p.data.length}\t${p.origLen}\t${withInterface ? p.ifIndex : ''}`,
  );
}

/** An Ethernet/IPv4/UDP frame of `len` bytes (tshark only needs it plausible). */
function frame(len: number, seed: number): Uint8Array {
  const f = payload(Math.max(len, 42), seed);
  f.set([0x08, 0x00], 12); // EtherType IPv4
  f[14] = 0x45;
  f[23] = 17;
  return f.subarray(0, len);
}

function pcapngForTshark(le: boolean): Buffer {
  const ifs: IfOpts[] = [
    { linkType: LinkType.ETHERNET, snaplen: 65535 }, // default 10^-6
    { linkType: LinkType.ETHERNET, snaplen: 0, tsresol: 9 },
    { linkType: LinkType.ETHERNET, snaplen: 262144, tsresol: 0x80 | 20 },
    { linkType: LinkType.ETHERNET, snaplen: 1500, tsresol: 3 },
    { linkType: LinkType.ETHERNET, snaplen: 0, tsresol: 0x80 | 30 },
    { linkType: LinkType.ETHERNET, snaplen: 0, tsresol: 9, tsoffset: 86400n },
  ];
  const base = 1_767_227_820n;
  const units = (i: number, k: number): bigint => {
    const r = ifs[i]!.tsresol ?? 6;
    const exp = BigInt(r & 0x7f);
    const per = r & 0x80 ? 1n << exp : 10n ** exp;
    // Whole seconds plus a fraction that differs per packet, plus k units so that the last digits move too.
    return (base + BigInt(k)) * per + (per * BigInt((k * 7919 + 13) % 1000)) / 1000n + BigInt(k);
  };
  const parts: Buffer[] = [shb(le), ...ifs.map((i) => idb(le, i))];
  for (let k = 0; k < 60; k++) {
    const id = k % ifs.length;
    const f = frame(42 + ((k * 131) % 1400), k);
    parts.push(epb(le, id, units(id, k), f, f.length + (k % 3 === 0 ? 100 : 0)));
  }
  parts.push(spb(le, 60, frame(60, 1000)));
  return Buffer.concat(parts);
}

test('tshark agrees on a hand-built pcapng (both byte orders, six interfaces with their own resolutions, an if_tsoffset, SPB, gzip)', { skip: !haveTshark && 'tshark not installed' }, async (t) => {
  const dir = tempDir(t);
  for (const le of [true, false]) {
    const bytes = pcapngForTshark(le);
    for (const [name, content] of [
      [`a-${le}.pcapng`, bytes],
      [`a-${le}.pcapng.gz`, gzipSync(bytes)],
    ] as const) {
      const path = writeTemp(dir, name, content);
      // An SPB has no timestamp: tshark shows none, RawPacket carries 0.
      const theirs = (await tsharkRows(path)).map((l) => (l.startsWith('\t') ? `0.000000000${l}` : l));
      const ours = await ourRows(path, true);
      assert.equal(ours.length, 61);
      assert.deepEqual(ours, theirs, name);
    }
  }
});

test('tshark agrees on every capture in test/captures/generated', { skip: !haveTshark && 'tshark not installed' }, async () => {
  const dir = join(import.meta.dirname, '..', '..', '..', 'test', 'captures', 'generated');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.pcap(ng)?$/.test(f)) : [];
  assert.ok(files.length > 0, `no captures in ${dir}`);
  // tshark takes a while to start: four at a time.
  const queue = [...files];
  const worker = async (): Promise<void> => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      const path = join(dir, f);
      const ng = f.endsWith('.pcapng');
      // Only pcapng has interface ids; for classic pcap the column is left out of the comparison.
      const theirs = (await tsharkRows(path)).map((l) => (ng ? l : l.replace(/\t[^\t]*$/, '\t')));
      assert.deepEqual(await ourRows(path, ng), theirs, f);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
});
