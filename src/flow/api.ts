// FlowRegistry (ADR-008/014): one per task, shared by its pipeline workers.
// Signalling parsers (SIP/SDP) register the media endpoints they learn;
// media parsers (RTP/RTCP) look packets up on their fast path.
//
// Keys are media endpoints: the transport protocol, address and port that an
// SDP offer or answer says it receives on. A packet matches when its
// destination, or else its source (symmetric RTP), is a registered endpoint.
// Times are capture (packet) time in seconds, so that offline runs expire
// entries as live ones would.
import type { DecodedPacket } from '../core/packet.ts';

export type MediaKind = 'rtp' | 'rtcp';

export interface FlowContext {
  callId: string;
  codec: string;
  kind: MediaKind;
}

export interface FlowRegistry {
  /**
   * Registers (or refreshes) an endpoint. `ip` holds 4 (v4) or 16 (v6) address
   * bytes from offset 0. Visible to every worker when this returns.
   */
  register(proto: number, ipVersion: number, ip: Uint8Array, port: number, ctx: FlowContext, ttlSec: number, nowSec: number): void;
  /** The context of the packet's flow, or null. Allocation-free on a hit for a known entry. */
  lookup(pkt: DecodedPacket): FlowContext | null;
  unregister(proto: number, ipVersion: number, ip: Uint8Array, port: number): void;
  /** Releases every endpoint of a call (BYE); returns how many were removed. */
  unregisterCall(callId: string): number;
  /** Live entries (expired ones excluded lazily). */
  size(): number;
}

/** Parsers that need the registry implement this; it is wired after init (ADR-007). */
export interface FlowRegistryAware {
  setFlowRegistry(registry: FlowRegistry): void;
}

export function isFlowRegistryAware(p: unknown): p is FlowRegistryAware {
  return typeof (p as FlowRegistryAware | null)?.setFlowRegistry === 'function';
}
