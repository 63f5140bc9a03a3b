// Parser "rtp" (RFC 3550): media packets of the flows SIP/SDP registered in
// the task's FlowRegistry (the fast path: label with the call's call-id and
// codec and return), and optionally unregistered RTP recognised by its header
// alone (`heuristic`). This runs for every media packet, so canHandle and
// handle read bytes directly and allocate only the result they report.
import { STATIC_PAYLOAD_TYPES } from '../../../core/rtp-payload-types.ts';
import { z } from 'zod';
import type { Labels, ParseResult, Payload } from '../../../core/output.ts';
import { IPPROTO, type DecodedPacket } from '../../../core/packet.ts';
import type { FlowRegistry, FlowRegistryAware } from '../../../flow/api.ts';
import type { Parser, PluginConfig, PluginContext } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';
import { u32Text } from '../../../core/json-text.ts';

export const RTP_HEADER_LEN = 12;
/** Heuristic port range when min_port / max_port are not set: above the well-known ports. */
export const DEFAULT_RTP_MIN_PORT = 1024;
export const DEFAULT_RTP_MAX_PORT = 65535;

const port = z.number().int().min(1).max(65535);
export const rtpConfigSchema = z
  .strictObject({
    /** Also report RTP of flows no signalling registered, recognised by the header alone. */
    heuristic: z.boolean().default(false),
    /** Heuristic only: an even port in [min_port, max_port] on either side is required. */
    min_port: port.optional(),
    max_port: port.optional(),
  })
  .refine((c) => (c.min_port ?? DEFAULT_RTP_MIN_PORT) <= (c.max_port ?? DEFAULT_RTP_MAX_PORT), {
    message: 'min_port must not be greater than max_port',
    path: ['min_port'],
  });
export type RtpConfig = z.output<typeof rtpConfigSchema>;
export type RtpConfigInput = z.input<typeof rtpConfigSchema>;

export const RTP_MALFORMED_REASONS = ['too_short', 'bad_version', 'csrc_overflow', 'extension_overflow', 'bad_padding'] as const;
export type RtpMalformedReason = (typeof RTP_MALFORMED_REASONS)[number];
const M_TOO_SHORT = 0;
const M_BAD_VERSION = 1;
const M_CSRC = 2;
const M_EXTENSION = 3;
const M_PADDING = 4;

const COUNTERS = ['packets', 'registered', 'unregistered'] as const;
const C_PACKETS = 0;
const C_REGISTERED = 1;
const C_UNREGISTERED = 2;

const NO_CSRCS: readonly number[] = Object.freeze([]);
/** Payload type strings, made once: rtp.pt is on every reported packet. */
/** The codec of each static payload type, by number (undefined for dynamic ones). */
const STATIC_CODEC: readonly (string | undefined)[] = Array.from({ length: 128 }, (_, i) => STATIC_PAYLOAD_TYPES[i]);
const PT_TEXT: readonly string[] = Array.from({ length: 128 }, (_, i) => String(i));

/**
 * Sequence number text, made once per value: every RTP packet has a new
 * sequence number in its label and its JSON, and String(n) of a number not
 * in V8's small number-string cache costs ~25 ns against ~3 ns for a table
 * read (measured, node 24). At most 65,536 short strings (~2 MB) per thread.
 */
const SEQ_TEXT: (string | undefined)[] = new Array<string | undefined>(65536).fill(undefined);

function seqText(seq: number): string {
  return (SEQ_TEXT[seq] ??= String(seq));
}

// SSRC text, direct-mapped by SSRC: a stream's packets repeat it, and an
// SSRC of 2^31 or more (half of them: they are random) is a heap number to
// V8, whose conversion to text costs several times a cache probe.
const SSRC_CACHE_BITS = 12;
const ssrcKeys = new Int32Array(1 << SSRC_CACHE_BITS);
const ssrcTexts: (string | null)[] = new Array<string | null>(1 << SSRC_CACHE_BITS).fill(null);

function ssrcText(ssrc: number): string {
  const i = Math.imul(ssrc, 0x9e3779b1) >>> (32 - SSRC_CACHE_BITS);
  const t = ssrcTexts[i]!;
  if (t !== null && ssrcKeys[i] === (ssrc | 0)) return t;
  const s = u32Text(ssrc);
  ssrcKeys[i] = ssrc | 0;
  ssrcTexts[i] = s;
  return s;
}

/**
 * Payload "rtp": the header fields for the JSON form, the packet bytes for
 * the binary form. It keeps a view of the capture buffer rather than a copy:
 * the pipeline serialises a payload before the next packet overwrites it.
 */
export class RtpPayload implements Payload {
  readonly type = 'rtp';

  constructor(
    private readonly data: Uint8Array,
    private readonly offset: number,
    private readonly length: number,
    readonly padding: boolean,
    readonly extension: boolean,
    readonly csrcCount: number,
    readonly marker: boolean,
    readonly payloadType: number,
    readonly sequence: number,
    readonly timestamp: number,
    readonly ssrc: number,
    readonly csrcs: readonly number[],
    /** Media bytes: the packet less header, CSRCs, extension and padding. */
    readonly payloadLength: number,
  ) {}

  toJSON(): unknown {
    return {
      version: 2,
      padding: this.padding,
      extension: this.extension,
      csrc_count: this.csrcCount,
      marker: this.marker,
      payload_type: this.payloadType,
      sequence: this.sequence,
      timestamp: this.timestamp,
      ssrc: this.ssrc,
      csrcs: this.csrcs,
      payload_length: this.payloadLength,
    };
  }

  /**
   * JSON.stringify(this.toJSON()), written directly: every field is a number
   * or a boolean. The fields up to payload_type depend on the first two
   * header bytes only, whose few combinations a stream repeats: their text
   * is made once (JSON_HEAD), so a packet appends five numbers to it.
   */
  toJsonText(): string {
    const key = (this.padding ? 1 : 0) | (this.extension ? 2 : 0) | (this.csrcCount << 2) | (this.marker ? 64 : 0) | (this.payloadType << 7);
    const head = JSON_HEAD[key] ?? jsonHead(key, this);
    return (
      `${head}"sequence":${seqText(this.sequence)},"timestamp":${u32Text(this.timestamp)},"ssrc":${ssrcText(this.ssrc)},` +
      `"csrcs":[${this.csrcs.length === 0 ? '' : this.csrcs.join(',')}],"payload_length":${this.payloadLength}}`
    );
  }

  /** A copy of the RTP packet as it was on the wire. */
  toBinary(): Uint8Array {
    return this.data.slice(this.offset, this.offset + this.length);
  }
}

/** JSON text of an RTP payload's first fields, by padding | extension << 1 | csrc count << 2 | marker << 6 | payload type << 7. */
const JSON_HEAD: (string | undefined)[] = new Array<string | undefined>(1 << 14).fill(undefined);

function jsonHead(key: number, p: RtpPayload): string {
  const s =
    `{"version":2,"padding":${p.padding},"extension":${p.extension},"csrc_count":${p.csrcCount},` +
    `"marker":${p.marker},"payload_type":${p.payloadType},`;
  JSON_HEAD[key] = s;
  return s;
}

/**
 * True when the second header byte is an RTCP packet type we parse (SR..XR):
 * with rtcp-mux (RFC 5761) RTCP shares the RTP port, and RTP avoids payload
 * types whose marker-bit form collides with these, so leave them to "rtcp".
 */
function isRtcpType(b1: number): boolean {
  return b1 >= 200 && b1 <= 207;
}

export class RtpParser implements Parser, FlowRegistryAware {
  private registry: FlowRegistry | null = null;
  private heuristic = false;
  private minPort = DEFAULT_RTP_MIN_PORT;
  private maxPort = DEFAULT_RTP_MAX_PORT;
  private readonly counters = new Float64Array(COUNTERS.length);
  private readonly malformed = new Float64Array(RTP_MALFORMED_REASONS.length);

  init(config: PluginConfig, _ctx?: PluginContext): void {
    const cfg = parsePluginConfig(rtpConfigSchema, config, 'parser rtp');
    this.heuristic = cfg.heuristic;
    this.minPort = cfg.min_port ?? DEFAULT_RTP_MIN_PORT;
    this.maxPort = cfg.max_port ?? DEFAULT_RTP_MAX_PORT;
  }

  setFlowRegistry(registry: FlowRegistry): void {
    this.registry = registry;
  }

  canHandle(pkt: DecodedPacket): boolean {
    if (pkt.protocol !== IPPROTO.UDP || pkt.payloadLength === 0) return false;
    const d = pkt.data;
    const o = pkt.payloadOffset;
    const b0 = d[o]!;
    // RFC 7983: a first byte below 80 is STUN, ZRTP, DTLS or a TURN channel
    // sharing the media port, not RTP: it stays unmatched.
    if (b0 < 80) return false;
    const b1 = pkt.payloadLength > 1 ? d[o + 1]! : 0;
    if (isRtcpType(b1)) return false;
    const reg = this.registry;
    if (reg !== null) {
      // A flow SIP registered as RTP: damage (short, wrong version) is handle()'s to count.
      const ctx = reg.lookup(pkt);
      if (ctx !== null && ctx.kind === 'rtp') return true;
    }
    if (pkt.payloadLength < RTP_HEADER_LEN || (b0 & 0xc0) !== 0x80) return false;
    return this.heuristic && this.looksLikeRtp(b1 & 0x7f, pkt.srcPort, pkt.dstPort);
  }

  /**
   * Header-only recognition: payload types 72-76 are RTCP's (SR..APP without
   * the marker bit), and RTP is sent to even ports (RFC 3550 section 11),
   * here required on either side, within the configured range.
   */
  private looksLikeRtp(pt: number, src: number, dst: number): boolean {
    if (pt >= 72 && pt <= 76) return false;
    return ((dst & 1) === 0 && dst >= this.minPort && dst <= this.maxPort) || ((src & 1) === 0 && src >= this.minPort && src <= this.maxPort);
  }

  handle(pkt: DecodedPacket): ParseResult | null {
    const d = pkt.data;
    const o = pkt.payloadOffset;
    const len = pkt.payloadLength;
    if (len < RTP_HEADER_LEN) return this.reject(M_TOO_SHORT);
    const b0 = d[o]!;
    if ((b0 & 0xc0) !== 0x80) return this.reject(M_BAD_VERSION);
    const cc = b0 & 0x0f;
    let hdr = RTP_HEADER_LEN + 4 * cc;
    if (hdr > len) return this.reject(M_CSRC);
    const hasExt = (b0 & 0x10) !== 0;
    if (hasExt) {
      if (hdr + 4 > len) return this.reject(M_EXTENSION);
      hdr += 4 + 4 * ((d[o + hdr + 2]! << 8) | d[o + hdr + 3]!);
      if (hdr > len) return this.reject(M_EXTENSION);
    }
    const hasPad = (b0 & 0x20) !== 0;
    let pad = 0;
    if (hasPad) {
      pad = d[o + len - 1]!;
      if (pad === 0 || hdr + pad > len) return this.reject(M_PADDING);
    }
    const b1 = d[o + 1]!;
    const pt = b1 & 0x7f;
    const seq = (d[o + 2]! << 8) | d[o + 3]!;
    const ts = ((d[o + 4]! << 24) | (d[o + 5]! << 16) | (d[o + 6]! << 8) | d[o + 7]!) >>> 0;
    const ssrc = ((d[o + 8]! << 24) | (d[o + 9]! << 16) | (d[o + 10]! << 8) | d[o + 11]!) >>> 0;
    let csrcs = NO_CSRCS;
    if (cc > 0) {
      const list: number[] = new Array(cc);
      for (let i = 0, p = o + RTP_HEADER_LEN; i < cc; i++, p += 4) list[i] = ((d[p]! << 24) | (d[p + 1]! << 16) | (d[p + 2]! << 8) | d[p + 3]!) >>> 0;
      csrcs = list;
    }
    const payload = new RtpPayload(d, o, len, hasPad, hasExt, cc, b1 >= 0x80, pt, seq, ts, ssrc, csrcs, len - hdr - pad);

    // Labels as object literals of fixed shape: one hidden class per shape.
    const c = this.counters;
    c[C_PACKETS]!++;
    const ctx = this.registry === null ? null : this.registry.lookup(pkt);
    let labels: Labels;
    if (ctx === null) {
      c[C_UNREGISTERED]!++;
      labels = { 'rtp.ssrc': ssrcText(ssrc), 'rtp.pt': PT_TEXT[pt]!, 'rtp.seq': seqText(seq) };
    } else {
      c[C_REGISTERED]!++;
      // A static payload type names its codec itself (RFC 3551): a call that
      // offered PCMU first may still carry PCMA, comfort noise (CN) or G.729,
      // and the label must say what this packet is. A dynamic one (96-127)
      // takes the codec the SDP gave the endpoint.
      const codec = STATIC_CODEC[pt] ?? ctx.codec;
      labels =
        codec === ''
          ? { 'rtp.ssrc': ssrcText(ssrc), 'rtp.pt': PT_TEXT[pt]!, 'rtp.seq': seqText(seq), 'call-id': ctx.callId }
          : { 'rtp.ssrc': ssrcText(ssrc), 'rtp.pt': PT_TEXT[pt]!, 'rtp.seq': seqText(seq), 'call-id': ctx.callId, codec };
    }
    return { payload, labels };
  }

  private reject(reason: number): null {
    this.malformed[reason]!++;
    return null;
  }

  /**
   * packets (reported), registered (of those, on a flow the registry knows),
   * unregistered (reported by the heuristic), malformed_<reason> (not reported).
   */
  stats(): Record<string, number> {
    const s: Record<string, number> = {};
    for (let i = 0; i < COUNTERS.length; i++) s[COUNTERS[i]!] = this.counters[i]!;
    for (let i = 0; i < RTP_MALFORMED_REASONS.length; i++) s[`malformed_${RTP_MALFORMED_REASONS[i]!}`] = this.malformed[i]!;
    return s;
  }
}

registerPlugin('parser', 'rtp', () => new RtpParser());
