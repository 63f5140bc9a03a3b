import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodedPacket, LinkType, TunnelType, newRawPacket, type RawPacket } from '../../src/core/packet.ts';
import { formatIp, formatMac } from '../../src/core/ip.ts';
import { Decoder } from '../../src/decoder/decoder.ts';
import { DecodeResult, defaultDecoderConfig, type DecoderConfig } from '../../src/decoder/api.ts';
import * as F from './frames.ts';

const ALL_TUNNELS: DecoderConfig = { ...defaultDecoderConfig(), tunnel: { vxlan: true, geneve: true, gre: true, erspan: true, ipip: true } };

/**
 * The frame as live rings hand it over: inside a larger buffer (RawPacket
 * offset and end), with bytes before and after it that would decode as
 * something else (an IPv4 header start, all-ones): a decoder reading outside
 * the frame's bounds fails the test that sent the frame.
 */
function raw(data: Uint8Array, linkType: number = LinkType.ETHERNET, tsSec = 1000, origLen = data.length): RawPacket {
  const r = newRawPacket();
  const before = 37;
  const buf = new Uint8Array(before + data.length + 23).fill(0xff);
  buf.fill(0x45, 0, before);
  buf.set(data, before);
  r.data = buf;
  r.offset = before;
  r.end = before + data.length;
  r.origLen = origLen;
  r.linkType = linkType;
  r.tsSec = tsSec;
  return r;
}

function decode(data: Uint8Array, o: { link?: number; cfg?: DecoderConfig; dec?: Decoder; ts?: number; origLen?: number } = {}) {
  const dec = o.dec ?? new Decoder(o.cfg ?? defaultDecoderConfig());
  const out = new DecodedPacket();
  const r = dec.decode(raw(data, o.link ?? LinkType.ETHERNET, o.ts ?? 1000, o.origLen ?? data.length), out);
  return { r, out, dec, payload: Buffer.from(out.payload) };
}

const flow = (d: DecodedPacket) => `${formatIp(d.ipVersion, d.srcIp)}:${d.srcPort} > ${formatIp(d.ipVersion, d.dstIp)}:${d.dstPort} p${d.protocol}`;
const vlans = (d: DecodedPacket) => Array.from(d.vlans.subarray(0, d.vlanCount));

const udp4 = (payload = F.bytes(20)) => F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, ttl: 61, id: 77 }, F.udp(5060, 5062, payload));

test('Ethernet + IPv4 + UDP: addresses, ports, TTL, id, payload; trailing padding is not payload', () => {
  const p = F.bytes(4);
  const frame = F.cat(F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, ttl: 61, id: 77 }, F.udp(1000, 2000, p))), new Uint8Array(20));
  const { r, out, payload, dec } = decode(frame);
  assert.equal(r, DecodeResult.OK);
  assert.equal(flow(out), '10.0.0.1:1000 > 10.0.0.2:2000 p17');
  assert.equal(out.ttl, 61);
  assert.equal(out.ipId, 77);
  assert.equal(formatMac(out.srcMac), '02:00:00:00:00:0a');
  assert.equal(formatMac(out.dstMac), '02:00:00:00:00:0b');
  assert.deepEqual(payload, Buffer.from(p));
  assert.equal(out.truncated, false);
  assert.equal(dec.stats.decoded, 1);
  assert.deepEqual(dec.stats.errorsByReason(), {});
});

test('802.1Q, QinQ (0x88a8, 0x9100) and deep stacks keep the ids in wire order', () => {
  const tags = [{ tpid: 0x88a8, id: 100 }, { tpid: 0x9100, id: 200 }, { id: 300 }, { id: 4095 }];
  const { r, out } = decode(F.eth(0x0800, udp4(), tags));
  assert.equal(r, DecodeResult.OK);
  assert.deepEqual(vlans(out), [100, 200, 300, 4095]);
  assert.equal(flow(out), '10.0.0.1:5060 > 10.0.0.2:5062 p17');
  // Beyond MAX_VLANS the packet still decodes; the extra ids are counted, not kept.
  const many = Array.from({ length: 10 }, (_, i) => ({ id: i + 1 }));
  const d2 = decode(F.eth(0x0800, udp4(), many));
  assert.equal(d2.r, DecodeResult.OK);
  assert.deepEqual(vlans(d2.out), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(d2.dec.stats.errorsByReason(), { vlan_too_deep: 2 });
});

test('IPv4 options are skipped by IHL', () => {
  const ip = F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, options: [0x94, 4, 0, 0, 1, 1, 1, 0] }, F.udp(1, 2, F.bytes(3)));
  const { out, payload } = decode(F.eth(0x0800, ip));
  assert.equal(flow(out), '10.0.0.1:1 > 10.0.0.2:2 p17');
  assert.equal(payload.length, 3);
});

test('IPv6 extension chain: hop-by-hop, routing, destination options, AH, then TCP', () => {
  const t = F.tcp({ sport: 443, dport: 50000, seq: 0xfffffff0, ack: 7, flags: 0x12, window: 1000, options: [2, 4, 5, 0xb4] }, F.bytes(9));
  // hop-by-hop (nh 43) -> routing (nh 60) -> destination options, 16 bytes (nh 51) -> AH (nh 6) -> TCP
  const chain = F.ext6(43, F.ext6(60, F.ext6(51, F.ah(6, t), 1)));
  const { r, out, payload } = decode(F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 0, hlim: 9 }, chain)));
  assert.equal(r, DecodeResult.OK);
  assert.equal(out.ipVersion, 6);
  assert.equal(out.protocol, 6);
  assert.equal(out.ttl, 9);
  assert.equal(flow(out), '2001:db8::1:443 > 2001:db8::2:50000 p6');
  assert.equal(out.tcpSeq, 0xfffffff0);
  assert.equal(out.tcpAck, 7);
  assert.equal(out.tcpFlags, 0x12);
  assert.equal(out.tcpHeaderLen, 24);
  assert.equal(out.tcpWindow, 1000);
  assert.equal(payload.length, 9);
});

test('ICMP and ICMPv6 pass with type and code; other protocols pass with their L3 fields', () => {
  const a = decode(F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 1 }, F.icmp(8, 0, F.bytes(32)))));
  assert.equal(a.r, DecodeResult.OK);
  assert.equal(a.out.icmpType, 8);
  assert.equal(a.payload.length, 32);
  const b = decode(F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 58 }, F.icmp(128, 0, F.bytes(8)))));
  assert.equal(b.out.icmpType, 128);
  assert.equal(b.out.protocol, 58);
  const c = decode(F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 89 }, F.bytes(40)))); // OSPF
  assert.equal(c.r, DecodeResult.OK);
  assert.equal(c.out.protocol, 89);
  assert.equal(c.payload.length, 40);
  assert.equal(c.out.srcPort, 0);
});

test('every link type: cooked v1/v2, raw, IPv4/IPv6 link types, BSD null (both orders), OpenBSD loop', () => {
  const ip4 = udp4();
  const ip6 = F.ipv6({ src: F.V6A, dst: F.V6B, nh: 17 }, F.udp(1, 2, F.bytes(5)));
  const sll = F.cat([0, 0], [0, 1], [0, 6], F.MAC_A, [0, 0], [0x08, 0x00], ip4);
  const sll2 = F.cat([0x86, 0xdd], [0, 0], [0, 0, 0, 3], [0, 1], [0], [6], F.MAC_A, [0, 0], ip6);
  const cases: [string, number, Uint8Array, string][] = [
    ['sll', LinkType.LINUX_SLL, sll, '10.0.0.1:5060 > 10.0.0.2:5062 p17'],
    ['sll2', LinkType.LINUX_SLL2, sll2, '2001:db8::1:1 > 2001:db8::2:2 p17'],
    ['raw v4', LinkType.RAW, ip4, '10.0.0.1:5060 > 10.0.0.2:5062 p17'],
    ['raw v6', LinkType.RAW, ip6, '2001:db8::1:1 > 2001:db8::2:2 p17'],
    ['ipv4', LinkType.IPV4, ip4, '10.0.0.1:5060 > 10.0.0.2:5062 p17'],
    ['ipv6', LinkType.IPV6, ip6, '2001:db8::1:1 > 2001:db8::2:2 p17'],
    ['null LE', LinkType.NULL, F.cat([2, 0, 0, 0], ip4), '10.0.0.1:5060 > 10.0.0.2:5062 p17'],
    ['null BE v6', LinkType.NULL, F.cat([0, 0, 0, 30], ip6), '2001:db8::1:1 > 2001:db8::2:2 p17'],
    ['loop', LinkType.LOOP, F.cat([0, 0, 0, 24], ip6), '2001:db8::1:1 > 2001:db8::2:2 p17'],
  ];
  for (const [name, link, data, want] of cases) {
    const { r, out } = decode(data, { link });
    assert.equal(r, DecodeResult.OK, name);
    assert.equal(flow(out), want, name);
  }
  const s = decode(sll, { link: LinkType.LINUX_SLL });
  assert.equal(formatMac(s.out.srcMac), '02:00:00:00:00:0a');
  const u = decode(ip4, { link: 147 });
  assert.equal(u.r, DecodeResult.DROPPED);
  assert.deepEqual(u.dec.stats.errorsByReason(), { unsupported_link_type: 1 });
});

test('non-IP frames are dropped and counted as non_ip, not as errors', () => {
  const { r, dec } = decode(F.eth(0x0806, F.bytes(28)));
  assert.equal(r, DecodeResult.DROPPED);
  assert.equal(dec.stats.nonIp, 1);
  assert.deepEqual(dec.stats.errorsByReason(), {});
});

test('a snaplen cut keeps what was captured and marks it truncated', () => {
  const full = F.eth(0x0800, udp4(F.bytes(200)));
  const cut = full.subarray(0, 60);
  const { r, out, payload, dec } = decode(cut, { origLen: full.length });
  assert.equal(r, DecodeResult.OK);
  assert.equal(out.truncated, true);
  assert.equal(payload.length, 60 - 42);
  assert.equal(dec.stats.truncated, 1);
  assert.deepEqual(dec.stats.errorsByReason(), {});
});

test('damaged headers are counted by reason: dropped at L2/L3, passed with L3 fields at L4', () => {
  const ipHdr = udp4();
  const cases: [string, Uint8Array, number, string][] = [
    ['short ethernet', F.eth(0x0800, ipHdr).subarray(0, 10), DecodeResult.DROPPED, 'link_truncated'],
    ['cut vlan tag', F.eth(0x0800, new Uint8Array(0), [{ id: 5 }]).subarray(0, 16), DecodeResult.DROPPED, 'vlan_truncated'],
    ['short ipv4', F.eth(0x0800, ipHdr.subarray(0, 12)), DecodeResult.DROPPED, 'ipv4_truncated'],
    ['ihl < 5', F.eth(0x0800, F.cat([0x44], ipHdr.subarray(1))), DecodeResult.DROPPED, 'ipv4_bad_header'],
    ['version 5 in ipv4 ethertype', F.eth(0x0800, F.cat([0x55], ipHdr.subarray(1))), DecodeResult.DROPPED, 'ipv4_bad_header'],
    ['total < ihl', F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, totalLen: 10 }, F.udp(1, 2, F.bytes(4)))), DecodeResult.DROPPED, 'ipv4_bad_length'],
    ['short ipv6', F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 17 }, new Uint8Array(0)).subarray(0, 30)), DecodeResult.DROPPED, 'ipv6_truncated'],
    ['cut ext header', F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 0 }, new Uint8Array([17, 1, 0, 0]))), DecodeResult.DROPPED, 'ipv6_ext_truncated'],
    ['udp length < 8', F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17 }, F.udp(1, 2, F.bytes(4), 3))), DecodeResult.OK, 'udp_bad_length'],
    ['udp header cut', F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17 }, F.bytes(5))), DecodeResult.OK, 'udp_truncated'],
    ['tcp data offset < 5', F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 6 }, F.cat(F.tcp({ sport: 1, dport: 2 }, new Uint8Array(0)).subarray(0, 12), [0x30], new Uint8Array(7)))), DecodeResult.OK, 'tcp_bad_header'],
  ];
  for (const [name, data, want, reason] of cases) {
    const { r, dec, out } = decode(data);
    assert.equal(r, want, name);
    assert.deepEqual(dec.stats.errorsByReason(), { [reason]: 1 }, name);
    if (want === DecodeResult.OK) assert.ok(out.payloadOffset + out.payloadLength <= out.data.length, name);
  }
});

test('tunnels are off by default: the outer packet passes as it is', () => {
  const inner = F.eth(0x0800, udp4());
  const outer = F.eth(0x0800, F.ipv4({ src: [192, 168, 0, 1], dst: [192, 168, 0, 2], proto: 17 }, F.udp(40000, 4789, F.vxlan(42, inner))));
  const { out } = decode(outer);
  assert.equal(out.tunnelType, TunnelType.NONE);
  assert.equal(flow(out), '192.168.0.1:40000 > 192.168.0.2:4789 p17');
});

test('VXLAN, Geneve (with options), GRE (csum/key/seq), ERSPAN II/III, IPIP and 6in4: inner flow, outer addresses, ids', () => {
  const O = { src: [192, 168, 0, 1], dst: [192, 168, 0, 2] };
  const inner4 = udp4(F.bytes(11));
  const innerEth = F.eth(0x0800, inner4, [{ id: 7 }]);
  const cases: [string, Uint8Array, number, number | null, number[]][] = [
    ['vxlan', F.eth(0x0800, F.ipv4({ ...O, proto: 17 }, F.udp(40000, 4789, F.vxlan(0xabcdef, innerEth)))), TunnelType.VXLAN, 0xabcdef, [7]],
    ['geneve eth', F.eth(0x0800, F.ipv4({ ...O, proto: 17 }, F.udp(40000, 6081, F.geneve(99, 0x6558, innerEth, 2)))), TunnelType.GENEVE, 99, [7]],
    ['geneve ip', F.eth(0x0800, F.ipv4({ ...O, proto: 17 }, F.udp(40000, 6081, F.geneve(5, 0x0800, inner4)))), TunnelType.GENEVE, 5, []],
    ['gre plain', F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x0800, inner4))), TunnelType.GRE, null, []],
    ['gre key', F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x0800, inner4, { key: 0x01020304, seq: 9, csum: true }))), TunnelType.GRE, 0x01020304, []],
    ['gre teb', F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x6558, innerEth, { key: 3 }))), TunnelType.GRE, 3, [7]],
    ['erspan ii', F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x88be, F.erspan2(300, innerEth), { seq: 1 }))), TunnelType.ERSPAN, 300, [7]],
    ['erspan iii', F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x22eb, F.erspan3(1023, innerEth), { seq: 1 }))), TunnelType.ERSPAN, 1023, [7]],
    ['erspan iii sub-header', F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x22eb, F.erspan3(4, innerEth, true), { seq: 1 }))), TunnelType.ERSPAN, 4, [7]],
    ['ipip', F.eth(0x0800, F.ipv4({ ...O, proto: 4 }, inner4)), TunnelType.IPIP, null, []],
  ];
  for (const [name, data, type, id, vl] of cases) {
    const { r, out, payload, dec } = decode(data, { cfg: ALL_TUNNELS });
    assert.equal(r, DecodeResult.OK, name);
    assert.equal(out.tunnelType, type, name);
    assert.equal(flow(out), '10.0.0.1:5060 > 10.0.0.2:5062 p17', name);
    assert.equal(formatIp(out.tunnelOuterIpVersion, out.tunnelOuterSrc), '192.168.0.1', name);
    assert.equal(formatIp(out.tunnelOuterIpVersion, out.tunnelOuterDst), '192.168.0.2', name);
    assert.equal(out.tunnelHasId ? out.tunnelId : null, id, name);
    assert.deepEqual(vlans(out), vl, name);
    assert.equal(payload.length, 11, name);
    assert.equal(dec.stats.decapsulated, 1, name);
  }
  const six = F.ipv6({ src: F.V6A, dst: F.V6B, nh: 17 }, F.udp(1, 2, F.bytes(3)));
  const d = decode(F.eth(0x0800, F.ipv4({ ...O, proto: 41 }, six)), { cfg: ALL_TUNNELS });
  assert.equal(d.out.tunnelType, TunnelType.IPIP);
  assert.equal(flow(d.out), '2001:db8::1:1 > 2001:db8::2:2 p17');
  assert.equal(d.out.tunnelOuterIpVersion, 4);
});

test('a damaged tunnel header leaves the outer packet intact and counts the reason', () => {
  const O = { src: [192, 168, 0, 1], dst: [192, 168, 0, 2] };
  const bad = F.eth(0x0800, F.ipv4({ ...O, proto: 17 }, F.udp(40000, 6081, F.cat([0xc0], new Uint8Array(7), F.bytes(30)))));
  const { r, out, dec } = decode(bad, { cfg: ALL_TUNNELS });
  assert.equal(r, DecodeResult.OK);
  assert.equal(out.tunnelType, TunnelType.NONE);
  assert.equal(flow(out), '192.168.0.1:40000 > 192.168.0.2:6081 p17');
  assert.deepEqual(dec.stats.errorsByReason(), { tunnel_bad_header: 1 });
  // An inner IP header that cannot be read: the outer flow is restored.
  const badInner = F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x0800, F.bytes(10))));
  const d2 = decode(badInner, { cfg: ALL_TUNNELS });
  assert.equal(d2.r, DecodeResult.OK);
  assert.equal(d2.out.tunnelType, TunnelType.NONE);
  assert.equal(flow(d2.out), '192.168.0.1:0 > 192.168.0.2:0 p47');
});

function fragments4(payload: Uint8Array, size: number, id: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const piece = payload.subarray(off, Math.min(payload.length, off + size));
    out.push(F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, id, offset: off, mf: off + size < payload.length }, piece)));
  }
  return out;
}

test('IPv4 reassembly: any order, duplicates; the completing frame carries the datagram', () => {
  const body = F.bytes(3000, 7);
  const dgram = F.udp(5060, 5060, body);
  const frags = fragments4(dgram, 1480, 4242);
  assert.equal(frags.length, 3);
  for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 2, 0, 0, 1]]) {
    const dec = new Decoder(defaultDecoderConfig());
    const out = new DecodedPacket();
    const results = order.map((i) => dec.decode(raw(frags[i]!), out));
    assert.deepEqual(results.slice(0, -1).every((r) => r === DecodeResult.HELD), true, String(order));
    assert.equal(results.at(-1), DecodeResult.OK, String(order));
    assert.equal(out.fragmented, true);
    assert.equal(flow(out), '10.0.0.1:5060 > 10.0.0.2:5060 p17');
    assert.deepEqual(Buffer.from(out.payload), Buffer.from(body));
    assert.equal(dec.stats.reassembled, 1);
    assert.equal(dec.fragmentGroupsInFlight, 0);
  }
});

test('IPv6 reassembly through the fragment header, with a destination-options header inside the fragmentable part', () => {
  const body = F.bytes(2000, 3);
  const fragmentable = F.ext6(17, F.udp(7000, 8000, body)); // dest opts (nh is set below) -> UDP
  const id = 0xdeadbeef;
  const cut = 1232;
  const p1 = fragmentable.subarray(0, cut);
  const p2 = fragmentable.subarray(cut);
  const mk = (off: number, more: boolean, piece: Uint8Array) =>
    F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 0 }, F.ext6(44, F.frag6(60, off, more, id, piece))));
  const dec = new Decoder(defaultDecoderConfig());
  const out = new DecodedPacket();
  assert.equal(dec.decode(raw(mk(cut, false, p2)), out), DecodeResult.HELD);
  assert.equal(out.ipId, id);
  assert.equal(dec.decode(raw(mk(0, true, p1)), out), DecodeResult.OK);
  assert.equal(out.fragmented, true);
  assert.equal(flow(out), '2001:db8::1:7000 > 2001:db8::2:8000 p17');
  assert.deepEqual(Buffer.from(out.payload), Buffer.from(body));
  // An atomic fragment (offset 0, no more) is a whole packet.
  const atomic = F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 44 }, F.frag6(17, 0, false, 5, F.udp(1, 2, F.bytes(4)))));
  const a = decode(atomic);
  assert.equal(a.r, DecodeResult.OK);
  assert.equal(a.out.fragmented, false);
  assert.equal(a.payload.length, 4);
});

test('fragment groups time out by packet time and are evicted beyond max_fragments, counted', () => {
  const cfg: DecoderConfig = { ...defaultDecoderConfig(), ipReassembly: { timeoutSec: 30, maxFragments: 2 } };
  const dec = new Decoder(cfg);
  const out = new DecodedPacket();
  const first = (id: number) => fragments4(F.udp(1, 2, F.bytes(100)), 64, id)[0]!;
  assert.equal(dec.decode(raw(first(1), LinkType.ETHERNET, 1000), out), DecodeResult.HELD);
  assert.equal(dec.decode(raw(first(2), LinkType.ETHERNET, 1001), out), DecodeResult.HELD);
  assert.equal(dec.decode(raw(first(3), LinkType.ETHERNET, 1002), out), DecodeResult.HELD); // evicts group 1
  assert.equal(dec.stats.fragmentEvictions, 1);
  assert.equal(dec.fragmentGroupsInFlight, 2);
  // 31 s later (an unrelated packet moves packet time): both groups time out.
  dec.decode(raw(F.eth(0x0800, udp4()), LinkType.ETHERNET, 1033), out);
  assert.equal(dec.stats.fragmentTimeouts, 2);
  assert.equal(dec.fragmentGroupsInFlight, 0);
  // expire() does the same when the capture is idle.
  dec.decode(raw(first(4), LinkType.ETHERNET, 2000), out);
  dec.expire(2031);
  assert.equal(dec.stats.fragmentTimeouts, 3);
});

test('bad fragments are refused by reason: too big, odd length before the end, cut by the snaplen, conflicting overlap', () => {
  const big = F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, id: 9, offset: 65528, mf: false }, F.bytes(16)));
  assert.deepEqual(decode(big).dec.stats.errorsByReason(), { fragment_too_big: 1 });
  const odd = F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, id: 9, offset: 0, mf: true }, F.bytes(13)));
  assert.deepEqual(decode(odd).dec.stats.errorsByReason(), { fragment_bad_length: 1 });
  const whole = F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, id: 9, offset: 0, mf: true }, F.bytes(64)));
  const cut = decode(whole.subarray(0, 50), { origLen: whole.length });
  assert.equal(cut.r, DecodeResult.DROPPED);
  assert.deepEqual(cut.dec.stats.errorsByReason(), { fragment_truncated: 1 });
  // Overlap with different bytes: counted; the first arrival's bytes win.
  const dec = new Decoder(defaultDecoderConfig());
  const out = new DecodedPacket();
  const a = F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, id: 3, offset: 0, mf: true }, F.udp(1, 2, new Uint8Array(8).fill(0xaa), 24)));
  const b = F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, id: 3, offset: 8, mf: false }, new Uint8Array(16).fill(0xbb)));
  assert.equal(dec.decode(raw(a), out), DecodeResult.HELD);
  assert.equal(dec.decode(raw(b), out), DecodeResult.OK);
  assert.deepEqual(dec.stats.errorsByReason(), { fragment_overlap: 1 });
  assert.deepEqual(Buffer.from(out.payload), Buffer.from([...new Uint8Array(8).fill(0xaa), ...new Uint8Array(8).fill(0xbb)]));
});

test('the unfragmented path allocates nothing: five million decodes trigger no allocation-driven collection', async () => {
  const { PerformanceObserver } = await import('node:perf_hooks');
  const frames = [
    F.eth(0x0800, udp4(F.bytes(160))),
    F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 6 }, F.tcp({ sport: 1, dport: 2 }, F.bytes(100)))),
    F.eth(0x0800, F.ipv4({ src: [1, 1, 1, 1], dst: [2, 2, 2, 2], proto: 17 }, F.udp(1, 4789, F.vxlan(1, F.eth(0x0800, udp4()))))),
  ].map((d) => raw(d));
  const dec = new Decoder(ALL_TUNNELS);
  const out = new DecodedPacket();
  for (let i = 0; i < 10000; i++) dec.decode(frames[i % 3]!, out); // warm up: let V8 optimise
  let gcs = 0;
  const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  let ok = 0;
  const N = 5_000_000;
  for (let i = 0; i < N; i++) ok += dec.decode(frames[i % 3]!, out) === DecodeResult.OK ? 1 : 0;
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  assert.equal(ok, N);
  // 16 bytes per packet (one boxed number) would be 80 MB: several young-generation
  // collections. V8 may still run one on its own schedule, hence "at most one".
  assert.ok(gcs <= 1, `${gcs} garbage collections ran during the decode loop: something allocates per packet`);
});

test('a frame decodes alike alone (offset 0, to the end of its buffer) and inside a larger buffer', () => {
  const frames: [Uint8Array, number][] = [
    [F.eth(0x0800, udp4(F.bytes(30)), [{ id: 5 }, { id: 6 }]), LinkType.ETHERNET],
    [F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 17 }, F.udp(1, 2, F.bytes(9)))), LinkType.ETHERNET],
    [F.cat([0, 0], [0, 1], [0, 6], F.MAC_A, [0, 0], [0x08, 0x00], udp4()), LinkType.LINUX_SLL],
    [F.cat([2, 0, 0, 0], udp4()), LinkType.NULL],
    [udp4(), LinkType.RAW],
    [F.eth(0x0800, udp4(F.bytes(200))).subarray(0, 60), LinkType.ETHERNET],
  ];
  const view = (d: DecodedPacket, r: number) => ({ r, flow: flow(d), vlans: vlans(d), capLen: d.capLen, truncated: d.truncated, ttl: d.ttl, payload: Buffer.from(d.payload).toString('hex') });
  for (const [frame, link] of frames) {
    const alone = newRawPacket();
    alone.data = frame;
    alone.linkType = link;
    alone.origLen = frame.length + 10;
    const a = new DecodedPacket();
    const ra = new Decoder(defaultDecoderConfig()).decode(alone, a);
    const inside = raw(frame, link, 0, frame.length + 10);
    const b = new DecodedPacket();
    const rb = new Decoder(defaultDecoderConfig()).decode(inside, b);
    assert.equal(ra, DecodeResult.OK);
    assert.deepEqual(view(b, rb), view(a, ra));
    assert.equal(b.capLen, frame.length);
  }
});
