// The core L2-L4 decoder (ADR-002/003/004): one per worker, never throws, and
// on the unfragmented path allocates nothing. It fills a reused
// DecodedPacket and says what it did (DecodeResult). Problems are counted by
// reason: a frame whose network layer cannot be read is dropped; a packet
// whose transport or tunnel header is damaged passes with what was decoded.
import { frameEnd, IPPROTO, TunnelType, type DecodedPacket, type RawPacket } from '../core/packet.ts';
import { DecodeResult, type DecoderConfig, type TunnelSwitches } from './api.ts';
import { copyAddr, reasonOf, u16, u32 } from './bytes.ts';
import { DecoderStats } from './decoder-stats.ts';
import { IpInfo, ipv4Header, ipv6ExtChain, ipv6Header } from './ip-headers.ts';
import { decodeEthernet, decodeLink, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './link.ts';
import { COMPLETE, HELD, Reassembler } from './reassembly.ts';
import { Reason } from './reasons.ts';
import { geneveHeader, greHeader, INNER_ETHERNET, NOT_A_TUNNEL, TunnelInfo, vxlanHeader } from './tunnels.ts';

const VXLAN_PORT = 4789;
const GENEVE_PORT = 6081;
/** Tunnels inside tunnels: deeper nesting than this is treated as an attack, not traffic. */
const MAX_TUNNEL_DEPTH = 4;

export class Decoder {
  readonly stats = new DecoderStats();
  private readonly sw: TunnelSwitches;
  private readonly reasm: Reassembler;
  private readonly ip = new IpInfo();
  private readonly tun = new TunnelInfo();
  private depth = 0;
  private lastSec = -1;
  private now = 0;

  constructor(cfg: DecoderConfig) {
    this.sw = { ...cfg.tunnel };
    this.reasm = new Reassembler(cfg.ipReassembly.timeoutSec, cfg.ipReassembly.maxFragments, this.stats);
  }

  /** Fragment groups waiting for pieces. */
  get fragmentGroupsInFlight(): number {
    return this.reasm.inFlight;
  }

  /** Decodes one frame into `out` (which is reset first). */
  decode(raw: RawPacket, out: DecodedPacket): number {
    out.reset();
    const b = raw.data;
    const start = raw.offset;
    const end = frameEnd(raw);
    out.tsSec = raw.tsSec;
    out.tsNsec = raw.tsNsec;
    out.capLen = end - start;
    out.origLen = raw.origLen;
    out.ifIndex = raw.ifIndex;
    out.data = b;
    this.now = raw.tsSec + raw.tsNsec * 1e-9;
    if (raw.tsSec !== this.lastSec) {
      // Packet time moved on: let stale fragment groups go even if no fragment arrives.
      this.lastSec = raw.tsSec;
      if (this.reasm.inFlight > 0) this.reasm.expire(this.now);
    }
    this.depth = 0;
    const off = decodeLink(raw.linkType, b, start, end, out, this.stats);
    if (off < 0) return this.drop(reasonOf(off));
    const r = this.network(b, off, end, out);
    if (r === DecodeResult.OK) {
      this.stats.decoded++;
      if (out.truncated) this.stats.truncated++;
    }
    return r;
  }

  /** Lets fragment groups time out by the clock of the capture when it is idle. */
  expire(nowSec: number): void {
    if (this.reasm.inFlight > 0) this.reasm.expire(nowSec);
  }

  private drop(reason: number): number {
    this.stats.count(reason);
    return DecodeResult.DROPPED;
  }

  /** The network layer named by out.etherType, at `off`. */
  private network(b: Uint8Array, off: number, end: number, out: DecodedPacket): number {
    const et = out.etherType;
    const ip = this.ip;
    let p: number;
    if (et === ETHERTYPE_IPV4) p = ipv4Header(b, off, end, out, ip);
    else if (et === ETHERTYPE_IPV6) p = ipv6Header(b, off, end, out, ip);
    else {
      this.stats.nonIp++;
      return DecodeResult.DROPPED;
    }
    if (p < 0) return this.drop(reasonOf(p));
    if (ip.cut) out.truncated = true;
    if (ip.isFragment) return this.fragment(b, p, out);
    return this.transport(b, p, ip.payloadEnd, out.protocol, out);
  }

  private fragment(b: Uint8Array, off: number, out: DecodedPacket): number {
    const ip = this.ip;
    // A piece cut by the snaplen cannot be put back together faithfully.
    if (ip.cut) return this.drop(Reason.fragment_truncated);
    this.stats.fragments++;
    const v6 = out.ipVersion === 6;
    const proto = v6 ? ip.fragNext : out.protocol;
    const r = this.reasm.add(out.ipVersion, out.srcIp, out.dstIp, out.ipId, proto, ip.fragOffset, ip.fragMore, b, off, ip.payloadEnd - off, this.now);
    if (r === HELD) return DecodeResult.HELD;
    if (r !== COMPLETE) return this.drop(reasonOf(r));
    this.stats.reassembled++;
    const d = this.reasm.result;
    out.fragmented = true;
    let p = 0;
    let nh = this.reasm.resultProto;
    if (v6) {
      ip.isFragment = false;
      p = ipv6ExtChain(d, 0, d.length, nh, out, ip);
      if (p < 0) return this.drop(reasonOf(p));
      if (ip.isFragment) return this.drop(Reason.ipv6_bad_header); // a fragment header inside a fragment
      nh = out.protocol;
    }
    return this.transport(d, p, d.length, nh, out);
  }

  /** L4 at `off` up to `end` (the IP payload's end within the captured bytes). */
  private transport(b: Uint8Array, off: number, end: number, proto: number, out: DecodedPacket): number {
    out.protocol = proto;
    out.data = b;
    switch (proto) {
      case IPPROTO.UDP:
        return this.udp(b, off, end, out);
      case IPPROTO.TCP:
        return this.tcp(b, off, end, out);
      case IPPROTO.ICMP:
      case IPPROTO.ICMPV6:
        // type(1) code(1) checksum(2) rest-of-header(4); the payload follows.
        if (end - off < 2) {
          this.stats.count(Reason.icmp_truncated);
          return this.payload(off, end, out);
        }
        out.icmpType = b[off]!;
        out.icmpCode = b[off + 1]!;
        return this.payload(Math.min(off + 8, end), end, out);
      case IPPROTO.SCTP:
        // The common header's ports are all a flow needs.
        if (end - off >= 12) {
          out.srcPort = u16(b, off);
          out.dstPort = u16(b, off + 2);
          return this.payload(off + 12, end, out);
        }
        return this.payload(off, end, out);
      case IPPROTO.IPIP:
      case IPPROTO.IPV6:
        if (this.sw.ipip) {
          const t = this.tun;
          t.type = TunnelType.IPIP;
          t.inner = proto === IPPROTO.IPIP ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
          t.hasId = false;
          t.id = 0;
          const r = this.inner(b, off, end, out);
          if (r >= 0) return r;
        }
        return this.payload(off, end, out);
      case IPPROTO.GRE:
        if (this.sw.gre || this.sw.erspan) {
          const p = greHeader(b, off, end, this.sw, this.tun);
          if (p >= 0) {
            const r = this.inner(b, p, end, out);
            if (r >= 0) return r;
          } else if (p !== NOT_A_TUNNEL) this.stats.count(reasonOf(p));
        }
        return this.payload(off, end, out);
      default:
        return this.payload(off, end, out);
    }
  }

  private payload(off: number, end: number, out: DecodedPacket): number {
    out.payloadOffset = off;
    out.payloadLength = end > off ? end - off : 0;
    return DecodeResult.OK;
  }

  private udp(b: Uint8Array, off: number, end: number, out: DecodedPacket): number {
    if (end - off < 8) {
      this.stats.count(Reason.udp_truncated);
      return this.payload(off, end, out);
    }
    const sport = u16(b, off);
    const dport = u16(b, off + 2);
    out.srcPort = sport;
    out.dstPort = dport;
    const ulen = u16(b, off + 4);
    const p = off + 8;
    if (ulen < 8) {
      this.stats.count(Reason.udp_bad_length);
      return this.payload(p, end, out);
    }
    let pend = off + ulen;
    if (pend > end) {
      // Fewer bytes than announced: the snaplen cut them, or the lengths disagree.
      if (!out.truncated) this.stats.count(Reason.udp_bad_length);
      pend = end;
    }
    if (dport === VXLAN_PORT && this.sw.vxlan) {
      const q = vxlanHeader(b, p, pend, this.tun);
      if (q >= 0) {
        const r = this.inner(b, q, pend, out);
        if (r >= 0) return r;
      } else this.stats.count(reasonOf(q));
      // Not decapsulated: the outer packet passes as plain UDP.
      out.srcPort = sport;
      out.dstPort = dport;
    } else if (dport === GENEVE_PORT && this.sw.geneve) {
      const q = geneveHeader(b, p, pend, this.tun);
      if (q >= 0) {
        const r = this.inner(b, q, pend, out);
        if (r >= 0) return r;
      } else this.stats.count(reasonOf(q));
      out.srcPort = sport;
      out.dstPort = dport;
    }
    return this.payload(p, pend, out);
  }

  private tcp(b: Uint8Array, off: number, end: number, out: DecodedPacket): number {
    if (end - off < 20) {
      this.stats.count(Reason.tcp_truncated);
      return this.payload(off, end, out);
    }
    out.srcPort = u16(b, off);
    out.dstPort = u16(b, off + 2);
    out.tcpSeq = u32(b, off + 4);
    out.tcpAck = u32(b, off + 8);
    const hl = (b[off + 12]! >> 4) << 2;
    out.tcpFlags = b[off + 13]!;
    out.tcpWindow = u16(b, off + 14);
    out.tcpHeaderLen = hl;
    if (hl < 20) {
      this.stats.count(Reason.tcp_bad_header);
      return this.payload(end, end, out);
    }
    if (end - off < hl) {
      this.stats.count(out.truncated ? Reason.tcp_truncated : Reason.tcp_bad_header);
      return this.payload(end, end, out);
    }
    return this.payload(off + hl, end, out);
  }

  /**
   * Decodes the packet inside a tunnel described by this.tun, starting at
   * `off`. Returns a DecodeResult, or -1 when the inner packet could not be
   * decoded and the caller should pass the outer packet as it is.
   */
  private inner(b: Uint8Array, off: number, end: number, out: DecodedPacket): number {
    if (this.depth >= MAX_TUNNEL_DEPTH) {
      this.stats.count(Reason.tunnel_too_deep);
      return -1;
    }
    const t = this.tun;
    const first = out.tunnelType === TunnelType.NONE;
    // Keep what the outer layers said, to restore it if the inner packet is unreadable.
    const outerProto = out.protocol;
    const outerMac = out.hasMac;
    const outerVlans = out.vlanCount;
    const outerEt = out.etherType;
    const macs = this.saveMacs;
    for (let i = 0; i < 6; i++) {
      macs[i] = out.srcMac[i]!;
      macs[6 + i] = out.dstMac[i]!;
    }
    if (first) {
      const n = out.ipVersion === 6 ? 16 : 4;
      copyAddr(out.tunnelOuterSrc, out.srcIp, 0, n);
      copyAddr(out.tunnelOuterDst, out.dstIp, 0, n);
      out.tunnelOuterIpVersion = out.ipVersion;
      out.tunnelType = t.type;
      out.tunnelId = t.id;
      out.tunnelHasId = t.hasId;
    }
    this.depth++;
    let p = off;
    if (t.inner === INNER_ETHERNET) p = decodeEthernet(b, off, end, out, this.stats);
    else out.etherType = t.inner;
    let r = -1;
    if (p >= 0) {
      const et = out.etherType;
      if (et === ETHERTYPE_IPV4 || et === ETHERTYPE_IPV6) {
        // Inner IP headers overwrite the outer addresses; on failure they are restored below.
        r = this.innerNetwork(b, p, end, out);
      } else {
        this.stats.nonIp++;
        r = DecodeResult.DROPPED;
      }
    } else this.stats.count(reasonOf(p));
    this.depth--;
    if (r >= 0) {
      this.stats.decapsulated++;
      return r;
    }
    out.protocol = outerProto;
    out.hasMac = outerMac;
    for (let i = 0; i < 6; i++) {
      out.srcMac[i] = macs[i]!;
      out.dstMac[i] = macs[6 + i]!;
    }
    out.vlanCount = outerVlans;
    out.etherType = outerEt;
    if (first) out.tunnelType = TunnelType.NONE;
    return -1;
  }

  /** The inner network layer: like network(), but a failure lets the outer packet pass. */
  private innerNetwork(b: Uint8Array, off: number, end: number, out: DecodedPacket): number {
    // Save the outer L3 so that an unreadable inner header leaves it intact.
    const v = out.ipVersion;
    const ttl = out.ttl;
    const id = out.ipId;
    const s = this.saveSrc;
    const d = this.saveDst;
    for (let i = 0; i < 16; i++) {
      s[i] = out.srcIp[i]!;
      d[i] = out.dstIp[i]!;
    }
    const ip = this.ip;
    const p = out.etherType === ETHERTYPE_IPV4 ? ipv4Header(b, off, end, out, ip) : ipv6Header(b, off, end, out, ip);
    if (p < 0) {
      this.stats.count(reasonOf(p));
      out.ipVersion = v;
      out.ttl = ttl;
      out.ipId = id;
      for (let i = 0; i < 16; i++) {
        out.srcIp[i] = s[i]!;
        out.dstIp[i] = d[i]!;
      }
      return -1;
    }
    if (ip.cut) out.truncated = true;
    if (ip.isFragment) return this.fragment(b, p, out);
    return this.transport(b, p, ip.payloadEnd, out.protocol, out);
  }

  private readonly saveSrc = new Uint8Array(16);
  private readonly saveDst = new Uint8Array(16);
  private readonly saveMacs = new Uint8Array(12);
}
