// Hand-built frames for decoder tests: each function returns the bytes of one
// header followed by its payload, with lengths filled in as a sender would.
export type Bytes = Uint8Array;

export function cat(...parts: (Bytes | number[])[]): Bytes {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

export const MAC_A = [0x02, 0, 0, 0, 0, 0x0a];
export const MAC_B = [0x02, 0, 0, 0, 0, 0x0b];

export function eth(etherType: number, payload: Bytes, vlans: { tpid?: number; id: number }[] = []): Bytes {
  const tags: number[] = [];
  // Each tag's TPID sits where the EtherType would; the last tag is followed by the real EtherType.
  let first = etherType;
  if (vlans.length) first = vlans[0]!.tpid ?? 0x8100;
  for (let i = 0; i < vlans.length; i++) {
    const next = i + 1 < vlans.length ? (vlans[i + 1]!.tpid ?? 0x8100) : etherType;
    tags.push(...be16((5 << 13) | vlans[i]!.id), ...be16(next));
  }
  return cat(MAC_B, MAC_A, be16(first), tags, payload);
}

export function ipv4(
  o: { src: number[]; dst: number[]; proto: number; ttl?: number; id?: number; mf?: boolean; offset?: number; options?: number[]; totalLen?: number },
  payload: Bytes,
): Bytes {
  const opts = o.options ?? [];
  const ihl = 20 + opts.length;
  const total = o.totalLen ?? ihl + payload.length;
  const ff = (o.mf ? 0x2000 : 0) | ((o.offset ?? 0) >> 3);
  return cat([0x40 | (ihl >> 2), 0], be16(total), be16(o.id ?? 1), be16(ff), [o.ttl ?? 64, o.proto], [0, 0], o.src, o.dst, opts, payload);
}

export function ipv6(o: { src: number[]; dst: number[]; nh: number; hlim?: number; plen?: number }, payload: Bytes): Bytes {
  return cat([0x60, 0, 0, 0], be16(o.plen ?? payload.length), [o.nh, o.hlim ?? 64], o.src, o.dst, payload);
}

/** A hop-by-hop / routing / destination options header of 8 * (1 + extra) bytes. */
export function ext6(nh: number, payload: Bytes, extra = 0): Bytes {
  return cat([nh, extra], new Uint8Array(6 + extra * 8), payload);
}

export function frag6(nh: number, offset: number, more: boolean, id: number, payload: Bytes): Bytes {
  return cat([nh, 0], be16(offset | (more ? 1 : 0)), be32(id), payload);
}

export function ah(nh: number, payload: Bytes): Bytes {
  // Payload length 4 => (4 + 2) * 4 = 24 bytes: 12 fixed + 12 of ICV.
  return cat([nh, 4, 0, 0], be32(0x100), be32(1), new Uint8Array(12), payload);
}

export function udp(sport: number, dport: number, payload: Bytes, len?: number): Bytes {
  return cat(be16(sport), be16(dport), be16(len ?? 8 + payload.length), [0, 0], payload);
}

export function tcp(
  o: { sport: number; dport: number; seq?: number; ack?: number; flags?: number; window?: number; options?: number[] },
  payload: Bytes,
): Bytes {
  const opts = o.options ?? [];
  const hl = 20 + opts.length;
  return cat(be16(o.sport), be16(o.dport), be32(o.seq ?? 0), be32(o.ack ?? 0), [(hl >> 2) << 4, o.flags ?? 0x18], be16(o.window ?? 65535), [0, 0, 0, 0], opts, payload);
}

export function icmp(type: number, code: number, payload: Bytes): Bytes {
  return cat([type, code, 0, 0, 0, 1, 0, 1], payload);
}

export function vxlan(vni: number, inner: Bytes): Bytes {
  return cat([0x08, 0, 0, 0], [(vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff, 0], inner);
}

export function geneve(vni: number, proto: number, inner: Bytes, optionWords = 0): Bytes {
  return cat([optionWords & 0x3f, 0], be16(proto), [(vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff, 0], new Uint8Array(optionWords * 4), inner);
}

export function gre(proto: number, inner: Bytes, o: { key?: number; seq?: number; csum?: boolean } = {}): Bytes {
  const flags = (o.csum ? 0x8000 : 0) | (o.key !== undefined ? 0x2000 : 0) | (o.seq !== undefined ? 0x1000 : 0);
  return cat(be16(flags), be16(proto), o.csum ? [0, 0, 0, 0] : [], o.key !== undefined ? be32(o.key) : [], o.seq !== undefined ? be32(o.seq) : [], inner);
}

export function erspan2(session: number, inner: Bytes): Bytes {
  return cat(be16((1 << 12) | 0), be16(session & 0x3ff), [0, 0, 0, 0], inner);
}

export function erspan3(session: number, inner: Bytes, subHeader = false): Bytes {
  return cat(be16((2 << 12) | 0), be16(session & 0x3ff), be32(12345), [0, 0], be16(subHeader ? 1 : 0), subHeader ? new Uint8Array(8) : [], inner);
}

export const V4A = [10, 0, 0, 1];
export const V4B = [10, 0, 0, 2];
export const V6A = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
export const V6B = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

export function bytes(n: number, seed = 1): Bytes {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}
