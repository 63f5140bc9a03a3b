// Builds the Ethernet frames the afpacket tests send through a veth pair, and
// reads back the pcap files tcpdump writes. Frames go to a MAC address no
// interface owns, so the receiving namespace's IP stack ignores them and
// answers nothing: whatever the capture sees is exactly what the test sent.
import { existsSync, readFileSync } from 'node:fs';

export const OTHER_MAC = '02:00:00:00:00:99';

export interface FrameSpec {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  proto?: 'udp' | 'tcp' | 'icmp';
  vlans?: number[];
  payload?: Uint8Array | string;
  srcMac?: string;
  dstMac?: string;
}

function mac(s: string): number[] {
  return s.split(':').map((x) => parseInt(x, 16));
}

function ipv4(s: string): number[] {
  return s.split('.').map(Number);
}

function checksum(b: Buffer, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An Ethernet II frame carrying IPv4 and UDP, TCP (PSH|ACK) or an ICMP echo request, optionally VLAN-tagged. */
export function ipv4Frame(f: FrameSpec): Buffer {
  const payload = typeof f.payload === 'string' ? Buffer.from(f.payload) : Buffer.from(f.payload ?? []);
  const proto = f.proto ?? 'udp';
  const l4len = proto === 'udp' ? 8 : proto === 'tcp' ? 20 : 8;
  const vlans = f.vlans ?? [];
  const l2 = 12 + vlans.length * 4 + 2;
  const b = Buffer.alloc(l2 + 20 + l4len + payload.length);
  Buffer.from(mac(f.dstMac ?? OTHER_MAC)).copy(b, 0);
  Buffer.from(mac(f.srcMac ?? '02:00:00:00:00:0a')).copy(b, 6);
  let o = 12;
  vlans.forEach((id, i) => {
    b.writeUInt16BE(i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100, o);
    b.writeUInt16BE(id & 0xfff, o + 2);
    o += 4;
  });
  b.writeUInt16BE(0x0800, o);
  o += 2;
  const ip = o;
  b[ip] = 0x45;
  b.writeUInt16BE(20 + l4len + payload.length, ip + 2);
  b.writeUInt16BE(0x1234, ip + 4);
  b[ip + 8] = 64;
  b[ip + 9] = proto === 'udp' ? 17 : proto === 'tcp' ? 6 : 1;
  Buffer.from(ipv4(f.src ?? '10.0.0.1')).copy(b, ip + 12);
  Buffer.from(ipv4(f.dst ?? '10.0.0.2')).copy(b, ip + 16);
  b.writeUInt16BE(checksum(b, ip, ip + 20), ip + 10);
  const l4 = ip + 20;
  if (proto === 'udp') {
    b.writeUInt16BE(f.sport ?? 40000, l4);
    b.writeUInt16BE(f.dport ?? 5060, l4 + 2);
    b.writeUInt16BE(8 + payload.length, l4 + 4);
  } else if (proto === 'tcp') {
    b.writeUInt16BE(f.sport ?? 40000, l4);
    b.writeUInt16BE(f.dport ?? 80, l4 + 2);
    b.writeUInt32BE(1, l4 + 4);
    b[l4 + 12] = 5 << 4;
    b[l4 + 13] = 0x18;
    b.writeUInt16BE(65535, l4 + 14);
  } else {
    b[l4] = 8;
    b.writeUInt16BE(7, l4 + 4);
  }
  payload.copy(b, l4 + l4len);
  return b;
}

/** An ARP request (who-has `target` tell `sender`). */
export function arpFrame(sender: string, target: string): Buffer {
  const b = Buffer.alloc(42);
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).copy(b, 0);
  Buffer.from(mac('02:00:00:00:00:0c')).copy(b, 6);
  b.writeUInt16BE(0x0806, 12);
  b.writeUInt16BE(1, 14);
  b.writeUInt16BE(0x0800, 16);
  b[18] = 6;
  b[19] = 4;
  b.writeUInt16BE(1, 20);
  Buffer.from(mac('02:00:00:00:00:0c')).copy(b, 22);
  Buffer.from(ipv4(sender)).copy(b, 28);
  Buffer.from(ipv4(target)).copy(b, 38);
  return b;
}

/** Frames of a classic pcap file (either resolution), as tcpdump -w writes them. */
export function readPcapFrames(file: string): Buffer[] {
  // A file tcpdump has not created yet, or is still writing (-U): the whole records so far.
  if (!existsSync(file)) return [];
  const d = readFileSync(file);
  if (d.length < 24) return [];
  const magic = d.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number) => (le ? d.readUInt32LE(o) : d.readUInt32BE(o));
  const out: Buffer[] = [];
  for (let o = 24; o + 16 <= d.length; ) {
    const incl = u32(o + 8);
    if (o + 16 + incl > d.length) break;
    out.push(Buffer.from(d.subarray(o + 16, o + 16 + incl)));
    o += 16 + incl;
  }
  return out;
}
