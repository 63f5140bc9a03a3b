// The decoder's public surface: configuration, result codes, error reasons.
// The decoder is core code, not a plugin (ADR-002).
import type { TcpReassemblyConfig } from '../reassembly/api.ts';

export interface TunnelSwitches {
  vxlan: boolean;
  geneve: boolean;
  gre: boolean;
  erspan: boolean;
  ipip: boolean;
}

export interface DecoderConfig {
  /** Tunnel decapsulation, each off by default (ADR-003). */
  tunnel: TunnelSwitches;
  ipReassembly: {
    /** Seconds a fragment group may wait for its missing pieces (packet time). */
    timeoutSec: number;
    /** Cap on fragment groups in flight; the oldest is evicted beyond it. */
    maxFragments: number;
  };
  /** TCP stream reassembly (ADR-005), run by the pipeline after decoding; absent = off. */
  tcpReassembly?: TcpReassemblyConfig;
}

export function defaultDecoderConfig(): DecoderConfig {
  return {
    tunnel: { vxlan: false, geneve: false, gre: false, erspan: false, ipip: false },
    ipReassembly: { timeoutSec: 30, maxFragments: 1024 },
  };
}

/** What decode() did with a frame. */
export const DecodeResult = {
  /** The DecodedPacket holds a packet (possibly a reassembled datagram). */
  OK: 0,
  /** A fragment was stored; nothing to hand on yet. */
  HELD: 1,
  /** The frame was dropped; a reason was counted. */
  DROPPED: 2,
} as const;

