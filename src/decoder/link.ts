// Link layers: Ethernet with any depth of 802.1Q/802.1ad tags, Linux cooked
// capture v1/v2, BSD loopback, raw IP. Each returns the offset of the network
// header and leaves its EtherType in out.etherType, or returns fail(reason).
import { LinkType, MAX_VLANS, type DecodedPacket } from '../core/packet.ts';
import { fail, u16, u32, u32le } from './bytes.ts';
import { Reason } from './reasons.ts';
import type { DecoderStats } from './decoder-stats.ts';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100; // 802.1Q
const ETHERTYPE_QINQ = 0x88a8; // 802.1ad service tag
const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard QinQ, still seen on the wire

/** Ethernet II header and its VLAN tags. MACs are overwritten by an inner (tunnelled) frame. */
export function decodeEthernet(b: Uint8Array, off: number, end: number, out: DecodedPacket, stats: DecoderStats): number {
  if (end - off < 14) return fail(Reason.link_truncated);
  const dm = out.dstMac;
  const sm = out.srcMac;
  for (let i = 0; i < 6; i++) {
    dm[i] = b[off + i]!;
    sm[i] = b[off + 6 + i]!;
  }
  out.hasMac = true;
  const et = u16(b, off + 12);
  off += 14;
  return etherTypeChain(b, off, end, et, out, stats);
}

/** Follows VLAN tags from an EtherType on; shared by Ethernet and cooked captures. */
function etherTypeChain(b: Uint8Array, off: number, end: number, et: number, out: DecodedPacket, stats: DecoderStats): number {
  while (et === ETHERTYPE_VLAN || et === ETHERTYPE_QINQ || et === ETHERTYPE_QINQ_OLD) {
    if (end - off < 4) return fail(Reason.vlan_truncated);
    const vid = u16(b, off) & 0x0fff;
    if (out.vlanCount < MAX_VLANS) out.vlans[out.vlanCount++] = vid;
    else stats.count(Reason.vlan_too_deep); // deeper tags are skipped, their ids not kept
    et = u16(b, off + 2);
    off += 4;
  }
  out.etherType = et;
  return off;
}

/** The EtherType of a raw IP packet, from its version nibble (0 when it is neither 4 nor 6). */
function etherTypeOfVersion(b: Uint8Array, off: number, end: number): number {
  if (off >= end) return 0;
  const v = b[off]! >> 4;
  return v === 4 ? ETHERTYPE_IPV4 : v === 6 ? ETHERTYPE_IPV6 : 0;
}

/** BSD address families for IPv6 differ by OS (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS). */
function etherTypeOfFamily(af: number): number {
  if (af === 2) return ETHERTYPE_IPV4;
  if (af === 24 || af === 28 || af === 30) return ETHERTYPE_IPV6;
  return 0;
}

/** Decodes the link layer of the frame b[s, end). */
export function decodeLink(linkType: number, b: Uint8Array, s: number, end: number, out: DecodedPacket, stats: DecoderStats): number {
  switch (linkType) {
    case LinkType.ETHERNET:
      return decodeEthernet(b, s, end, out, stats);
    case LinkType.RAW:
      if (end - s < 1) return fail(Reason.network_truncated);
      out.etherType = etherTypeOfVersion(b, s, end);
      return s;
    case LinkType.IPV4:
      out.etherType = ETHERTYPE_IPV4;
      return s;
    case LinkType.IPV6:
      out.etherType = ETHERTYPE_IPV6;
      return s;
    case LinkType.LINUX_SLL: {
      // packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
      if (end - s < 16) return fail(Reason.link_truncated);
      const hatype = u16(b, s + 2);
      const alen = u16(b, s + 4);
      if (hatype === 1 && alen === 6) copyMac(out, b, s + 6);
      return etherTypeChain(b, s + 16, end, u16(b, s + 14), out, stats);
    }
    case LinkType.LINUX_SLL2: {
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) address length(1) address(8)
      if (end - s < 20) return fail(Reason.link_truncated);
      const hatype = u16(b, s + 8);
      if (hatype === 1 && b[s + 11] === 6) copyMac(out, b, s + 12);
      return etherTypeChain(b, s + 20, end, u16(b, s), out, stats);
    }
    case LinkType.NULL: {
      // Address family in the byte order of the machine that wrote the file:
      // a family is a small number, so whichever reading is small is right.
      if (end - s < 4) return fail(Reason.link_truncated);
      let af = u32le(b, s);
      if (af > 0xffff) af = u32(b, s);
      out.etherType = etherTypeOfFamily(af) || etherTypeOfVersion(b, s + 4, end);
      return s + 4;
    }
    case LinkType.LOOP: {
      if (end - s < 4) return fail(Reason.link_truncated);
      out.etherType = etherTypeOfFamily(u32(b, s)) || etherTypeOfVersion(b, s + 4, end);
      return s + 4;
    }
    default:
      return fail(Reason.unsupported_link_type);
  }
}

/** Cooked captures carry only the source link address. */
function copyMac(out: DecodedPacket, b: Uint8Array, off: number): void {
  for (let i = 0; i < 6; i++) {
    out.srcMac[i] = b[off + i]!;
    out.dstMac[i] = 0;
  }
  out.hasMac = true;
}
