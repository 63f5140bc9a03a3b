// Tunnel headers (ADR-003): each parser checks its header and returns the
// offset of the inner packet, leaving the inner packet's EtherType and the
// tunnel id in a TunnelInfo, or returns fail(reason). The decoder then
// re-enters itself on the inner packet.
import { TunnelType } from '../core/packet.ts';
import { fail, u16, u24, u32 } from './bytes.ts';
import { Reason } from './reasons.ts';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './link.ts';
import type { TunnelSwitches } from './api.ts';

/** Inner frame is Ethernet (VXLAN, Geneve 0x6558, GRE transparent bridging, ERSPAN). */
export const INNER_ETHERNET = 0x6558;
/** The GRE packet is not one we decapsulate (switch off, PPTP, unknown protocol). */
export const NOT_A_TUNNEL = -0x10000;

const GRE_ERSPAN_II = 0x88be; // type I without the sequence bit, type II with it
const GRE_ERSPAN_III = 0x22eb;

export class TunnelInfo {
  type: number = TunnelType.NONE;
  /** EtherType of the inner packet, or INNER_ETHERNET. */
  inner = 0;
  id = 0;
  hasId = false;
}

/** VXLAN (RFC 7348): flags(1) reserved(3) VNI(3) reserved(1), then Ethernet. */
export function vxlanHeader(b: Uint8Array, off: number, end: number, t: TunnelInfo): number {
  if (end - off < 8) return fail(Reason.tunnel_truncated);
  t.type = TunnelType.VXLAN;
  t.inner = INNER_ETHERNET;
  t.id = u24(b, off + 4);
  t.hasId = (b[off]! & 0x08) !== 0; // the I flag says the VNI is valid
  return off + 8;
}

/** Geneve (RFC 8926): ver/optlen(1) flags(1) protocol(2) VNI(3) reserved(1) options(optlen*4). */
export function geneveHeader(b: Uint8Array, off: number, end: number, t: TunnelInfo): number {
  if (end - off < 8) return fail(Reason.tunnel_truncated);
  if (b[off]! >> 6 !== 0) return fail(Reason.tunnel_bad_header);
  const len = 8 + ((b[off]! & 0x3f) << 2);
  if (end - off < len) return fail(Reason.tunnel_truncated);
  t.type = TunnelType.GENEVE;
  t.inner = u16(b, off + 2);
  t.id = u24(b, off + 4);
  t.hasId = true;
  return off + len;
}

/**
 * GRE (RFC 2784/2890) and ERSPAN carried in it. Returns NOT_A_TUNNEL when
 * the switches or the header say this GRE packet is to be left as it is.
 */
export function greHeader(b: Uint8Array, off: number, end: number, sw: TunnelSwitches, t: TunnelInfo): number {
  if (end - off < 4) return fail(Reason.tunnel_truncated);
  const flags = u16(b, off);
  if ((flags & 7) !== 0) return NOT_A_TUNNEL; // version 1 is PPTP's enhanced GRE
  if ((flags & 0x4000) !== 0) return fail(Reason.tunnel_bad_header); // source routing (RFC 1701), deprecated
  const proto = u16(b, off + 2);
  const hasCsum = (flags & 0x8000) !== 0;
  const hasKey = (flags & 0x2000) !== 0;
  const hasSeq = (flags & 0x1000) !== 0;
  let p = off + 4 + (hasCsum ? 4 : 0);
  let key = 0;
  if (hasKey) {
    if (end - p < 4) return fail(Reason.tunnel_truncated);
    key = u32(b, p);
    p += 4;
  }
  if (hasSeq) p += 4;
  if (p > end) return fail(Reason.tunnel_truncated);

  if (proto === GRE_ERSPAN_II || proto === GRE_ERSPAN_III) {
    if (!sw.erspan) return NOT_A_TUNNEL;
    t.type = TunnelType.ERSPAN;
    t.inner = INNER_ETHERNET;
    if (proto === GRE_ERSPAN_II && !hasSeq) {
      t.hasId = false; // type I: no ERSPAN header at all
      return p;
    }
    return erspanHeader(b, p, end, proto === GRE_ERSPAN_III, t);
  }
  if (!sw.gre) return NOT_A_TUNNEL;
  if (proto !== ETHERTYPE_IPV4 && proto !== ETHERTYPE_IPV6 && proto !== INNER_ETHERNET) return NOT_A_TUNNEL;
  t.type = TunnelType.GRE;
  t.inner = proto;
  t.id = key;
  t.hasId = hasKey;
  return p;
}

/** ERSPAN type II (8 bytes) or III (12, plus 8 with the platform sub-header). */
function erspanHeader(b: Uint8Array, off: number, end: number, typeIII: boolean, t: TunnelInfo): number {
  const len = typeIII ? 12 : 8;
  if (end - off < len) return fail(Reason.tunnel_truncated);
  const ver = b[off]! >> 4;
  if (ver !== (typeIII ? 2 : 1)) return fail(Reason.tunnel_bad_header);
  t.id = u16(b, off + 2) & 0x03ff; // session id
  t.hasId = true;
  if (!typeIII) return off + len;
  const flags = u16(b, off + 10);
  // Frame type (bits 14..10 of the last word): 0 is Ethernet, the only one we take.
  if (((flags >> 10) & 0x1f) !== 0) return fail(Reason.tunnel_bad_header);
  const sub = (flags & 1) !== 0 ? 8 : 0;
  if (end - off < len + sub) return fail(Reason.tunnel_truncated);
  return off + len + sub;
}
