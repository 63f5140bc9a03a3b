// Builds the OutputPacket envelope from the worker's DecodedPacket: the one
// place where addresses become strings, once per *reported* packet.
import { formatIp } from '../core/ip.ts';
import { TUNNEL_NAMES, TunnelType, type DecodedPacket } from '../core/packet.ts';
import type { Labels, NetworkMeta, OutputPacket, Payload } from '../core/output.ts';

export function networkMeta(d: DecodedPacket): NetworkMeta {
  const vlans: number[] = [];
  for (let i = 0; i < d.vlanCount; i++) vlans.push(d.vlans[i]!);
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
      srcIp: formatIp(d.ipVersion, d.srcIp),
      dstIp: formatIp(d.ipVersion, d.dstIp),
      srcPort: d.srcPort,
      dstPort: d.dstPort,
      proto: d.protocol,
    },
    net: networkMeta(d),
    labels,
    payload,
  };
}
