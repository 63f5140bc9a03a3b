// SharedFlowRegistry in one thread: keys, expiry, capacity, refresh,
// truncation, caching, and a randomised comparison with a Map model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IPPROTO } from '../../src/core/packet.ts';
import type { FlowContext } from '../../src/flow/api.ts';
import { MAX_CALL_ID_BYTES, MAX_CODEC_BYTES, SharedFlowRegistry } from '../../src/flow/shared-flow-registry.ts';
import { packet, v4, v6 } from './flow-helpers.ts';

const UDP = IPPROTO.UDP;
const TCP = IPPROTO.TCP;
const A = v4(10, 0, 0, 1);
const B = v4(10, 0, 0, 2);
const rtp = (callId: string, codec = 'PCMU'): FlowContext => ({ callId, codec, kind: 'rtp' });

test('create/attach: capacity bounds, foreign buffers refused, attach shares the table', () => {
  assert.throws(() => SharedFlowRegistry.create(0), RangeError);
  assert.throws(() => SharedFlowRegistry.create(1.5), RangeError);
  assert.throws(() => SharedFlowRegistry.create(1 << 21), RangeError);
  assert.throws(() => SharedFlowRegistry.attach(new SharedArrayBuffer(4096)), TypeError);
  assert.throws(() => SharedFlowRegistry.attach(new ArrayBuffer(4096) as unknown as SharedArrayBuffer), TypeError);
  const r = SharedFlowRegistry.create(100);
  assert.equal(r.stats().slots, 256, 'power of two, at least twice the capacity');
  const other = SharedFlowRegistry.attach(r.shared);
  r.register(UDP, 4, B, 20000, rtp('c1'), 60, 1000);
  assert.deepEqual(other.lookup(packet({ src: A, dst: B, srcPort: 30000, dstPort: 20000 })), rtp('c1'));
  other.unregister(UDP, 4, B, 20000);
  assert.equal(r.lookup(packet({ src: A, dst: B, srcPort: 30000, dstPort: 20000 })), null);
});

test('lookup matches the destination endpoint, else the source (symmetric RTP)', () => {
  const r = SharedFlowRegistry.create(16);
  r.register(UDP, 4, B, 20000, rtp('call-b'), 60, 1000);
  const toB = packet({ src: A, dst: B, srcPort: 30000, dstPort: 20000 });
  const fromB = packet({ src: B, dst: A, srcPort: 20000, dstPort: 30000 });
  assert.equal(r.lookup(toB)?.callId, 'call-b');
  assert.equal(r.lookup(fromB)?.callId, 'call-b');
  // Destination wins when both ends are registered.
  r.register(UDP, 4, A, 30000, rtp('call-a'), 60, 1000);
  assert.equal(r.lookup(toB)?.callId, 'call-b');
  assert.equal(r.lookup(fromB)?.callId, 'call-a');
  // Other port, address, protocol: no match.
  assert.equal(r.lookup(packet({ src: A, dst: B, srcPort: 1, dstPort: 20002 })), null);
  assert.equal(r.lookup(packet({ src: v4(10, 0, 0, 9), dst: v4(10, 0, 0, 3), srcPort: 30000, dstPort: 20000 })), null);
  assert.equal(r.lookup(packet({ src: v4(9, 9, 9, 9), dst: B, srcPort: 1, dstPort: 20000, proto: TCP })), null);
  // Neither UDP nor TCP: never looked up.
  assert.equal(r.lookup(packet({ src: A, dst: B, srcPort: 30000, dstPort: 20000, proto: IPPROTO.SCTP })), null);
  r.register(TCP, 4, B, 20000, { callId: 'call-tcp', codec: 'H264', kind: 'rtp' }, 60, 1000);
  assert.equal(r.lookup(packet({ src: A, dst: B, srcPort: 1, dstPort: 20000, proto: TCP }))?.callId, 'call-tcp');
  assert.equal(r.lookup(toB)?.callId, 'call-b', 'UDP and TCP are different keys');
  assert.equal(r.size(), 3);
});

test('IPv6 endpoints, and v4 vs v6 keys that share their first bytes', () => {
  const r = SharedFlowRegistry.create(16);
  r.register(UDP, 6, v6(2), 40000, { callId: 'v6call', codec: 'opus', kind: 'rtcp' }, 60, 1000);
  const p = packet({ src: v6(1), dst: v6(2), srcPort: 5000, dstPort: 40000 });
  assert.deepEqual(r.lookup(p), { callId: 'v6call', codec: 'opus', kind: 'rtcp' });
  assert.equal(r.lookup(packet({ src: v6(2), dst: v6(1), srcPort: 40000, dstPort: 5000 }))?.callId, 'v6call');
  assert.equal(r.lookup(packet({ src: v6(1), dst: v6(3), srcPort: 5000, dstPort: 40000 })), null);
  // 32.1.13.184 is the first word of 2001:db8::; the IP version is part of the key.
  r.register(UDP, 4, Uint8Array.of(0x20, 0x01, 0x0d, 0xb8), 40000, rtp('v4call'), 60, 1000);
  assert.equal(r.lookup(p)?.callId, 'v6call');
  assert.equal(r.lookup(packet({ src: A, dst: Uint8Array.of(0x20, 0x01, 0x0d, 0xb8), srcPort: 1, dstPort: 40000 }))?.callId, 'v4call');
  // Bytes past 4 of a v4 key are ignored (DecodedPacket arrays are 16 long).
  const long = new Uint8Array(16);
  long.set([0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff]);
  assert.equal(r.lookupEndpoint(UDP, 4, long, 40000, 1000)?.callId, 'v4call');
});

test('hits return one frozen object per entry, decoded once; the last lookup is memoised by frame', () => {
  const r = SharedFlowRegistry.create(16);
  r.register(UDP, 4, B, 20000, rtp('same'), 60, 1000);
  const p = packet({ src: A, dst: B, srcPort: 30000, dstPort: 20000 });
  const first = r.lookup(p);
  assert.ok(first !== null && Object.isFrozen(first));
  for (let i = 0; i < 100; i++) assert.equal(r.lookup(p), first);
  assert.equal(r.stats().context_decodes, 1);
  assert.equal(r.stats().memo_hits, 0, 'frameNo 0 means unknown: no memo');
  p.frameNo = 7;
  r.lookup(p);
  r.lookup(p);
  r.lookup(p);
  const s = r.stats();
  assert.equal(s.memo_hits, 2);
  assert.equal(s.lookups, 102);
  // A write through this instance invalidates the memo.
  r.unregister(UDP, 4, B, 20000);
  assert.equal(r.lookup(p), null);
  // A new packet (frame) is probed again.
  r.register(UDP, 4, B, 20000, rtp('again'), 60, 1000);
  p.frameNo = 8;
  assert.equal(r.lookup(p)?.callId, 'again');
});

test('refresh extends the expiry, also in the cache of an instance that read the entry before; a changed context is a new object', () => {
  const r = SharedFlowRegistry.create(16);
  const other = SharedFlowRegistry.attach(r.shared);
  const p = packet({ src: A, dst: B, srcPort: 30000, dstPort: 20000, tsSec: 1000 });
  r.register(UDP, 4, B, 20000, rtp('c', 'PCMU'), 10, 1000);
  const c1 = r.lookup(p);
  assert.deepEqual(other.lookup(p), rtp('c', 'PCMU'));
  // A refresh bumps the generation (readers cache the expiry), so each instance decodes the entry once more.
  r.register(UDP, 4, B, 20000, rtp('c', 'PCMU'), 10, 1008);
  p.tsSec = 1015;
  assert.deepEqual(r.lookup(p), c1, 'alive past the first expiry');
  assert.deepEqual(other.lookup(p), c1, 'alive past the first expiry for the other instance too');
  assert.equal(other.stats().context_decodes, 2);
  p.tsSec = 1018;
  assert.equal(other.lookup(p), null, 'expired at the refreshed expiry');
  p.tsSec = 1015;
  const c1b = r.lookup(p);
  assert.equal(r.lookup(p), c1b, 'an unchanged entry: cached object reused');
  r.register(UDP, 4, B, 20000, rtp('c', 'PCMA'), 10, 1015);
  const c2 = r.lookup(p);
  assert.notEqual(c2, c1);
  assert.deepEqual(c2, rtp('c', 'PCMA'));
  r.register(UDP, 4, B, 20000, { callId: 'c', codec: 'PCMA', kind: 'rtcp' }, 10, 1015);
  assert.equal(r.lookup(p)?.kind, 'rtcp');
  const s = r.stats();
  assert.equal(s.inserted, 1);
  assert.equal(s.refreshed, 1);
  assert.equal(s.updated, 2);
  assert.equal(r.size(), 1);
});

test('expiry: absent from the expiry time on, reclaimed by writers, excluded from size()', () => {
  const r = SharedFlowRegistry.create(16);
  r.register(UDP, 4, B, 20000, rtp('short'), 10, 1000);
  r.register(UDP, 4, B, 20002, rtp('long'), 100, 1000);
  const p = packet({ src: A, dst: B, srcPort: 30000, dstPort: 20000, tsSec: 1009 });
  assert.equal(r.lookup(p)?.callId, 'short');
  p.tsSec = 1010;
  assert.equal(r.lookup(p), null, 'expiry is exclusive');
  p.tsSec = 1009;
  p.tsNsec = 999_999_000;
  assert.equal(r.lookup(p)?.callId, 'short', 'nanoseconds count');
  assert.equal(r.size(), 2, 'no writer has seen time pass yet');
  r.register(UDP, 4, A, 1, rtp('clock'), 100, 1050);
  assert.equal(r.size(), 2, 'short is expired at the latest register time');
  // ttl <= 0 removes.
  r.register(UDP, 4, A, 1, rtp('clock'), 0, 1050);
  assert.equal(r.size(), 1);
});

test('capacity: expired entries are evicted first, then registrations are refused and counted', () => {
  const r = SharedFlowRegistry.create(4);
  for (let i = 0; i < 4; i++) r.register(UDP, 4, B, 20000 + 2 * i, rtp(`c${i}`), i === 0 ? 5 : 100, 1000);
  r.register(UDP, 4, B, 21000, rtp('x'), 100, 1001);
  assert.equal(r.stats().refused_full, 1);
  assert.equal(r.lookupEndpoint(UDP, 4, B, 21000, 1001), null);
  // Refreshing an existing entry is never refused.
  r.register(UDP, 4, B, 20002, rtp('c1'), 200, 1001);
  assert.equal(r.stats().refreshed, 1);
  // Once c0 has expired, it makes room.
  r.register(UDP, 4, B, 21000, rtp('x'), 100, 1006);
  assert.equal(r.lookupEndpoint(UDP, 4, B, 21000, 1006)?.callId, 'x');
  assert.equal(r.lookupEndpoint(UDP, 4, B, 20000, 1000), null, 'c0 was evicted');
  const s = r.stats();
  assert.equal(s.refused_full, 1);
  assert.equal(s.expired_reclaimed, 1);
  assert.equal(s.occupied, 4);
  assert.equal(r.size(), 4);
  // Unregistering makes room too.
  r.unregister(UDP, 4, B, 20002);
  r.register(UDP, 4, B, 21002, rtp('y'), 100, 1006);
  assert.equal(r.lookupEndpoint(UDP, 4, B, 21002, 1006)?.callId, 'y');
  assert.equal(r.stats().refused_full, 1);
});

test('unregisterCall removes every endpoint of a call and only those', () => {
  const r = SharedFlowRegistry.create(64);
  for (let i = 0; i < 10; i++) {
    r.register(UDP, 4, B, 20000 + i, { callId: i % 2 ? 'odd' : 'even', codec: 'PCMU', kind: i % 3 ? 'rtp' : 'rtcp' }, 60, 1000);
  }
  r.register(UDP, 6, v6(1), 20000, rtp('odd'), 60, 1000);
  r.register(UDP, 4, B, 30000, rtp('odd-but-longer'), 60, 1000);
  assert.equal(r.unregisterCall('odd'), 6);
  assert.equal(r.unregisterCall('odd'), 0);
  assert.equal(r.unregisterCall('nobody'), 0);
  assert.equal(r.size(), 6);
  for (let i = 0; i < 10; i++) assert.equal(r.lookupEndpoint(UDP, 4, B, 20000 + i, 1000)?.callId ?? null, i % 2 ? null : 'even');
  assert.equal(r.lookupEndpoint(UDP, 4, B, 30000, 1000)?.callId, 'odd-but-longer');
  assert.equal(r.stats().unregistered, 6);
});

test('long call-ids and codecs are cut at a character boundary, consistently', () => {
  const r = SharedFlowRegistry.create(16);
  // 2-byte characters: 127 bytes cannot end on a whole one, so 126 are kept.
  const callId = 'é'.repeat(100) + '@host';
  const codec = 'x'.repeat(40);
  r.register(UDP, 4, B, 20000, { callId, codec, kind: 'rtp' }, 60, 1000);
  const c = r.lookupEndpoint(UDP, 4, B, 20000, 1000)!;
  assert.equal(c.callId, 'é'.repeat(63));
  assert.equal(Buffer.byteLength(c.callId), 126);
  assert.equal(c.codec, 'x'.repeat(MAX_CODEC_BYTES));
  const s = r.stats();
  assert.equal(s.truncated_call_id, 1);
  assert.equal(s.truncated_codec, 1);
  // The full call-id, and the cut one, both unregister it.
  assert.equal(r.unregisterCall(callId), 1);
  r.register(UDP, 4, B, 20000, { callId, codec, kind: 'rtp' }, 60, 1000);
  assert.equal(r.unregisterCall(c.callId), 1);
  // Exactly 127 ASCII bytes fit whole.
  const exact = 'a'.repeat(MAX_CALL_ID_BYTES);
  r.register(UDP, 4, B, 20000, rtp(exact), 60, 1000);
  assert.equal(r.lookupEndpoint(UDP, 4, B, 20000, 1000)?.callId, exact);
  assert.equal(r.stats().truncated_call_id, 2);
});

test('invalid keys are counted, not thrown', () => {
  const r = SharedFlowRegistry.create(16);
  r.register(UDP, 5, B, 20000, rtp('x'), 60, 1000);
  r.register(UDP, 6, B, 20000, rtp('x'), 60, 1000); // 4 bytes for v6
  r.register(UDP, 4, B, 70000, rtp('x'), 60, 1000);
  r.register(UDP, 4, B, 20000, rtp('x'), 60, Number.NaN);
  assert.equal(r.stats().invalid, 4);
  assert.equal(r.size(), 0);
});

test('randomised operations agree with a Map model (tombstones, sweeps, reuse)', () => {
  const cap = 48;
  const r = SharedFlowRegistry.create(cap);
  const other = SharedFlowRegistry.attach(r.shared); // a second reader with its own cache
  const model = new Map<number, { ctx: FlowContext; exp: number }>();
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const ipOf = (k: number) => (k & 1 ? v6(k) : v4(192, 168, k >> 8, k & 0xff));
  const verOf = (k: number) => (k & 1 ? 6 : 4);
  const portOf = (k: number) => 10000 + (k % 7) * 2;
  let now = 0;
  let refusedModel = 0;
  for (let step = 0; step < 20000; step++) {
    if (step % 50 === 0) now += 1;
    const k = rnd(200);
    const op = rnd(100);
    if (op < 55) {
      const ctx: FlowContext = { callId: `call-${rnd(30)}`, codec: `c${rnd(5)}`, kind: rnd(2) ? 'rtp' : 'rtcp' };
      const ttl = 1 + rnd(20);
      const liveOthers = [...model.entries()].filter(([kk, v]) => kk !== k && v.exp > now).length;
      r.register(UDP, verOf(k), ipOf(k), portOf(k), ctx, ttl, now);
      const got = r.lookupEndpoint(UDP, verOf(k), ipOf(k), portOf(k), now);
      if (got === null) {
        assert.ok(liveOthers >= cap, `step ${step}: refused with ${liveOthers} live entries`);
        model.delete(k);
        refusedModel++;
      } else {
        assert.deepEqual(got, ctx);
        assert.ok(liveOthers < cap, `step ${step}: accepted beyond capacity`);
        model.set(k, { ctx, exp: now + ttl });
      }
    } else if (op < 75) {
      model.delete(k);
      r.unregister(UDP, verOf(k), ipOf(k), portOf(k));
    } else if (op < 77) {
      const id = `call-${rnd(30)}`;
      for (const [kk, v] of model) if (v.ctx.callId === id) model.delete(kk);
      r.unregisterCall(id);
    } else {
      const want = model.get(k);
      const reader = op & 1 ? r : other;
      const got = reader.lookupEndpoint(UDP, verOf(k), ipOf(k), portOf(k), now);
      if (want === undefined || want.exp <= now) assert.equal(got, null, `step ${step}: key ${k} should be absent`);
      else assert.deepEqual(got, want.ctx, `step ${step}: key ${k}`);
    }
  }
  const s = r.stats();
  assert.equal(s.refused_full, refusedModel);
  assert.ok(s.sweeps > 0 || s.expired_reclaimed > 0, 'churn reclaimed expired entries');
  assert.ok(s.max_probe < s.slots, `max_probe ${s.max_probe} stays bounded`);
  assert.ok(s.occupied <= cap);
});

test('sweeps are amortised: a churning table with many live calls, and a table full of live ones, are not scanned per insert', () => {
  // Many live endpoints under constant churn: expired entries leave
  // tombstones between live ones that no sweep can clear, so the tombstone
  // count stays above its threshold; a sweep per insert would scan the table
  // per call set up.
  const r = SharedFlowRegistry.create(1024); // 2048 slots
  const ip = new Uint8Array([10, 1, 0, 0]);
  let now = 1000;
  for (let n = 0; n < 20_000; n++) {
    ip[2] = (n >> 8) & 0xff;
    ip[3] = n & 0xff;
    r.register(UDP, 4, ip, 10_000 + 2 * (n % 20_000), rtp(`c${n}`), 10, now);
    now += 0.02; // about 500 endpoints live at any time
  }
  const s = r.stats();
  assert.equal(s.refused_full, 0);
  assert.ok(s.sweeps <= 20_000 / (2048 / 8) + 2, `${s.sweeps} sweeps for 20,000 inserts`);
  // Still every live entry found, none of the expired ones.
  ip[2] = (19_999 >> 8) & 0xff;
  ip[3] = 19_999 & 0xff;
  assert.equal(r.lookupEndpoint(UDP, 4, ip, 10_000 + 2 * 19_999, now)?.callId, 'c19999');
  assert.ok(r.size() > 400 && r.size() <= 501, `size ${r.size()}`);

  // Full of live entries: refusals are counted, with at most one sweep per second of packet time.
  const f = SharedFlowRegistry.create(64);
  for (let i = 0; i < 64; i++) f.register(UDP, 4, B, 20_000 + 2 * i, rtp(`live${i}`), 3600, 1000);
  const before = f.stats().sweeps;
  for (let i = 0; i < 1000; i++) f.register(UDP, 4, B, 30_000 + 2 * i, rtp(`late${i}`), 3600, 1000 + i * 0.01);
  const fs = f.stats();
  assert.equal(fs.refused_full, 1000);
  assert.ok(fs.sweeps - before <= 11, `${fs.sweeps - before} sweeps for 1,000 refusals over 10 s`);
});
