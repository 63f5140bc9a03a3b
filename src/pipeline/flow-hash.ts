// Symmetric flow hashing: both directions of a 5-tuple get the same number,
// so a flow always lands on the same worker (DESIGN section 2). Numeric only:
// no strings on the per-packet path (DESIGN section 9).
import type { DecodedPacket } from '../core/packet.ts';

function mix32(h: number): number {
  // murmur3 finaliser: spreads every input bit over the whole word.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function endpointHash(ip: Uint8Array, len: number, port: number): number {
  let h = 0x9747b28c ^ port;
  for (let i = 0; i < len; i += 4) {
    const w = (ip[i]! << 24) | (ip[i + 1]! << 16) | (ip[i + 2]! << 8) | ip[i + 3]!;
    h = mix32(h ^ w);
  }
  return mix32(h);
}

/** Hash of the packet's 5-tuple, the same for both directions. */
export function flowHash(p: DecodedPacket): number {
  const len = p.ipVersion === 6 ? 16 : 4;
  const a = endpointHash(p.srcIp, len, p.srcPort);
  const b = endpointHash(p.dstIp, len, p.dstPort);
  return mix32(((a + b) | 0) ^ p.protocol);
}

/**
 * Hash of an IP datagram's fragment group (addresses and id, both
 * directions alike): every fragment of a datagram must reach the worker that
 * reassembles it, and non-first fragments carry no ports.
 */
export function fragmentGroupHash(p: DecodedPacket): number {
  const len = p.ipVersion === 6 ? 16 : 4;
  const a = endpointHash(p.srcIp, len, 0);
  const b = endpointHash(p.dstIp, len, 0);
  return mix32(((a + b) | 0) ^ p.ipId);
}
