// Packet contracts of the per-packet path (DESIGN section 3, ADR-010/021).
//
// RawPacket and DecodedPacket are *reused* objects: a capturer fills one
// RawPacket per packet and hands it to the decoder, the decoder fills one
// DecodedPacket per worker. Neither may be kept after the call that received
// it returns; copy what you need. This is what keeps the hot path free of
// per-packet allocation.

/** Link-layer types (the LINKTYPE_* numbers of pcap/pcapng). */
export const LinkType = {
  NULL: 0, // BSD loopback: 4-byte address family in host byte order
  ETHERNET: 1,
  RAW: 101, // raw IPv4 or IPv6, version nibble decides
  LOOP: 108, // OpenBSD loopback: 4-byte address family in network byte order
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** One captured frame, as the capturer saw it. */
export interface RawPacket {
  /**
   * The buffer the frame is in: the frame alone, or the capture ring it lies
   * in (see offset and end). The rings hand over their whole buffer and the
   * frame's bounds rather than a view per frame: making that view was most
   * of the frame ring's hand-over (54-56 ns per frame against 12-14 ns
   * without it, measured).
   */
  data: Uint8Array;
  /** Where the frame starts in `data` (0 when `data` is the frame). */
  offset: number;
  /** Where the frame ends in `data`, or -1: at the end of `data`. caplen = end - offset. */
  end: number;
  /** Length of the frame on the wire (>= the captured length when the snaplen cut it). */
  origLen: number;
  /** Capture timestamp: whole seconds since the epoch ... */
  tsSec: number;
  /** ... and nanoseconds within that second (0..999_999_999). */
  tsNsec: number;
  /** Link-layer type of the frame (LinkType). */
  linkType: number;
  /** Interface index (pcapng interface id for files, ifindex for live capture). */
  ifIndex: number;
}

export function newRawPacket(): RawPacket {
  return { data: EMPTY, offset: 0, end: -1, origLen: 0, tsSec: 0, tsNsec: 0, linkType: LinkType.ETHERNET, ifIndex: 0 };
}

/** Where the frame ends in raw.data. */
export function frameEnd(raw: RawPacket): number {
  return raw.end < 0 ? raw.data.length : raw.end;
}

/** The captured length of the frame. */
export function capturedLength(raw: RawPacket): number {
  return frameEnd(raw) - raw.offset;
}

/** The frame's bytes: `data` itself when it is the frame, else a new view (an allocation). */
export function frameBytes(raw: RawPacket): Uint8Array {
  return raw.offset === 0 && raw.end < 0 ? raw.data : raw.data.subarray(raw.offset, frameEnd(raw));
}

export const EMPTY: Uint8Array = new Uint8Array(0);

/** Tunnel encapsulations the decoder can strip (ADR-003), numeric for the hot path. */
export const TunnelType = {
  NONE: 0,
  VXLAN: 1,
  GENEVE: 2,
  GRE: 3,
  ERSPAN: 4,
  IPIP: 5, // IPv4 or IPv6 carried directly in IPv4/IPv6 (protocol 4 or 41)
} as const;
export type TunnelTypeCode = (typeof TunnelType)[keyof typeof TunnelType];
export const TUNNEL_NAMES = ['none', 'vxlan', 'geneve', 'gre', 'erspan', 'ipip'] as const;

export const IPPROTO = {
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  GRE: 47,
  ICMPV6: 58,
  SCTP: 132,
} as const;

export const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

export const MAX_VLANS = 8;

/**
 * The decoder's output: L2-L4 fields of one packet. One instance per worker,
 * overwritten by every decode; parsers read it and must not keep it.
 *
 * Addresses are kept as bytes (4 or 16 used of a 16-byte array) so that
 * decoding builds no strings; format them with `formatIp` only when a record
 * is written.
 */
export class DecodedPacket {
  // --- capture ---
  tsSec = 0;
  tsNsec = 0;
  capLen = 0;
  origLen = 0;
  ifIndex = 0;
  /** Capture sequence number (1-based, in capture order), for correlating with other tools. */
  frameNo = 0;

  // --- L2 ---
  hasMac = false;
  readonly srcMac = new Uint8Array(6);
  readonly dstMac = new Uint8Array(6);
  /** EtherType of the (innermost) network layer, 0 when there was no L2 header. */
  etherType = 0;
  /** 802.1Q / 802.1ad VLAN ids in the order they appear on the wire (outermost first). */
  readonly vlans = new Uint16Array(MAX_VLANS);
  vlanCount = 0;

  // --- tunnel (outermost encapsulation that was stripped) ---
  tunnelType: number = TunnelType.NONE;
  tunnelOuterIpVersion = 0;
  readonly tunnelOuterSrc = new Uint8Array(16);
  readonly tunnelOuterDst = new Uint8Array(16);
  /** VXLAN/Geneve VNI, GRE key, ERSPAN session id; valid when tunnelHasId. */
  tunnelId = 0;
  tunnelHasId = false;

  // --- L3 ---
  /** 4 or 6; 0 when the frame carried no IP packet (ARP, LLDP...). */
  ipVersion = 0;
  readonly srcIp = new Uint8Array(16);
  readonly dstIp = new Uint8Array(16);
  /** IP protocol / IPv6 upper-layer next header (after the extension chain). */
  protocol = 0;
  /** TTL (IPv4) or hop limit (IPv6). */
  ttl = 0;
  /** IPv4 identification or IPv6 fragment identification. */
  ipId = 0;
  /** True when this packet was reassembled from IP fragments. */
  fragmented = false;

  // --- L4 ---
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  tcpSeq = 0;
  tcpAck = 0;
  /** TCP header length in bytes (data offset * 4). */
  tcpHeaderLen = 0;
  tcpWindow = 0;
  icmpType = 0;
  icmpCode = 0;

  // --- payload ---
  /**
   * The buffer the payload lives in: the captured frame, or the decoder's
   * buffer holding a reassembled IP datagram (ADR-004b). Either is valid only
   * until the next decode: copy what must be kept.
   */
  data: Uint8Array = EMPTY;
  /** Offset of the L4 payload (or of the L3 payload for protocols without a decoded L4). */
  payloadOffset = 0;
  payloadLength = 0;
  /** True when the snaplen cut the packet short of what its headers announce. */
  truncated = false;

  /** The payload as a view (allocates a view object: call only when needed). */
  get payload(): Uint8Array {
    return this.data.subarray(this.payloadOffset, this.payloadOffset + this.payloadLength);
  }

  /** Clear everything a decode may or may not set, before decoding the next frame. */
  reset(): void {
    this.hasMac = false;
    this.etherType = 0;
    this.vlanCount = 0;
    this.tunnelType = TunnelType.NONE;
    this.tunnelOuterIpVersion = 0;
    this.tunnelId = 0;
    this.tunnelHasId = false;
    this.ipVersion = 0;
    this.protocol = 0;
    this.ttl = 0;
    this.ipId = 0;
    this.fragmented = false;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.tcpSeq = 0;
    this.tcpAck = 0;
    this.tcpHeaderLen = 0;
    this.tcpWindow = 0;
    this.icmpType = 0;
    this.icmpCode = 0;
    this.data = EMPTY;
    this.payloadOffset = 0;
    this.payloadLength = 0;
    this.truncated = false;
  }
}
