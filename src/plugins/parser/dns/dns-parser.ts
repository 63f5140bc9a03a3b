// Parser "dns": DNS over UDP (RFC 1035), mDNS (5353) and LLMNR (5355) share
// the message format. The message itself is read by parseDnsMessage, which
// knows nothing of the transport, so DNS over TCP can reuse it.
import { z } from 'zod';
import type { Labels, ParseResult, Payload } from '../../../core/output.ts';
import { IPPROTO, type DecodedPacket } from '../../../core/packet.ts';
import type { Parser, PluginConfig, PluginContext } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';
import {
  DNS_HEADER_LEN,
  DNS_MALFORMED_REASONS,
  dnsMessageToJson,
  parseDnsMessage,
  type DnsMalformedReason,
  type DnsMessage,
} from './message.ts';
import { rcodeName, typeName } from './names.ts';
import type { StreamHandler, StreamParser, StreamSink } from '../../../reassembly/api.ts';
import { DnsTcpStream } from './dns-tcp.ts';

export const DEFAULT_DNS_PORTS = [53, 5353, 5355] as const;

export const dnsConfigSchema = z.strictObject({
  /** A packet is DNS when its source or destination port is one of these. */
  ports: z
    .array(z.number().int().min(1).max(65535))
    .min(1, 'at least one port')
    .default([...DEFAULT_DNS_PORTS]),
});
export type DnsConfig = z.output<typeof dnsConfigSchema>;
export type DnsConfigInput = z.input<typeof dnsConfigSchema>;

/** Payload "dns": the parsed message for the JSON form, its bytes for the binary form. */
export class DnsPayload implements Payload {
  readonly type = 'dns';

  constructor(
    readonly message: DnsMessage,
    /** A copy of the message bytes: the capture buffer is reused after the packet. */
    readonly bytes: Uint8Array,
    /** Why the parse stopped before the end of the message, or null. */
    readonly error: DnsMalformedReason | null,
  ) {}

  toJSON(): unknown {
    return dnsMessageToJson(this.message, this.error);
  }

  /** The message as it was on the wire (the same copy on every call). */
  toBinary(): Uint8Array {
    return this.bytes;
  }
}

/** Labels of a parsed message (DESIGN section 3): dns.id, dns.query, dns.type, dns.rcode for responses. */
export function dnsLabels(m: DnsMessage): Labels {
  const labels: Labels = { 'dns.id': String(m.id) };
  const q = m.questions[0];
  if (q !== undefined) {
    labels['dns.query'] = q.name;
    labels['dns.type'] = typeName(q.type);
  }
  if (m.qr) labels['dns.rcode'] = rcodeName(m.rcode);
  return labels;
}

const COUNTERS = [
  'messages',
  'queries',
  'responses',
  'partial',
  'rejected',
  'trailing_bytes',
  'tcp_streams', // reassembled DNS-over-TCP streams
  'tcp_messages', // messages framed out of them
  'tcp_resyncs', // times the framing looked for a message boundary (mid-stream join, gap, bad length)
  'tcp_skipped_bytes',
] as const;
type Counter = (typeof COUNTERS)[number];
export type DnsCounter = Counter;
const CI = Object.fromEntries(COUNTERS.map((n, i) => [n, i])) as Record<Counter, number>;
const RI = Object.fromEntries(DNS_MALFORMED_REASONS.map((r, i) => [r, i])) as Record<DnsMalformedReason, number>;

export class DnsParser implements Parser, StreamParser {
  private portList: number[] = [...DEFAULT_DNS_PORTS];
  /** One byte per port: a lookup per packet without hashing. */
  private readonly ports = new Uint8Array(65536);
  private readonly counters = new Float64Array(COUNTERS.length);
  private readonly malformed = new Float64Array(DNS_MALFORMED_REASONS.length);

  init(config: PluginConfig, _ctx?: PluginContext): void {
    const cfg = parsePluginConfig(dnsConfigSchema, config, 'parser dns');
    this.ports.fill(0);
    for (const p of cfg.ports) this.ports[p] = 1;
    this.portList = [...cfg.ports];
  }

  // ---- DNS over TCP (RFC 1035 4.2.2, RFC 7766): reassembled streams

  streamPorts(): readonly number[] {
    return this.portList;
  }

  canHandleStream(pkt: DecodedPacket): boolean {
    return this.ports[pkt.srcPort] === 1 || this.ports[pkt.dstPort] === 1;
  }

  openStream(_pkt: DecodedPacket, sink: StreamSink): StreamHandler {
    this.counters[CI.tcp_streams]!++;
    return new DnsTcpStream(this, sink);
  }

  bump(name: DnsCounter, n = 1): void {
    this.counters[CI[name]]! += n;
  }

  canHandle(pkt: DecodedPacket): boolean {
    return (
      pkt.protocol === IPPROTO.UDP &&
      pkt.payloadLength >= DNS_HEADER_LEN &&
      (this.ports[pkt.srcPort] === 1 || this.ports[pkt.dstPort] === 1)
    );
  }

  handle(pkt: DecodedPacket): ParseResult | null {
    return this.handleMessage(pkt.data, pkt.payloadOffset, pkt.payloadLength);
  }

  /** One whole message d[start, start+len), from a UDP datagram or a DNS-over-TCP frame. */
  handleMessage(d: Uint8Array, start: number, len: number): ParseResult | null {
    const r = parseDnsMessage(d, start, len);
    const m = r.message;
    if (r.error !== null) this.malformed[RI[r.error]]!++;
    if (m === null) {
      this.counters[CI.rejected]!++;
      return null;
    }
    const c = this.counters;
    c[CI.messages]!++;
    c[m.qr ? CI.responses : CI.queries]!++;
    if (r.error !== null) c[CI.partial]!++;
    if (m.trailing > 0) c[CI.trailing_bytes]!++;
    const bytes = d.slice(start, start + m.length);
    return { payload: new DnsPayload(m, bytes, r.error), labels: dnsLabels(m) };
  }

  /**
   * messages (reported), queries, responses, partial (reported with sections
   * cut short by damage), rejected (no usable header or question: nothing
   * reported), trailing_bytes (messages with bytes after the last record),
   * and malformed_<reason> for every reason a parse stopped.
   */
  stats(): Record<string, number> {
    const s: Record<string, number> = {};
    for (let i = 0; i < COUNTERS.length; i++) s[COUNTERS[i]!] = this.counters[i]!;
    for (let i = 0; i < DNS_MALFORMED_REASONS.length; i++) s[`malformed_${DNS_MALFORMED_REASONS[i]!}`] = this.malformed[i]!;
    return s;
  }
}

registerPlugin('parser', 'dns', () => new DnsParser());
