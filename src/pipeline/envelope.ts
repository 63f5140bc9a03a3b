// Builds the OutputPacket envelope from the worker's DecodedPacket: the one
// place where addresses become strings, once per *reported* packet.
import { formatIp } from '../core/ip.ts';
import { TUNNEL_NAMES, TunnelType, type DecodedPacket } from '../core/packet.ts';
import type { Labels, NetworkMeta, OutputPacket, Payload } from '../core/output.ts';

/**
 * The VLAN list of untagged packets, shared: most traffic carries no tag, and
 * one array less per record is measurable on the RTP fast path. Frozen, since
 * records are read, never edited, after the processors (which touch labels only).
 */
const NO_VLANS: number[] = Object.freeze([]) as unknown as number[];

// IPv4 text forms, direct-mapped by address: media flows repeat the same few
// addresses packet after packet, and formatting four numbers into a new string
// (later flattened again by the record serialiser) costs more than a probe.
const V4_CACHE_BITS = 12;
const v4Keys = new Int32Array(1 << V4_CACHE_BITS);
const v4Text: (string | null)[] = new Array<string | null>(1 << V4_CACHE_BITS).fill(null);

function ipv4Text(b: Uint8Array): string {
  const key = (b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!;
  // Multiplicative hash: addresses of one subnet differ in the low byte only.
  const i = Math.imul(key, 0x9e3779b1) >>> (32 - V4_CACHE_BITS);
  const t = v4Text[i]!;
  if (t !== null && v4Keys[i] === key) return t;
  const s = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  v4Keys[i] = key;
  v4Text[i] = s;
  return s;
}

function ipText(version: number, b: Uint8Array): string {
  return version === 4 ? ipv4Text(b) : formatIp(version, b);
}

export function networkMeta(d: DecodedPacket): NetworkMeta {
  let vlans = NO_VLANS;
  if (d.vlanCount > 0) {
    vlans = [];
    for (let i = 0; i < d.vlanCount; i++) vlans.push(d.vlans[i]!);
  }
  return {
    ipVersion: d.ipVersion,
    vlans,
    tunnel:
      d.tunnelType === TunnelType.NONE
        ? null
        : {
            type: TUNNEL_NAMES[d.tunnelType] ?? 'unknown',
            outerSrcIp: formatIp(d.tunnelOuterIpVersion, d.tunnelOuterSrc),
            outerDstIp: formatIp(d.tunnelOuterIpVersion, d.tunnelOuterDst),
            vni: d.tunnelHasId ? d.tunnelId : null,
          },
    fragmented: d.fragmented,
    ttl: d.ttl,
  };
}

export function makeOutputPacket(d: DecodedPacket, payload: Payload, labels: Labels): OutputPacket {
  return {
    tsSec: d.tsSec,
    tsNsec: d.tsNsec,
    frameNo: d.frameNo,
    protocol: payload.type,
    flow: {
      srcIp: ipText(d.ipVersion, d.srcIp),
      dstIp: ipText(d.ipVersion, d.dstIp),
      srcPort: d.srcPort,
      dstPort: d.dstPort,
      proto: d.protocol,
    },
    net: networkMeta(d),
    labels,
    payload,
  };
}
