import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodedPacket } from '../../src/core/packet.ts';
import { flowHash, fragmentGroupHash } from '../../src/pipeline/flow-hash.ts';

function pkt(v: number, src: number[], dst: number[], sp: number, dp: number, proto = 17): DecodedPacket {
  const p = new DecodedPacket();
  p.ipVersion = v;
  p.srcIp.set(src);
  p.dstIp.set(dst);
  p.srcPort = sp;
  p.dstPort = dp;
  p.protocol = proto;
  return p;
}

test('both directions of a flow hash alike (IPv4 and IPv6)', () => {
  assert.equal(flowHash(pkt(4, [10, 0, 0, 1], [10, 0, 0, 2], 5060, 5062)), flowHash(pkt(4, [10, 0, 0, 2], [10, 0, 0, 1], 5062, 5060)));
  const a = [0x20, 1, 0xd, 0xb8, ...new Array(11).fill(0), 1];
  const b = [0x20, 1, 0xd, 0xb8, ...new Array(11).fill(0), 2];
  assert.equal(flowHash(pkt(6, a, b, 1, 2)), flowHash(pkt(6, b, a, 2, 1)));
});

test('different flows spread over workers', () => {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[flowHash(pkt(4, [10, 0, (i >> 8) & 255, i & 255], [10, 1, 0, 1], 10000 + (i % 50), 5060)) % 4]!++;
  for (const c of counts) assert.ok(c > 800 && c < 1200, `uneven spread ${counts}`);
  // Port swap within the same endpoints is a different flow.
  assert.notEqual(flowHash(pkt(4, [1, 1, 1, 1], [2, 2, 2, 2], 1, 2)), flowHash(pkt(4, [1, 1, 1, 1], [2, 2, 2, 2], 2, 1)));
});

test('fragment groups ignore ports and keep direction symmetry', () => {
  const x = pkt(4, [10, 0, 0, 1], [10, 0, 0, 2], 0, 0);
  x.ipId = 77;
  const y = pkt(4, [10, 0, 0, 1], [10, 0, 0, 2], 5060, 5060);
  y.ipId = 77;
  assert.equal(fragmentGroupHash(x), fragmentGroupHash(y));
  y.ipId = 78;
  assert.notEqual(fragmentGroupHash(x), fragmentGroupHash(y));
});
