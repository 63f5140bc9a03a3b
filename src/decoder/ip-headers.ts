// IPv4 and IPv6 headers (with the IPv6 extension-header chain). They fill the
// L3 fields of the DecodedPacket and describe the rest in an IpInfo scratch
// object owned by the decoder, so that nothing is allocated per packet.
import type { DecodedPacket } from '../core/packet.ts';
import { copyAddr, fail, u16, u32 } from './bytes.ts';
import { Reason } from './reasons.ts';

/** What an IP header says beyond the DecodedPacket's fields. */
export class IpInfo {
  /** End of the IP payload within the captured bytes (padding and snaplen excluded). */
  payloadEnd = 0;
  /** True when the header announces more bytes than were captured. */
  cut = false;
  /** The packet is a fragment (not an atomic one): it goes to reassembly. */
  isFragment = false;
  /** Fragment offset in bytes. */
  fragOffset = 0;
  /** More fragments follow. */
  fragMore = false;
  /** IPv6: the next header after the fragment header (the reassembled payload's first header). */
  fragNext = 0;
}

const NH_HOP_BY_HOP = 0;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_AH = 51;
const NH_NONE = 59;
const NH_DEST_OPTS = 60;
const MAX_EXT_HEADERS = 16;

/** Parses an IPv4 header at `off`; returns the payload offset or fail(reason). */
export function ipv4Header(b: Uint8Array, off: number, end: number, out: DecodedPacket, info: IpInfo): number {
  if (end - off < 20) return fail(Reason.ipv4_truncated);
  const vihl = b[off]!;
  const ihl = (vihl & 0x0f) << 2;
  if (vihl >> 4 !== 4 || ihl < 20) return fail(Reason.ipv4_bad_header);
  if (end - off < ihl) return fail(Reason.ipv4_truncated);
  const total = u16(b, off + 2);
  if (total < ihl) return fail(Reason.ipv4_bad_length);
  out.ipVersion = 4;
  out.ttl = b[off + 8]!;
  out.protocol = b[off + 9]!;
  out.ipId = u16(b, off + 4);
  copyAddr(out.srcIp, b, off + 12, 4);
  copyAddr(out.dstIp, b, off + 16, 4);
  const declaredEnd = off + total;
  info.cut = declaredEnd > end;
  info.payloadEnd = info.cut ? end : declaredEnd; // trailing bytes (Ethernet padding) are not payload
  const ff = u16(b, off + 6);
  info.fragMore = (ff & 0x2000) !== 0;
  info.fragOffset = (ff & 0x1fff) << 3;
  info.isFragment = info.fragMore || info.fragOffset !== 0;
  return off + ihl;
}

/** Parses an IPv6 header and its extension chain; returns the upper-layer offset or fail(reason). */
export function ipv6Header(b: Uint8Array, off: number, end: number, out: DecodedPacket, info: IpInfo): number {
  if (end - off < 40) return fail(Reason.ipv6_truncated);
  if (b[off]! >> 4 !== 6) return fail(Reason.ipv6_bad_header);
  out.ipVersion = 6;
  out.ttl = b[off + 7]!;
  out.ipId = 0;
  copyAddr(out.srcIp, b, off + 8, 16);
  copyAddr(out.dstIp, b, off + 24, 16);
  const plen = u16(b, off + 4);
  const nh = b[off + 6]!;
  off += 40;
  // A zero payload length is a jumbogram (hop-by-hop option): take what was captured.
  const declaredEnd = plen === 0 && nh !== NH_NONE ? end : off + plen;
  info.cut = declaredEnd > end;
  info.payloadEnd = info.cut ? end : declaredEnd;
  info.isFragment = false;
  info.fragMore = false;
  info.fragOffset = 0;
  return ipv6ExtChain(b, off, info.payloadEnd, nh, out, info);
}

/**
 * Walks extension headers from `nh` at `off`, leaving the upper-layer
 * protocol in out.protocol. Stops at a fragment header of a real fragment
 * (the rest belongs to the datagram being reassembled). Also used on a
 * reassembled payload, whose first header may itself be an extension.
 */
export function ipv6ExtChain(b: Uint8Array, off: number, end: number, nh: number, out: DecodedPacket, info: IpInfo): number {
  for (let n = 0; ; n++) {
    if (nh === NH_HOP_BY_HOP || nh === NH_ROUTING || nh === NH_DEST_OPTS) {
      if (end - off < 8) return fail(Reason.ipv6_ext_truncated);
      const len = (b[off + 1]! + 1) << 3;
      if (end - off < len) return fail(Reason.ipv6_ext_truncated);
      nh = b[off]!;
      off += len;
    } else if (nh === NH_AH) {
      if (end - off < 8) return fail(Reason.ipv6_ext_truncated);
      const len = (b[off + 1]! + 2) << 2;
      if (end - off < len) return fail(Reason.ipv6_ext_truncated);
      nh = b[off]!;
      off += len;
    } else if (nh === NH_FRAGMENT) {
      if (end - off < 8) return fail(Reason.ipv6_ext_truncated);
      const next = b[off]!;
      const fo = u16(b, off + 2);
      const offset = fo & 0xfff8;
      const more = (fo & 1) !== 0;
      out.ipId = u32(b, off + 4);
      off += 8;
      nh = next;
      // An atomic fragment (offset 0, no more) is a whole packet (RFC 6946).
      if (offset !== 0 || more) {
        info.isFragment = true;
        info.fragOffset = offset;
        info.fragMore = more;
        info.fragNext = next;
        out.protocol = NH_FRAGMENT;
        return off;
      }
    } else {
      out.protocol = nh;
      return off;
    }
    if (n >= MAX_EXT_HEADERS) return fail(Reason.ipv6_ext_chain_too_long);
  }
}
