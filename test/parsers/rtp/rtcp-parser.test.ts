// The rtcp parser plugin: routing, every packet type summarised, compound
// walking, malformed input, and a cross-check with tshark when installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/core/errors.ts';
import { IPPROTO } from '../../../src/core/packet.ts';
import { isFlowRegistryAware, type FlowContext } from '../../../src/flow/api.ts';
import { SharedFlowRegistry } from '../../../src/flow/shared-flow-registry.ts';
import type { PluginContext } from '../../../src/plugin/interfaces.ts';
import { lookupPlugin } from '../../../src/plugin/registry.ts';
import { RtcpParser, RtcpPayload } from '../../../src/plugins/parser/rtcp/index.ts';
import { RtpParser } from '../../../src/plugins/parser/rtp/index.ts';
import { writePcap } from '../../helpers/pcap-writer.ts';
import { CALLEE, CALLER, Rtcp, rtpPacket, udpPacket, type ReportBlockSpec } from './rtp-wire.ts';

const ctx: PluginContext = { taskId: 't', workerIndex: 0, agent: 'edge-01', log: () => {} };
const UDP = IPPROTO.UDP;
const CALL: FlowContext = { callId: 'call-1@example', codec: 'PCMA', kind: 'rtcp' };

function setup(config: Record<string, unknown> = {}, flows: [Uint8Array, number, FlowContext][] = []): { p: RtcpParser; reg: SharedFlowRegistry } {
  const reg = SharedFlowRegistry.create(64);
  for (const [ip, port, c] of flows) reg.register(UDP, 4, ip, port, c, 60, 1000);
  const p = new RtcpParser();
  p.init(config, ctx);
  p.setFlowRegistry(reg);
  return { p, reg };
}

const RB1: ReportBlockSpec = { ssrc: 0xaaaa0001, fractionLost: 25, cumulativeLost: 1234, highestSeq: 0x0001ffff, jitter: 77, lsr: 0x12345678, dlsr: 65536 };
const RB2: ReportBlockSpec = { ssrc: 0xaaaa0002, fractionLost: 0, cumulativeLost: -3, highestSeq: 9, jitter: 0, lsr: 0, dlsr: 0 };
const RB1_JSON = { ssrc: 0xaaaa0001, fraction_lost: 25, cumulative_lost: 1234, highest_seq: 0x0001ffff, jitter: 77, lsr: 0x12345678, dlsr: 65536 };
const RB2_JSON = { ssrc: 0xaaaa0002, fraction_lost: 0, cumulative_lost: -3, highest_seq: 9, jitter: 0, lsr: 0, dlsr: 0 };

function json(p: RtcpParser, bytes: Uint8Array, dstPort = 20001): { labels: Record<string, string>; payload: { length: number; packets: unknown[]; error?: string } } {
  const r = p.handle(udpPacket(bytes, { dstPort }));
  assert.ok(r !== null, 'reported');
  assert.ok(r.payload instanceof RtcpPayload);
  return { labels: r.labels, payload: r.payload.toJSON() as { length: number; packets: unknown[]; error?: string } };
}

test('registered as parser "rtcp", FlowRegistry-aware; config strict, heuristic on by default', () => {
  const p = lookupPlugin('parser', 'rtcp')();
  assert.ok(p instanceof RtcpParser);
  assert.ok(isFlowRegistryAware(p));
  assert.throws(() => new RtcpParser().init({ heuristic: 1 }, ctx), (e: unknown) => e instanceof ConfigError && /parser rtcp: config\.heuristic/.test(e.message));
  assert.throws(() => new RtcpParser().init({ port: 5 }, ctx), ConfigError);
  const sr = new Rtcp().sr(1, 2, 3, 4, 5, 6).build();
  const q = new RtcpParser();
  q.init({}, ctx);
  assert.equal(q.canHandle(udpPacket(sr)), true, 'no registry needed by default');
});

test('canHandle: version 2, types 200-207, whole first length; registry or heuristic', () => {
  const { p } = setup();
  const sr = new Rtcp().sr(1, 2, 3, 4, 5, 6).build();
  assert.equal(p.canHandle(udpPacket(sr)), true);
  assert.equal(p.canHandle(udpPacket(sr, { proto: IPPROTO.TCP })), false);
  assert.equal(p.canHandle(udpPacket(sr.subarray(0, 7))), false, 'shorter than 8');
  assert.equal(p.canHandle(udpPacket(new Rtcp().raw(0, 199, new Uint8Array(4)).build())), false, 'type 199');
  assert.equal(p.canHandle(udpPacket(new Rtcp().raw(0, 208, new Uint8Array(4)).build())), false, 'type 208');
  assert.equal(p.canHandle(udpPacket(new Rtcp().raw(0, 201, new Uint8Array(4), { version: 1 }).build())), false, 'version 1');
  assert.equal(p.canHandle(udpPacket(rtpPacket())), false, 'RTP');
  const long = new Rtcp().raw(0, 201, new Uint8Array(4), { lengthWords: 9 }).build();
  assert.equal(p.canHandle(udpPacket(long)), false, 'first length beyond the datagram');

  const strict = setup({ heuristic: false }, [
    [CALLEE, 20001, CALL],
    [CALLEE, 20000, { ...CALL, kind: 'rtp' }],
  ]).p;
  assert.equal(strict.canHandle(udpPacket(sr, { dstPort: 20001 })), true, 'registered rtcp endpoint');
  assert.equal(strict.canHandle(udpPacket(sr, { src: CALLEE, dst: CALLER, srcPort: 20001, dstPort: 9 })), true, 'from it');
  assert.equal(strict.canHandle(udpPacket(sr, { dstPort: 20000 })), true, 'rtcp-mux on the rtp endpoint');
  assert.equal(strict.canHandle(udpPacket(sr, { dstPort: 20003 })), false, 'unregistered');
  assert.equal(strict.canHandle(udpPacket(long, { dstPort: 20001 })), true, 'registered: damage is handle()\'s to count');
});

test('SR with report blocks, plus SDES and BYE: labels from the first packet, call-id from the registry', () => {
  const { p } = setup({}, [[CALLEE, 20001, CALL]]);
  const bytes = new Rtcp()
    .sr(0xdeadbeef, 3913056000, 0x80000000, 160000, 1000, 160000, [RB1, RB2])
    .sdes([{ ssrc: 0xdeadbeef, items: [[1, 'alice@10.0.0.1'], [6, 'otus-test']] }])
    .bye([0xdeadbeef], 'hangup')
    .build();
  const { labels, payload } = json(p, bytes);
  assert.deepEqual(labels, { 'rtcp.type': 'SR', 'rtcp.ssrc': '3735928559', 'call-id': CALL.callId });
  assert.equal(payload.length, bytes.length);
  assert.equal(payload.error, undefined);
  assert.deepEqual(payload.packets, [
    { type: 'SR', ssrc: 0xdeadbeef, ntp_sec: 3913056000, ntp_frac: 0x80000000, rtp_ts: 160000, packet_count: 1000, octet_count: 160000, reports: [RB1_JSON, RB2_JSON] },
    { type: 'SDES', chunks: [{ ssrc: 0xdeadbeef, items: [{ type: 'cname', text: 'alice@10.0.0.1' }, { type: 'tool', text: 'otus-test' }] }] },
    { type: 'BYE', ssrcs: [0xdeadbeef], reason: 'hangup' },
  ]);
  assert.equal(p.stats().registered, 1);
  // Unregistered flow: no call-id.
  assert.deepEqual(json(p, bytes, 30001).labels, { 'rtcp.type': 'SR', 'rtcp.ssrc': '3735928559' });
});

test('RR, SDES (every item, several chunks), BYE without reason, APP', () => {
  const { p } = setup();
  let r = json(p, new Rtcp().rr(7, [RB2]).build());
  assert.deepEqual(r.labels, { 'rtcp.type': 'RR', 'rtcp.ssrc': '7' });
  assert.deepEqual(r.payload.packets, [{ type: 'RR', ssrc: 7, reports: [RB2_JSON] }]);
  assert.deepEqual(json(p, new Rtcp().rr(8).build()).payload.packets, [{ type: 'RR', ssrc: 8, reports: [] }]);

  r = json(
    p,
    new Rtcp()
      .sdes([
        { ssrc: 1, items: [[1, 'cn'], [2, 'Ann Example'], [3, 'ann@example.com'], [4, '+1 555'], [5, 'Berlin'], [6, 'tool 1.0'], [7, 'note ✓'], [8, 'pfx', 'value'], [42, 'x']] },
        { ssrc: 2, items: [] },
        { ssrc: 3, items: [[1, 'abc']] },
      ])
      .build(),
  );
  assert.deepEqual(r.labels, { 'rtcp.type': 'SDES', 'rtcp.ssrc': '1' });
  assert.deepEqual(r.payload.packets, [
    {
      type: 'SDES',
      chunks: [
        {
          ssrc: 1,
          items: [
            { type: 'cname', text: 'cn' },
            { type: 'name', text: 'Ann Example' },
            { type: 'email', text: 'ann@example.com' },
            { type: 'phone', text: '+1 555' },
            { type: 'loc', text: 'Berlin' },
            { type: 'tool', text: 'tool 1.0' },
            { type: 'note', text: 'note ✓' },
            { type: 'priv', prefix: 'pfx', text: 'value' },
            { type: 'unknown', code: 42, text: 'x' },
          ],
        },
        { ssrc: 2, items: [] },
        { ssrc: 3, items: [{ type: 'cname', text: 'abc' }] },
      ],
    },
  ]);

  r = json(p, new Rtcp().bye([5, 6]).build());
  assert.deepEqual(r.labels, { 'rtcp.type': 'BYE', 'rtcp.ssrc': '5' });
  assert.deepEqual(r.payload.packets, [{ type: 'BYE', ssrcs: [5, 6] }]);
  r = json(p, new Rtcp().bye([], 'gone').build());
  assert.deepEqual(r.labels, { 'rtcp.type': 'BYE' }, 'no SSRC, no rtcp.ssrc');
  assert.deepEqual(r.payload.packets, [{ type: 'BYE', ssrcs: [], reason: 'gone' }]);

  r = json(p, new Rtcp().app(3, 0x01020304, 'qak1', [1, 2, 3, 4, 5, 6, 7, 8]).build());
  assert.deepEqual(r.labels, { 'rtcp.type': 'APP', 'rtcp.ssrc': '16909060' });
  assert.deepEqual(r.payload.packets, [{ type: 'APP', ssrc: 0x01020304, subtype: 3, name: 'qak1', data_length: 8 }]);
});

test('feedback (RTPFB, PSFB) and XR', () => {
  const { p } = setup();
  let r = json(p, new Rtcp().fb(205, 1, 10, 20, [0, 5, 0, 0]).fb(206, 1, 10, 20, []).fb(206, 15, 10, 0, [0x52, 0x45, 0x4d, 0x42, 1, 2, 3, 4]).fb(205, 2, 1, 2, []).build());
  assert.deepEqual(r.labels, { 'rtcp.type': 'RTPFB', 'rtcp.ssrc': '10' });
  assert.deepEqual(r.payload.packets, [
    { type: 'RTPFB', fmt: 1, fmt_name: 'NACK', sender_ssrc: 10, media_ssrc: 20, fci_length: 4 },
    { type: 'PSFB', fmt: 1, fmt_name: 'PLI', sender_ssrc: 10, media_ssrc: 20, fci_length: 0 },
    { type: 'PSFB', fmt: 15, fmt_name: 'AFB', sender_ssrc: 10, media_ssrc: 0, fci_length: 8 },
    { type: 'RTPFB', fmt: 2, sender_ssrc: 1, media_ssrc: 2, fci_length: 0 },
  ]);
  r = json(p, new Rtcp().fb(206, 4, 99, 0, [0, 0, 0, 1, 0, 0, 0, 0]).build());
  assert.deepEqual(r.labels, { 'rtcp.type': 'PSFB', 'rtcp.ssrc': '99' });

  r = json(p, new Rtcp().xr(0x0badcafe, [{ bt: 4, words: 2 }, { bt: 7, words: 8 }, { bt: 99, words: 0 }]).build());
  assert.deepEqual(r.labels, { 'rtcp.type': 'XR', 'rtcp.ssrc': String(0x0badcafe) });
  assert.deepEqual(r.payload.packets, [
    {
      type: 'XR',
      ssrc: 0x0badcafe,
      blocks: [
        { type: 4, name: 'receiver-reference-time', length: 8 },
        { type: 7, name: 'voip-metrics', length: 32 },
        { type: 99, length: 0 },
      ],
    },
  ]);
});

test('padding, unknown types inside a compound, binary form', () => {
  const { p } = setup();
  const bytes = new Rtcp().rr(1).raw(0, 195, new Uint8Array(8)).raw(1, 202, Uint8Array.of(0, 0, 0, 9, 1, 1, 0x41, 0), { pad: 4 }).build();
  const r = p.handle(udpPacket(bytes))!;
  assert.deepEqual((r.payload.toJSON() as { packets: unknown[] }).packets, [
    { type: 'RR', ssrc: 1, reports: [] },
    { type: 'unknown', packet_type: 195, length: 12 },
    { type: 'SDES', chunks: [{ ssrc: 9, items: [{ type: 'cname', text: 'A' }] }] },
  ]);
  const bin = r.payload.toBinary();
  assert.deepEqual(bin, bytes);
  assert.notEqual(bin.buffer, udpPacket(bytes).data.buffer);
});

test('damage: the first packet rejects, a later one keeps what came before', () => {
  const { p } = setup({}, [[CALLEE, 20001, CALL]]);
  const good = new Rtcp().rr(1).build();
  const reject: [string, Uint8Array][] = [
    ['bad_length', new Rtcp().raw(0, 201, new Uint8Array(4), { lengthWords: 5 }).build()],
    ['bad_rr', new Rtcp().raw(2, 201, new Uint8Array(4)).build()],
    ['bad_sr', new Rtcp().raw(0, 200, new Uint8Array(16)).build()],
    ['bad_padding', new Rtcp().raw(0, 201, new Uint8Array(8)).build().map((b, i) => (i === 0 ? b | 0x20 : b))],
    ['bad_sdes', new Rtcp().raw(1, 202, Uint8Array.of(0, 0, 0, 1, 1, 9, 0x41, 0)).build()],
    ['bad_bye', new Rtcp().raw(3, 203, new Uint8Array(8)).build()],
    ['bad_bye', new Rtcp().raw(1, 203, Uint8Array.of(0, 0, 0, 1, 9, 0x41, 0x42, 0)).build()],
    ['bad_app', new Rtcp().raw(0, 204, new Uint8Array(4)).build()],
    ['bad_feedback', new Rtcp().raw(1, 205, new Uint8Array(4)).build()],
    ['bad_xr', new Rtcp().raw(0, 207, Uint8Array.of(0, 0, 0, 1, 4, 0, 0, 9)).build()],
    ['too_short', good.subarray(0, 7)],
    ['not_rtcp', rtpPacket()],
  ];
  for (const [reason, bytes] of reject) {
    const before = p.stats()[`malformed_${reason}`]!;
    assert.equal(p.handle(udpPacket(bytes, { dstPort: 20001 })), null, reason);
    assert.equal(p.stats()[`malformed_${reason}`], before + 1, reason);
  }
  assert.equal(p.stats().rejected, reject.length);
  assert.equal(p.stats().packets, 0);

  const partial = new Uint8Array(good.length + 8);
  partial.set(good);
  partial.set([0x80, 202, 0, 9, 0, 0, 0, 0], good.length); // length beyond the datagram
  const { labels, payload } = json(p, partial);
  assert.deepEqual(labels, { 'rtcp.type': 'RR', 'rtcp.ssrc': '1', 'call-id': CALL.callId });
  assert.deepEqual(payload.packets, [{ type: 'RR', ssrc: 1, reports: [] }]);
  assert.equal(payload.error, 'bad_length');
  const trailing = new Uint8Array(good.length + 2);
  trailing.set(good);
  trailing[good.length] = 0x80;
  assert.equal(json(p, trailing).payload.error, 'too_short');
  const s = p.stats();
  assert.equal(s.packets, 2);
  assert.equal(s.partial, 2);
});

test('one probe per packet: rtcp canHandle, then handle, on the same frame', () => {
  const { p, reg } = setup({ heuristic: false }, [[CALLEE, 20001, CALL]]);
  const rtp = new RtpParser();
  rtp.init({}, ctx);
  rtp.setFlowRegistry(reg);
  const pkt = udpPacket(new Rtcp().rr(1).build(), { dstPort: 20001, frameNo: 41 });
  assert.equal(rtp.canHandle(pkt), false);
  assert.equal(p.canHandle(pkt), true);
  assert.equal(p.handle(pkt)!.labels['call-id'], CALL.callId);
  const s = reg.stats();
  assert.equal(s.lookups, 1);
  assert.equal(s.memo_hits, 1);
});

test('random mutations and truncations never throw', () => {
  const { p } = setup({}, [[CALLEE, 20001, CALL]]);
  const seeds = [
    new Rtcp().sr(1, 2, 3, 4, 5, 6, [RB1]).sdes([{ ssrc: 1, items: [[1, 'x@y'], [8, 'p', 'v']] }]).bye([1], 'bye').build(),
    new Rtcp().rr(1, [RB2]).xr(1, [{ bt: 5, words: 3 }]).fb(206, 1, 1, 2, []).app(1, 1, 'abcd', [1, 2, 3, 4]).build(),
  ];
  let s = 7;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  let reported = 0;
  for (let i = 0; i < 20000; i++) {
    const src = seeds[i & 1]!;
    const b = src.slice(0, rnd(src.length + 1));
    for (let m = rnd(5); m > 0 && b.length > 0; m--) b[rnd(b.length)] = rnd(256);
    const pkt = udpPacket(b, { dstPort: 20001, frameNo: i + 1 });
    p.canHandle(pkt);
    const r = p.handle(pkt);
    if (r !== null) {
      reported++;
      JSON.stringify(r.payload.toJSON());
      assert.ok(['SR', 'RR', 'SDES', 'BYE', 'APP', 'RTPFB', 'PSFB', 'XR'].includes(r.labels['rtcp.type']!));
    }
  }
  assert.ok(reported > 0);
  const st = p.stats();
  assert.equal(st.packets! + st.rejected!, 20000);
});

function hasTshark(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Ethernet + IPv4 + UDP around `payload` (checksum 0: tshark does not verify UDP by default). */
function frame(payload: Uint8Array, srcPort: number, dstPort: number): Uint8Array {
  const f = new Uint8Array(42 + payload.length);
  f.set([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00], 0);
  const ipLen = 20 + 8 + payload.length;
  f.set([0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 1, 0, 0, 64, 17, 0, 0, ...CALLER, ...CALLEE], 14);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += (f[i]! << 8) | f[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  sum = ~sum & 0xffff;
  f[24] = sum >> 8;
  f[25] = sum & 0xff;
  const udpLen = 8 + payload.length;
  f.set([srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, udpLen >> 8, udpLen & 0xff, 0, 0], 34);
  f.set(payload, 42);
  return f;
}

test('tshark agrees on the types and sender SSRCs of a compound packet', { skip: !hasTshark() && 'tshark not installed' }, () => {
  const bytes = new Rtcp()
    .sr(0x01020304, 3913056000, 0, 8000, 50, 8000, [RB1])
    .sdes([{ ssrc: 0x01020304, items: [[1, 'me@host']] }])
    .fb(206, 1, 0x05060708, 0x01020304, [])
    .xr(0x0a0b0c0d, [{ bt: 4, words: 2 }])
    .bye([0x01020304])
    .build();
  const dir = mkdtempSync(join(tmpdir(), 'otus-rtcp-'));
  try {
    const file = join(dir, 'rtcp.pcap');
    writePcap(file, [{ data: frame(bytes, 40001, 20001), tsSec: 1000, tsNsec: 0 }]);
    const out = execFileSync('tshark', ['-r', file, '-d', 'udp.port==20001,rtcp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'rtcp.pt', '-e', 'rtcp.senderssrc'], {
      encoding: 'utf8',
      env: { ...process.env, HOME: dir },
    }).trim();
    const [pts, ssrcs] = out.split('\t');
    const { p } = setup();
    const r = p.handle(udpPacket(bytes, { dstPort: 20001 }))!;
    const packets = (r.payload.toJSON() as { packets: { type: string; ssrc?: number; sender_ssrc?: number }[] }).packets;
    const ptOf: Record<string, number> = { SR: 200, RR: 201, SDES: 202, BYE: 203, APP: 204, RTPFB: 205, PSFB: 206, XR: 207 };
    assert.equal(pts, packets.map((x) => ptOf[x.type]).join(','));
    // tshark's senderssrc: SR, RR, feedback, XR (SDES and BYE carry SSRC lists instead).
    const withSender = packets.filter((x) => x.ssrc !== undefined || x.sender_ssrc !== undefined).map((x) => `0x${(x.ssrc ?? x.sender_ssrc)!.toString(16).padStart(8, '0')}`);
    assert.deepEqual(ssrcs!.split(','), withSender);
    assert.equal(r.labels['rtcp.ssrc'], String(Number(ssrcs!.split(',')[0])));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
