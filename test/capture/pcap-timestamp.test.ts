// pcapng timestamp conversion: exact against BigInt arithmetic for every
// resolution (10^-0..10^-19, 2^-0..2^-63) and unit counts near the edges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRawPacket } from '../../src/core/packet.ts';
import { TsUnits } from '../../src/plugins/capture/pcap/index.ts';
import { unitsToTs } from './pcap-build.ts';

function samples(): bigint[] {
  const s: bigint[] = [0n, 1n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn, 0x7fffffffffffffffn];
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 400; i++) {
    x = BigInt.asUintN(64, x * 6364136223846793005n + 1442695040888963407n);
    s.push(x, x >> BigInt(i % 64));
  }
  // Real-world counts: now in us, ns, 2^-20, 2^-32.
  const now = 1_767_227_820n;
  s.push(now * 1_000_000n + 999_999n, now * 1_000_000_000n + 999_999_999n, (now << 20n) + (1n << 20n) - 1n, (now << 32n) + 0xffffffffn);
  return s;
}

test('TsUnits: exact seconds and truncated nanoseconds for every resolution', () => {
  const pkt = newRawPacket();
  const resolutions: number[] = [];
  for (let k = 0; k <= 19; k++) resolutions.push(k);
  for (let k = 0; k <= 63; k++) resolutions.push(0x80 | k);
  const all = samples();
  for (const r of resolutions) {
    const u = new TsUnits(r);
    for (const v of all) {
      const want = unitsToTs(v, r);
      // Seconds beyond 2^53 cannot be a Number exactly; only sane ones are compared.
      if (want.tsSec > Number.MAX_SAFE_INTEGER) continue;
      u.apply(Number(v >> 32n), Number(v & 0xffffffffn), pkt);
      assert.deepEqual([pkt.tsSec, pkt.tsNsec], [want.tsSec, want.tsNsec], `${u.label} of ${v}`);
    }
  }
});

test('TsUnits: if_tsoffset is added to the seconds, negative ones too', () => {
  const pkt = newRawPacket();
  new TsUnits(9, 3600).apply(0, 1_500_000_000, pkt);
  assert.deepEqual([pkt.tsSec, pkt.tsNsec], [3601, 500_000_000]);
  new TsUnits(6, -1).apply(0, 2_000_001, pkt);
  assert.deepEqual([pkt.tsSec, pkt.tsNsec], [1, 1000]);
});
