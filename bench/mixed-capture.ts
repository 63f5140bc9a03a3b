// A mixed capture for benchmarks, built in memory and written as a pcap file
// so that peers (tshark, tcpdump) read exactly the same packets: mostly RTP
// (as on a VoIP edge), some SIP, TCP, IPv6, VLAN-tagged, VXLAN-encapsulated,
// DNS, ICMP, and one IPv4 datagram in two fragments per hundred packets.
import { writePcap, type PcapRecord } from '../test/helpers/pcap-writer.ts';
import * as F from '../test/decoder/frames.ts';

function ip4(n: number): number[] {
  return [10, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/** The frames of one block of 100 packets; `k` varies addresses and ports between blocks. */
function block(k: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const rtp = (i: number) => F.udp(20000 + ((k * 2 + i) % 20000), 30000 + ((k * 2 + i) % 20000), F.cat([0x80, 0x00, 0, i & 0xff, 0, 0, 0, 0, 0, 0, 0, k & 0xff], F.bytes(160, i)));
  for (let i = 0; i < 60; i++) out.push(F.eth(0x0800, F.ipv4({ src: ip4(k), dst: ip4(k + 1), proto: 17 }, rtp(i))));
  for (let i = 0; i < 10; i++) out.push(F.eth(0x0800, F.ipv4({ src: ip4(k), dst: ip4(k + 2), proto: 17 }, rtp(i)), [{ id: 100 + (i % 3) }]));
  const sip = new TextEncoder().encode(
    'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: ' +
      k +
      '@bench\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
  );
  for (let i = 0; i < 5; i++) out.push(F.eth(0x0800, F.ipv4({ src: ip4(k), dst: ip4(k + 3), proto: 17 }, F.udp(5060, 5060, sip))));
  for (let i = 0; i < 10; i++) out.push(F.eth(0x0800, F.ipv4({ src: ip4(k), dst: ip4(k + 4), proto: 6 }, F.tcp({ sport: 40000 + (k % 1000), dport: 80, seq: i * 500 }, F.bytes(500, i)))));
  for (let i = 0; i < 5; i++) out.push(F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 17 }, rtp(i))));
  for (let i = 0; i < 5; i++) {
    const inner = F.eth(0x0800, F.ipv4({ src: ip4(k), dst: ip4(k + 5), proto: 17 }, rtp(i)));
    out.push(F.eth(0x0800, F.ipv4({ src: [192, 168, 1, 1], dst: [192, 168, 1, 2], proto: 17 }, F.udp(40000 + i, 4789, F.vxlan(1000 + (k % 16), inner)))));
  }
  for (let i = 0; i < 3; i++) out.push(F.eth(0x0800, F.ipv4({ src: ip4(k), dst: [10, 0, 0, 53], proto: 17 }, F.udp(33000 + i, 53, F.bytes(40, i)))));
  for (let i = 0; i < 2; i++) out.push(F.eth(0x0800, F.ipv4({ src: ip4(k), dst: ip4(k + 6), proto: 1 }, F.icmp(8, 0, F.bytes(56, i)))));
  // One 2000-byte UDP datagram in two fragments.
  const dgram = F.udp(5060, 5060, F.bytes(1992, k & 0xff));
  out.push(F.eth(0x0800, F.ipv4({ src: ip4(k), dst: ip4(k + 7), proto: 17, id: k & 0xffff, offset: 0, mf: true }, dgram.subarray(0, 1480))));
  out.push(F.eth(0x0800, F.ipv4({ src: ip4(k), dst: ip4(k + 7), proto: 17, id: k & 0xffff, offset: 1480, mf: false }, dgram.subarray(1480))));
  return out;
}

/** `blocks` blocks of 100 packets, 20 ms apart per block (5000 packets/s of capture time). */
export function mixedFrames(blocks: number): PcapRecord[] {
  const recs: PcapRecord[] = [];
  let t = 1_767_225_600 * 1e9;
  for (let k = 0; k < blocks; k++) {
    for (const data of block(k)) {
      t += 200_000;
      recs.push({ data, tsSec: Math.floor(t / 1e9), tsNsec: t % 1e9 });
    }
  }
  return recs;
}

export function writeMixedCapture(path: string, blocks: number): PcapRecord[] {
  const recs = mixedFrames(blocks);
  writePcap(path, recs);
  return recs;
}
