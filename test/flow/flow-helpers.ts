// Packets and endpoints for the flow registry tests (shared with the worker script).
import { DecodedPacket, IPPROTO } from '../../src/core/packet.ts';

export function v4(a: number, b: number, c: number, d: number): Uint8Array {
  return Uint8Array.of(a, b, c, d);
}

/** 2001:db8::<x> with x in the last two bytes. */
export function v6(x: number): Uint8Array {
  const ip = new Uint8Array(16);
  ip[0] = 0x20;
  ip[1] = 0x01;
  ip[2] = 0x0d;
  ip[3] = 0xb8;
  ip[14] = (x >> 8) & 0xff;
  ip[15] = x & 0xff;
  return ip;
}

export interface PacketSpec {
  ipVersion?: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  srcPort: number;
  dstPort: number;
  proto?: number;
  tsSec?: number;
  frameNo?: number;
}

export function packet(s: PacketSpec): DecodedPacket {
  const p = new DecodedPacket();
  setPacket(p, s);
  return p;
}

export function setPacket(p: DecodedPacket, s: PacketSpec): DecodedPacket {
  p.ipVersion = s.ipVersion ?? (s.src.length === 16 ? 6 : 4);
  p.srcIp.fill(0);
  p.dstIp.fill(0);
  p.srcIp.set(s.src);
  p.dstIp.set(s.dst);
  p.srcPort = s.srcPort;
  p.dstPort = s.dstPort;
  p.protocol = s.proto ?? IPPROTO.UDP;
  p.tsSec = s.tsSec ?? 1000;
  p.tsNsec = 0;
  p.frameNo = s.frameNo ?? 0;
  return p;
}
