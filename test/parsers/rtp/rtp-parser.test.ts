// The rtp parser plugin: config, routing by FlowRegistry or heuristic,
// labels, payload forms, malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/errors.ts';
import { IPPROTO } from '../../../src/core/packet.ts';
import { isFlowRegistryAware, type FlowContext } from '../../../src/flow/api.ts';
import { SharedFlowRegistry } from '../../../src/flow/shared-flow-registry.ts';
import type { PluginContext } from '../../../src/plugin/interfaces.ts';
import { lookupPlugin } from '../../../src/plugin/registry.ts';
import { RtpParser, RtpPayload } from '../../../src/plugins/parser/rtp/index.ts';
import { CALLEE, CALLER, Rtcp, rtpPacket, udpPacket } from './rtp-wire.ts';

const ctx: PluginContext = { taskId: 't', workerIndex: 0, agent: 'edge-01', log: () => {} };
const UDP = IPPROTO.UDP;

function setup(config: Record<string, unknown> = {}, flows: [Uint8Array, number, FlowContext][] = []): { p: RtpParser; reg: SharedFlowRegistry } {
  const reg = SharedFlowRegistry.create(64);
  for (const [ip, port, c] of flows) reg.register(UDP, ip.length === 16 ? 6 : 4, ip, port, c, 60, 1000);
  const p = new RtpParser();
  p.init(config, ctx);
  p.setFlowRegistry(reg);
  return { p, reg };
}

const CALL: FlowContext = { callId: 'a84b4c76e66710@pc33', codec: 'PCMU', kind: 'rtp' };

test('registered as parser "rtp", FlowRegistry-aware', () => {
  const p = lookupPlugin('parser', 'rtp')();
  assert.ok(p instanceof RtpParser);
  assert.ok(isFlowRegistryAware(p));
});

test('config: defaults, port range, strict keys', () => {
  new RtpParser().init({}, ctx);
  new RtpParser().init({ heuristic: true, min_port: 10000, max_port: 20000 }, ctx);
  const bad: [unknown, RegExp][] = [
    [{ heuristic: 'yes' }, /parser rtp: config\.heuristic: /],
    [{ min_port: 0 }, /config\.min_port: /],
    [{ max_port: 70000 }, /config\.max_port: /],
    [{ min_port: 3000, max_port: 2000 }, /config\.min_port: min_port must not be greater than max_port/],
    [{ ports: [1] }, /parser rtp: .*ports/],
  ];
  for (const [cfg, re] of bad) {
    assert.throws(() => new RtpParser().init(cfg as Record<string, unknown>, ctx), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(cfg));
  }
});

test('registered flow: labels with call-id and codec, payload JSON and bytes', () => {
  const { p } = setup({}, [[CALLEE, 20000, CALL]]);
  const bytes = rtpPacket({ pt: 0, seq: 4660, ts: 0xfffffff0, ssrc: 0xdeadbeef, marker: true, payload: 160 });
  const pkt = udpPacket(bytes, { dstPort: 20000, frameNo: 1 });
  assert.equal(p.canHandle(pkt), true);
  const r = p.handle(pkt)!;
  assert.deepEqual(r.labels, { 'rtp.ssrc': '3735928559', 'rtp.pt': '0', 'rtp.seq': '4660', 'call-id': CALL.callId, codec: 'PCMU' });
  assert.ok(r.payload instanceof RtpPayload);
  assert.equal(r.payload.type, 'rtp');
  assert.deepEqual(r.payload.toJSON(), {
    version: 2,
    padding: false,
    extension: false,
    csrc_count: 0,
    marker: true,
    payload_type: 0,
    sequence: 4660,
    timestamp: 0xfffffff0,
    ssrc: 0xdeadbeef,
    csrcs: [],
    payload_length: 160,
  });
  const bin = r.payload.toBinary();
  assert.deepEqual(bin, bytes);
  pkt.data.fill(0);
  assert.deepEqual(bin, bytes, 'toBinary is a copy');
  assert.deepEqual(p.stats(), {
    packets: 1,
    registered: 1,
    unregistered: 0,
    malformed_too_short: 0,
    malformed_bad_version: 0,
    malformed_csrc_overflow: 0,
    malformed_extension_overflow: 0,
    malformed_bad_padding: 0,
  });
});

test('registered flow matches in either direction, IPv6 too; an empty codec adds no label', () => {
  const v6a = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i === 15 ? 1 : 0));
  const v6b = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i === 15 ? 2 : 0));
  const { p } = setup({}, [
    [CALLEE, 20000, CALL],
    [v6b, 30000, { callId: 'v6', codec: '', kind: 'rtp' }],
  ]);
  const back = udpPacket(rtpPacket({ pt: 8 }), { src: CALLEE, dst: CALLER, srcPort: 20000, dstPort: 40000 });
  assert.equal(p.canHandle(back), true);
  assert.equal(p.handle(back)!.labels['call-id'], CALL.callId);
  const six = udpPacket(rtpPacket({ pt: 111 }), { src: v6a, dst: v6b, srcPort: 5000, dstPort: 30000 });
  assert.equal(p.canHandle(six), true);
  assert.deepEqual(p.handle(six)!.labels, { 'rtp.ssrc': String(0x11223344), 'rtp.pt': '111', 'rtp.seq': '1', 'call-id': 'v6' });
});

test('the JSON text of an RTP payload is exactly JSON.stringify of its JSON form', () => {
  const { p } = setup({}, [[CALLEE, 20000, CALL]]);
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (let i = 0; i < 500; i++) {
    const csrcs = Array.from({ length: rnd(4) }, () => rnd(0x100000000));
    const ext = rnd(2) === 1 ? { profile: 0xbede, words: Array.from({ length: rnd(3) }, () => rnd(0x100000000)) } : undefined;
    const bytes = rtpPacket({ pt: rnd(2) ? rnd(72) : 96 + rnd(32), seq: rnd(65536), ts: rnd(0x100000000), ssrc: rnd(0x100000000), marker: rnd(2) === 1, csrcs, ext, pad: rnd(3), payload: rnd(200) });
    const r = p.handle(udpPacket(bytes, { dstPort: 20000 }));
    assert.ok(r, `packet ${i} parsed`);
    const pl = r.payload as RtpPayload;
    assert.equal(pl.toJsonText(), JSON.stringify(pl.toJSON()));
    // The cached head of this header's first bytes serves the next packet with the same ones.
    assert.equal(pl.toJsonText(), JSON.stringify(pl.toJSON()));
  }
});

test('SSRC and sequence texts (cached per value) are the numbers, whatever SSRCs share a cache entry', () => {
  const { p } = setup({}, [[CALLEE, 20000, CALL]]);
  let seed = 11;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  // 20,000 SSRCs (half of them 2^31 or more) in a 4,096-entry cache: many share an entry, and each comes back.
  const ssrcs = Array.from({ length: 20_000 }, () => rnd(0x100000000));
  for (let i = 0; i < 60_000; i++) {
    const ssrc = ssrcs[(i * 7919) % ssrcs.length]!;
    const seq = rnd(65536);
    const r = p.handle(udpPacket(rtpPacket({ pt: 0, seq, ssrc }), { dstPort: 20000 }))!;
    assert.equal(r.labels['rtp.ssrc'], String(ssrc));
    assert.equal(r.labels['rtp.seq'], String(seq));
    const json = JSON.parse((r.payload as RtpPayload).toJsonText()) as { ssrc: number; sequence: number };
    assert.equal(json.ssrc, ssrc);
    assert.equal(json.sequence, seq);
  }
});

test('codec label: a static payload type names itself, a dynamic one takes the registered codec', () => {
  const { p } = setup({}, [[CALLEE, 20000, { callId: 'c', codec: 'PCMU', kind: 'rtp' }]]);
  const label = (pt: number) => p.handle(udpPacket(rtpPacket({ pt }), { dstPort: 20000 }))!.labels['codec'];
  assert.equal(label(0), 'PCMU');
  assert.equal(label(8), 'PCMA', 'the SDP offered PCMU first, the packet is PCMA');
  assert.equal(label(13), 'CN');
  assert.equal(label(18), 'G729');
  assert.equal(label(101), 'PCMU', 'a dynamic type: the codec registered for the endpoint');
});

test('unregistered RTP is not handled unless heuristic; heuristic rules', () => {
  const bytes = rtpPacket({ pt: 0 });
  const off = setup();
  assert.equal(off.p.canHandle(udpPacket(bytes, { srcPort: 40000, dstPort: 20000 })), false);
  const noRegistry = new RtpParser();
  noRegistry.init({}, ctx);
  assert.equal(noRegistry.canHandle(udpPacket(bytes)), false);

  const { p } = setup({ heuristic: true });
  assert.equal(p.canHandle(udpPacket(bytes, { srcPort: 40001, dstPort: 20000 })), true, 'even destination');
  assert.equal(p.canHandle(udpPacket(bytes, { srcPort: 20000, dstPort: 40001 })), true, 'even source');
  assert.equal(p.canHandle(udpPacket(bytes, { srcPort: 40001, dstPort: 20001 })), false, 'odd ports');
  assert.equal(p.canHandle(udpPacket(bytes, { srcPort: 53, dstPort: 1001 })), false, 'below 1024 by default');
  for (const pt of [72, 73, 74, 75, 76]) {
    assert.equal(p.canHandle(udpPacket(rtpPacket({ pt }), { dstPort: 20000 })), false, `pt ${pt} is RTCP's range`);
  }
  assert.equal(p.canHandle(udpPacket(rtpPacket({ pt: 77 }), { dstPort: 20000 })), true);
  assert.equal(p.canHandle(udpPacket(rtpPacket({ version: 1 }), { dstPort: 20000 })), false, 'version 1');
  assert.equal(p.canHandle(udpPacket(bytes.subarray(0, 11), { dstPort: 20000 })), false, 'shorter than a header');
  assert.equal(p.canHandle(udpPacket(bytes, { dstPort: 20000, proto: IPPROTO.TCP })), false, 'TCP');
  const r = p.handle(udpPacket(bytes, { dstPort: 20000 }))!;
  assert.deepEqual(r.labels, { 'rtp.ssrc': String(0x11223344), 'rtp.pt': '0', 'rtp.seq': '1' });
  assert.equal(p.stats().unregistered, 1);

  const ranged = setup({ heuristic: true, min_port: 16384, max_port: 32767 }).p;
  assert.equal(ranged.canHandle(udpPacket(bytes, { srcPort: 40000, dstPort: 16384 })), true);
  assert.equal(ranged.canHandle(udpPacket(bytes, { srcPort: 40000, dstPort: 32768 })), false);
  assert.equal(ranged.canHandle(udpPacket(bytes, { srcPort: 40000, dstPort: 16382 })), false);
});

test('an endpoint registered for rtcp, and muxed RTCP on an rtp endpoint, are left to rtcp', () => {
  const { p } = setup({}, [
    [CALLEE, 20001, { ...CALL, kind: 'rtcp' }],
    [CALLEE, 20000, CALL],
  ]);
  assert.equal(p.canHandle(udpPacket(rtpPacket(), { dstPort: 20001 })), false);
  const sr = new Rtcp().sr(1, 2, 3, 4, 5, 6).build();
  assert.equal(p.canHandle(udpPacket(sr, { dstPort: 20000 })), false, 'SR on the RTP port (rtcp-mux)');
  // Marker bit + PT 72..79 is the same byte as RTCP 200..207, even with heuristic on.
  const h = setup({ heuristic: true }).p;
  assert.equal(h.canHandle(udpPacket(rtpPacket({ marker: true, pt: 79 }), { dstPort: 20000 })), false);
  assert.equal(h.canHandle(udpPacket(rtpPacket({ marker: true, pt: 80 }), { dstPort: 20000 })), true);
});

test('CSRCs, header extension and padding', () => {
  const { p } = setup({}, [[CALLEE, 20000, CALL]]);
  const bytes = rtpPacket({ pt: 96, csrcs: [1, 0xffffffff], ext: { profile: 0xbede, words: [0x10203040, 0] }, payload: 20, pad: 4 });
  const r = p.handle(udpPacket(bytes, { dstPort: 20000 }))!;
  assert.deepEqual(r.payload.toJSON(), {
    version: 2,
    padding: true,
    extension: true,
    csrc_count: 2,
    marker: false,
    payload_type: 96,
    sequence: 1,
    timestamp: 160,
    ssrc: 0x11223344,
    csrcs: [1, 0xffffffff],
    payload_length: 20,
  });
  assert.equal(r.payload.toBinary().length, 12 + 8 + 4 + 8 + 20 + 4);
  // Padding that fills the whole packet after the header is legal.
  assert.equal((p.handle(udpPacket(rtpPacket({ payload: 0, pad: 8 })))!.payload.toJSON() as { payload_length: number }).payload_length, 0);
});

test('malformed packets are counted by reason and never reported', () => {
  const { p } = setup({}, [[CALLEE, 20000, CALL]]);
  const cases: [string, Uint8Array][] = [
    ['too_short', rtpPacket().subarray(0, 11)],
    ['bad_version', rtpPacket({ version: 1 })],
    ['bad_version', rtpPacket({ version: 3 })],
    ['csrc_overflow', rtpPacket({ csrcs: [1, 2, 3], payload: 0 }).subarray(0, 20)],
    ['extension_overflow', rtpPacket({ payload: 0 }).map((b, i) => (i === 0 ? b | 0x10 : b))],
    ['extension_overflow', rtpPacket({ ext: { profile: 0xbede, words: [1, 2] }, payload: 0 }).subarray(0, 20)],
    ['bad_padding', rtpPacket({ payload: 4, pad: 1 }).map((b, i, a) => (i === a.length - 1 ? 0 : b))],
    ['bad_padding', rtpPacket({ payload: 4, pad: 1 }).map((b, i, a) => (i === a.length - 1 ? 6 : b))],
  ];
  for (const [reason, bytes] of cases) {
    const before = p.stats()[`malformed_${reason}`]!;
    assert.equal(p.handle(udpPacket(bytes, { dstPort: 20000 })), null, reason);
    assert.equal(p.stats()[`malformed_${reason}`], before + 1, reason);
  }
  assert.equal(p.stats().packets, 0);
});

test('damaged packets on a registered flow reach handle() and are counted; STUN/DTLS on the media port are not RTP', () => {
  const { p } = setup({}, [[CALLEE, 20000, CALL]]);
  const damaged: [string, Uint8Array][] = [
    ['too_short', rtpPacket().subarray(0, 3)],
    // version 1 with the padding bit: first byte 0x60 (0x40-0x4f would be a TURN channel)
    ['bad_version', rtpPacket({ version: 1 }).map((b, i) => (i === 0 ? 0x60 : b))],
    ['bad_version', rtpPacket({ version: 3 })],
  ];
  for (const [reason, bytes] of damaged) {
    const pkt = udpPacket(bytes, { dstPort: 20000 });
    assert.equal(p.canHandle(pkt), true, reason);
    const before = p.stats()[`malformed_${reason}`]!;
    assert.equal(p.handle(pkt), null, reason);
    assert.equal(p.stats()[`malformed_${reason}`], before + 1, reason);
  }
  // RFC 7983 demultiplexing: STUN (0-3), ZRTP (16-19), DTLS (20-63), TURN channels (64-79).
  for (const first of [0x00, 0x01, 0x10, 0x16, 0x40, 0x4f]) {
    const bytes = rtpPacket().map((b, i) => (i === 0 ? first : b));
    assert.equal(p.canHandle(udpPacket(bytes, { dstPort: 20000 })), false, `first byte ${first}`);
  }
  assert.equal(p.canHandle(udpPacket(rtpPacket().subarray(0, 11), { dstPort: 20002 })), false, 'short, unregistered');
});

test('random mutations and truncations never throw', () => {
  const { p } = setup({ heuristic: true }, [[CALLEE, 20000, CALL]]);
  const seeds = [
    rtpPacket({ csrcs: [7], ext: { profile: 0xbede, words: [1] }, payload: 12, pad: 4 }),
    rtpPacket({ pt: 8, payload: 0 }),
    new Rtcp().sr(1, 2, 3, 4, 5, 6).build(),
  ];
  let s = 99;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  let reported = 0;
  for (let i = 0; i < 20000; i++) {
    const src = seeds[i % seeds.length]!;
    const b = src.slice(0, rnd(src.length + 1));
    for (let m = rnd(4); m > 0 && b.length > 0; m--) b[rnd(b.length)] = rnd(256);
    const pkt = udpPacket(b, { dstPort: 20000 + rnd(2), frameNo: i + 1 });
    if (p.canHandle(pkt)) {
      const r = p.handle(pkt);
      if (r !== null) {
        reported++;
        JSON.stringify(r.payload.toJSON());
        assert.equal(r.payload.toBinary().length, b.length);
      }
    }
    // handle without canHandle must be just as safe.
    p.handle(pkt);
  }
  assert.ok(reported > 0);
});
