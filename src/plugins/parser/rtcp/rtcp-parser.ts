// Parser "rtcp" (RFC 3550 section 6 and its extensions): control packets of
// RTP sessions, every sub-packet of a compound summarised in the payload.
//
// `heuristic` defaults to true here, unlike rtp: an RTCP datagram starts
// with version 2 and a packet type in 200-207, and its length field must fit
// the datagram, which together are a narrow signature that random UDP rarely
// matches; and RTCP often travels where the registry cannot point (the
// implicit RTP port + 1 behind NAT, or no a=rtcp line). List this parser after
// the port-based ones (dns, sip) so they see their traffic first.
import { z } from 'zod';
import type { Labels, ParseResult, Payload } from '../../../core/output.ts';
import { IPPROTO, type DecodedPacket } from '../../../core/packet.ts';
import type { FlowRegistry, FlowRegistryAware } from '../../../flow/api.ts';
import type { Parser, PluginConfig, PluginContext } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';
import { parseRtcpCompound, RTCP_MALFORMED_REASONS, RTCP_PT_FIRST, RTCP_PT_LAST, type RtcpMalformedReason, type RtcpPacket } from './rtcp-packet.ts';
import { u32Text } from '../../../core/json-text.ts';

export const RTCP_MIN_LEN = 8;

export const rtcpConfigSchema = z.strictObject({
  /** Also report RTCP of flows no signalling registered, recognised by the header. */
  heuristic: z.boolean().default(true),
});
export type RtcpConfig = z.output<typeof rtcpConfigSchema>;
export type RtcpConfigInput = z.input<typeof rtcpConfigSchema>;

/**
 * Payload "rtcp": every sub-packet for the JSON form, the datagram bytes for
 * the binary form. The bytes are a view of the capture buffer, copied only by
 * toBinary(): the pipeline serialises a payload before the next packet.
 */
export class RtcpPayload implements Payload {
  readonly type = 'rtcp';

  constructor(
    private readonly data: Uint8Array,
    private readonly offset: number,
    private readonly length: number,
    readonly packets: readonly RtcpPacket[],
    /** Why the walk stopped before the end of the datagram, or null. */
    readonly error: RtcpMalformedReason | null,
  ) {}

  toJSON(): unknown {
    return this.error === null ? { length: this.length, packets: this.packets } : { length: this.length, packets: this.packets, error: this.error };
  }

  /** A copy of the datagram as it was on the wire. */
  toBinary(): Uint8Array {
    return this.data.slice(this.offset, this.offset + this.length);
  }
}

const COUNTERS = ['packets', 'registered', 'partial', 'rejected'] as const;
type Counter = (typeof COUNTERS)[number];
const CI = Object.fromEntries(COUNTERS.map((n, i) => [n, i])) as Record<Counter, number>;
const RI = Object.fromEntries(RTCP_MALFORMED_REASONS.map((r, i) => [r, i])) as Record<RtcpMalformedReason, number>;

export class RtcpParser implements Parser, FlowRegistryAware {
  private registry: FlowRegistry | null = null;
  private heuristic = true;
  private readonly counters = new Float64Array(COUNTERS.length);
  private readonly malformed = new Float64Array(RTCP_MALFORMED_REASONS.length);

  init(config: PluginConfig, _ctx?: PluginContext): void {
    this.heuristic = parsePluginConfig(rtcpConfigSchema, config, 'parser rtcp').heuristic;
  }

  setFlowRegistry(registry: FlowRegistry): void {
    this.registry = registry;
  }

  canHandle(pkt: DecodedPacket): boolean {
    const len = pkt.payloadLength;
    if (pkt.protocol !== IPPROTO.UDP || len < RTCP_MIN_LEN) return false;
    const d = pkt.data;
    const o = pkt.payloadOffset;
    if ((d[o]! & 0xc0) !== 0x80) return false;
    const pt = d[o + 1]!;
    if (pt < RTCP_PT_FIRST || pt > RTCP_PT_LAST) return false;
    if (this.heuristic && (((d[o + 2]! << 8) | d[o + 3]!) + 1) * 4 <= len) return true;
    // A registered endpoint of either kind: with rtcp-mux (RFC 5761) RTCP
    // arrives on the endpoint registered as 'rtp'.
    return this.registry !== null && this.registry.lookup(pkt) !== null;
  }

  handle(pkt: DecodedPacket): ParseResult | null {
    const d = pkt.data;
    const o = pkt.payloadOffset;
    const len = pkt.payloadLength;
    const r = parseRtcpCompound(d, o, len);
    const c = this.counters;
    if (r.error !== null) this.malformed[RI[r.error]]!++;
    if (r.firstType === null) {
      c[CI.rejected]!++;
      return null;
    }
    c[CI.packets]!++;
    if (r.error !== null) c[CI.partial]!++;
    const labels: Labels = { 'rtcp.type': r.firstType };
    if (r.firstSsrc >= 0) labels['rtcp.ssrc'] = u32Text(r.firstSsrc);
    const ctx = this.registry === null ? null : this.registry.lookup(pkt);
    if (ctx !== null) {
      c[CI.registered]!++;
      labels['call-id'] = ctx.callId;
    }
    return { payload: new RtcpPayload(d, o, len, r.packets, r.error), labels };
  }

  /**
   * packets (reported), registered (of those, on a flow the registry knows),
   * partial (reported, but a later sub-packet was damaged), rejected (first
   * sub-packet unusable: nothing reported), malformed_<reason> for both.
   */
  stats(): Record<string, number> {
    const s: Record<string, number> = {};
    for (let i = 0; i < COUNTERS.length; i++) s[COUNTERS[i]!] = this.counters[i]!;
    for (let i = 0; i < RTCP_MALFORMED_REASONS.length; i++) s[`malformed_${RTCP_MALFORMED_REASONS[i]!}`] = this.malformed[i]!;
    return s;
  }
}

registerPlugin('parser', 'rtcp', () => new RtcpParser());
