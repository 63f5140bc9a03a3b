// Parser "sip" (RFC 3261 over UDP) with SDP media correlation: every media
// line of an offer or answer registers its RTP and RTCP endpoints in the
// task's FlowRegistry, so that the rtp and rtcp parsers label media with the
// call's call-id and codec; a BYE releases them after a grace period (see
// media-tracker.ts for why). The message itself is read by parseSipMessage,
// which knows nothing of the transport (TCP framing can reuse it).
import { z } from 'zod';
import { duration } from '../../../config/global-schema.ts';
import type { Labels, ParseResult, Payload } from '../../../core/output.ts';
import { IPPROTO, type DecodedPacket } from '../../../core/packet.ts';
import type { FlowRegistry, FlowRegistryAware } from '../../../flow/api.ts';
import type { Parser, PluginConfig, PluginContext } from '../../../plugin/interfaces.ts';
import { registerPlugin } from '../../../plugin/registry.ts';
import { parsePluginConfig } from '../../plugin-config.ts';
import { CR, LF } from './bytes.ts';
import { DEFAULT_MAX_TRACKED_CALLS, MediaTracker, type MediaEndpoint } from './media-tracker.ts';
import { BodyKind, parseSipMessage, SipHeader, SipMethod, type SipMessage } from './message.ts';
import { reasonsOf, SIP_MALFORMED_REASONS } from './reasons.ts';
import type { StreamHandler, StreamParser, StreamSink } from '../../../reassembly/api.ts';
import { SipStream } from './sip-stream.ts';
import { isUnspecified, parseSdp, sdpToJson, sdpToJsonText, type Sdp, type SdpAddress } from './sdp.ts';

export const DEFAULT_SIP_PORTS = [5060, 5061, 5080] as const;
/** Usual SIP over WebSocket ports (RFC 7118 names none): Kamailio/OpenSIPS 5066, Asterisk 8088. */
export const DEFAULT_SIP_WS_PORTS = [5066, 8088] as const;

const port = z.number().int().min(1).max(65535);
export const sipConfigSchema = z.strictObject({
  /** A UDP packet is SIP when its source or destination port is one of these... */
  ports: z
    .array(port)
    .min(1, 'at least one port')
    .default([...DEFAULT_SIP_PORTS]),
  /**
   * TCP streams on `ports` and `ws_ports` are framed when TCP reassembly is on
   * (core.decoder.tcp_reassembly); a WebSocket upgrade is followed on either,
   * and streams on `ws_ports` joined mid-way are read as WebSocket frames.
   */
  ws_ports: z.array(port).default([...DEFAULT_SIP_WS_PORTS]),
  /** ...or, with this, when its payload starts like a SIP request or status line. */
  detect_any_port: z.boolean().default(true),
  /** TTL of registered media endpoints ("5m", "300s" or seconds), refreshed by every offer/answer. */
  media_stream_timeout: duration('300s').refine((s) => s > 0, 'must be more than 0'),
  /** Register the media of SDP offers/answers in the FlowRegistry. */
  register_media: z.boolean().default(true),
  /**
   * How long a call's endpoints stay registered after its BYE (and a re-offer's
   * abandoned endpoints after the re-offer), for trailing RTP/RTCP; 0 releases at once.
   */
  bye_grace: duration('5s'),
  /** Calls whose registered endpoints one parser instance remembers (for re-offers and BYE). */
  max_tracked_calls: z.number().int().min(1).default(DEFAULT_MAX_TRACKED_CALLS),
});
export type SipConfig = z.output<typeof sipConfigSchema>;
export type SipConfigInput = z.input<typeof sipConfigSchema>;

/** Most ports registered for one m= line with a "/<count>" (RFC 8866 5.14). */
const MAX_PORT_COUNT = 16;

/** Status code strings, made once: sip.status is on every response. */
const STATUS_TEXT: readonly string[] = Array.from({ length: 700 }, (_, i) => String(i));

/**
 * Payload "sip". It keeps a view of the capture buffer and the parsed
 * offsets, and decodes the headers only when the JSON form is asked for: the
 * pipeline serialises a payload before the next packet reuses the buffer.
 */
export class SipPayload implements Payload {
  readonly type = 'sip';

  constructor(
    readonly message: SipMessage,
    /** The parsed SDP (of the body or of its application/sdp part), or null. */
    readonly sdp: Sdp | null,
  ) {}

  toJSON(): unknown {
    const o = this.head() as Record<string, unknown>;
    o.sdp = this.sdp === null ? null : sdpToJson(this.sdp);
    o.errors = this.errors();
    return o;
  }

  /**
   * JSON.stringify(toJSON()), with the SDP summary written by sdpToJsonText:
   * its rtpmap object (integer-like keys) takes JSON.stringify off its fast
   * path, and the SDP was a third of a SIP record's serialisation. sdp and
   * errors are the last two keys of toJSON, so the rest is serialised as one
   * object and the two are appended. Tests compare the two forms.
   */
  toJsonText(): string {
    const head = JSON.stringify(this.head());
    const sdp = this.sdp === null ? 'null' : sdpToJsonText(this.sdp);
    return `${head.slice(0, -1)},"sdp":${sdp},"errors":${JSON.stringify(this.errors())}}`;
  }

  private errors(): string[] {
    return reasonsOf(this.message.errors | (this.sdp === null ? 0 : this.sdp.errors));
  }

  /** Every field of the JSON form but the last two (sdp, errors), in order. */
  private head(): object {
    const m = this.message;
    const headers: [string, string][] = new Array(m.headerCount);
    for (let i = 0; i < m.headerCount; i++) headers[i] = [m.headerName(i), m.headerValue(i)];
    // Two literals rather than a spread: a spread copies property by property.
    return m.isRequest
      ? {
          start_line: m.startLine,
          method: m.method,
          request_uri: m.requestUri,
          call_id: m.callId,
          from: m.fromUri,
          from_tag: m.tag(SipHeader.FROM),
          to: m.toUri,
          to_tag: m.tag(SipHeader.TO),
          cseq: m.cseq,
          via: m.listValues(SipHeader.VIA),
          contact: m.listValues(SipHeader.CONTACT),
          user_agent: m.userAgent,
          content_type: m.firstValue(SipHeader.CONTENT_TYPE),
          content_length: m.contentLength < 0 ? null : m.contentLength,
          headers,
          body_length: m.bodyLength,
          truncated: m.truncated,
        }
      : {
          start_line: m.startLine,
          status: m.status,
          reason: m.reason,
          call_id: m.callId,
          from: m.fromUri,
          from_tag: m.tag(SipHeader.FROM),
          to: m.toUri,
          to_tag: m.tag(SipHeader.TO),
          cseq: m.cseq,
          via: m.listValues(SipHeader.VIA),
          contact: m.listValues(SipHeader.CONTACT),
          user_agent: m.userAgent,
          content_type: m.firstValue(SipHeader.CONTENT_TYPE),
          content_length: m.contentLength < 0 ? null : m.contentLength,
          headers,
          body_length: m.bodyLength,
          truncated: m.truncated,
        };
  }

  /** A copy of the message as it was on the wire (start line to the end of the announced body). */
  toBinary(): Uint8Array {
    const m = this.message;
    return m.data.slice(m.offset, m.offset + m.length);
  }
}

/** The labels of a message (DESIGN section 3, ADR-012). */
export function sipLabels(m: SipMessage, callId: string): Labels {
  const labels: Labels = m.isRequest ? { 'sip.method': m.method } : { 'sip.status': STATUS_TEXT[m.status]! };
  labels['sip.call-id'] = callId;
  if (m.fromUri !== null) labels['sip.from'] = m.fromUri;
  if (m.toUri !== null) labels['sip.to'] = m.toUri;
  if (m.cseq !== null) labels['sip.cseq'] = m.cseq;
  if (m.userAgent !== null) labels['sip.user-agent'] = m.userAgent;
  labels['call-id'] = callId;
  return labels;
}

const COUNTERS = [
  'messages', // reported
  'requests',
  'responses',
  'partial', // reported, with some malformed part
  'rejected', // not reported: no start line, or no Call-ID
  'keepalives', // CRLF keep-alives (RFC 5626), not reported
  'trailing_bytes', // messages with bytes after the announced body
  'with_sdp',
  'encoded_body', // bodies with a Content-Encoding: SDP not looked into
  'media_registered', // media lines registered
  'media_inactive', // media lines not registered: port 0, a=inactive, or a 0.0.0.0 / :: address
  'media_unregistrable', // media lines not registered: not RTP, host-name address, or no address
  'endpoints_registered',
  'endpoints_retired', // abandoned by a re-offer, shortened to bye_grace
  'calls_released', // BYE requests handled with media registration on (each shortens and queues a release)
  'endpoints_released', // removed by unregisterCall after the grace period
  'tracked_evicted', // calls forgotten by the tracker because max_tracked_calls was reached
  'tcp_streams', // reassembled TCP streams framed (SIP over TCP or WebSocket)
  'tcp_messages', // messages framed out of TCP (WebSocket ones included)
  'ws_upgrades', // HTTP upgrades to WebSocket seen
  'ws_messages', // SIP messages carried in WebSocket messages
  'ws_fragmented', // WebSocket messages sent in several frames
  'ws_control_frames', // ping, pong and close frames
  'stream_resyncs', // times the framing looked for the next start line (mid-stream join, gap, garbage)
  'stream_skipped_bytes', // bytes skipped while resynchronising
] as const;
type Counter = (typeof COUNTERS)[number];
export type SipCounter = Counter;
const CI = Object.fromEntries(COUNTERS.map((n, i) => [n, i])) as Record<Counter, number>;

export class SipParser implements Parser, FlowRegistryAware, StreamParser {
  /** SIP registers the media flows RTP/RTCP are looked up by: its frames are ordering barriers. */
  readonly registersFlows = true;
  /** One byte per port: a lookup per packet without hashing. */
  private readonly ports = new Uint8Array(65536);
  /** Stream ports: 1 = SIP over TCP, 2 = SIP over WebSocket. */
  private readonly tcpPorts = new Uint8Array(65536);
  private tcpPortList: number[] = [...DEFAULT_SIP_PORTS, ...DEFAULT_SIP_WS_PORTS];
  private detectAnyPort = true;
  private ttl = 300;
  private registerMedia = true;
  private grace = 5;
  private registry: FlowRegistry | null = null;
  private tracker = new MediaTracker();
  private readonly counters = new Float64Array(COUNTERS.length);
  private readonly malformed = new Float64Array(SIP_MALFORMED_REASONS.length);

  constructor() {
    for (const p of DEFAULT_SIP_PORTS) this.ports[p] = this.tcpPorts[p] = 1;
    for (const p of DEFAULT_SIP_WS_PORTS) this.tcpPorts[p] = 2;
  }

  init(config: PluginConfig, _ctx?: PluginContext): void {
    const cfg = parsePluginConfig(sipConfigSchema, config, 'parser sip');
    this.ports.fill(0);
    for (const p of cfg.ports) this.ports[p] = 1;
    this.tcpPorts.fill(0);
    for (const p of cfg.ports) this.tcpPorts[p] = 1;
    for (const p of cfg.ws_ports) this.tcpPorts[p] = 2;
    this.tcpPortList = [...new Set([...cfg.ports, ...cfg.ws_ports])];
    this.detectAnyPort = cfg.detect_any_port;
    this.ttl = cfg.media_stream_timeout;
    this.registerMedia = cfg.register_media;
    this.grace = Math.min(cfg.bye_grace, cfg.media_stream_timeout);
    this.tracker = new MediaTracker(cfg.max_tracked_calls);
  }

  setFlowRegistry(registry: FlowRegistry): void {
    this.registry = registry;
  }

  canHandle(pkt: DecodedPacket): boolean {
    if (pkt.protocol !== IPPROTO.UDP) return false;
    if (this.ports[pkt.srcPort] === 1 || this.ports[pkt.dstPort] === 1) return true;
    return this.detectAnyPort && looksLikeSip(pkt.data, pkt.payloadOffset, pkt.payloadLength);
  }

  handle(pkt: DecodedPacket): ParseResult | null {
    return this.handleMessage(pkt.data, pkt.payloadOffset, pkt.payloadLength, pkt.tsSec + pkt.tsNsec / 1e9);
  }

  /**
   * One whole message d[o, o+len), whatever carried it (a UDP datagram, a
   * message framed out of a TCP stream or a WebSocket message): counted,
   * labelled, and its SDP registered exactly alike. `now` is packet time.
   */
  handleMessage(d: Uint8Array, o: number, len: number, now: number): ParseResult | null {
    const c = this.counters;
    const reg = this.registerMedia ? this.registry : null;
    this.expire(now); // releases whose grace has passed
    if (isKeepalive(d, o, len)) {
      c[CI.keepalives]!++;
      return null;
    }
    const r = parseSipMessage(d, o, len);
    const m = r.message;
    if (m === null || m.callId === null) {
      this.count(r.errors);
      c[CI.rejected]!++;
      return null;
    }
    const callId = m.callId;
    let sdp: Sdp | null = null;
    if (m.sdpOffset >= 0) {
      sdp = parseSdp(d, m.sdpOffset, m.sdpOffset + m.sdpLength);
      c[CI.with_sdp]!++;
    } else if (m.bodyKind === BodyKind.ENCODED) {
      c[CI.encoded_body]!++;
    }
    const errors = r.errors | (sdp === null ? 0 : sdp.errors);
    this.count(errors);
    c[CI.messages]!++;
    c[m.isRequest ? CI.requests : CI.responses]!++;
    if (errors !== 0) c[CI.partial]!++;
    if (m.trailing > 0) c[CI.trailing_bytes]!++;

    // Labels first: registering or releasing media never changes how the
    // message itself is reported.
    const labels = sipLabels(m, callId);
    if (reg !== null) {
      if (sdp !== null && carriesSession(m)) this.registerSdp(reg, callId, sdp, now);
      if (m.isRequest && m.methodId === SipMethod.BYE) {
        this.tracker.release(reg, callId, now, this.grace);
        c[CI.calls_released]!++;
        this.syncTracker();
      }
    }
    return { payload: new SipPayload(m, sdp), labels };
  }

  // ---- SIP over TCP and WebSocket (reassembled streams, ADR-005)

  streamPorts(): readonly number[] {
    return this.tcpPortList;
  }

  canHandleStream(pkt: DecodedPacket): boolean {
    return this.tcpPorts[pkt.srcPort] !== 0 || this.tcpPorts[pkt.dstPort] !== 0;
  }

  openStream(pkt: DecodedPacket, sink: StreamSink): StreamHandler {
    this.counters[CI.tcp_streams]!++;
    // The server is the side on a SIP port (the destination when both are).
    const serverIsDst = this.tcpPorts[pkt.dstPort] !== 0;
    const serverPort = serverIsDst ? pkt.dstPort : pkt.srcPort;
    return new SipStream(this, sink, serverIsDst ? 0 : 1, this.tcpPorts[serverPort] === 2);
  }

  /** Adds to a counter (the stream framing counts here too, so one parser reports all of SIP). */
  bump(name: SipCounter, n = 1): void {
    this.counters[CI[name]]! += n;
  }

  private tick(reg: FlowRegistry, now: number): void {
    this.tracker.tick(reg, now);
    this.syncTracker();
  }

  private syncTracker(): void {
    const t = this.tracker.counters;
    const c = this.counters;
    c[CI.endpoints_retired] = t.retired;
    c[CI.endpoints_released] = t.released;
    c[CI.tracked_evicted] = t.evicted;
  }

  /** Registers the RTP and RTCP endpoints of every usable media line. */
  private registerSdp(reg: FlowRegistry, callId: string, sdp: Sdp, now: number): void {
    const c = this.counters;
    const eps: MediaEndpoint[] = [];
    for (const media of sdp.media) {
      const conn = sdp.connectionOf(media);
      if (media.port === 0 || sdp.directionOf(media) === 'inactive' || (conn !== null && isUnspecified(conn))) {
        c[CI.media_inactive]!++;
        continue;
      }
      if (!media.isRtp || conn === null || conn.ip === null) {
        c[CI.media_unregistrable]!++;
        continue;
      }
      c[CI.media_registered]!++;
      const proto = media.proto.startsWith('TCP') ? IPPROTO.TCP : IPPROTO.UDP;
      const codec = media.codec;
      const n = Math.min(media.portCount, MAX_PORT_COUNT);
      for (let k = 0; k < n; k++) {
        const rtpPort = media.port + 2 * k;
        if (rtpPort > 65535) break;
        eps.push(endpoint(proto, conn, rtpPort, 'rtp', codec));
        // RTCP: a=rtcp (first port only), else the next port (RFC 3550 11).
        let rtcpAddr: SdpAddress = conn;
        let rtcpPort = rtpPort + 1;
        if (k === 0 && media.rtcpPort >= 0) {
          rtcpPort = media.rtcpPort;
          if (media.rtcpAddress !== null) rtcpAddr = media.rtcpAddress;
        }
        if (rtcpAddr.ip === null || isUnspecified(rtcpAddr) || rtcpPort === 0 || rtcpPort > 65535) continue;
        // rtcp-mux (a=rtcp naming the RTP port): one endpoint carries both; keep it 'rtp'.
        if (rtcpPort === rtpPort && sameIp(rtcpAddr, conn)) continue;
        eps.push(endpoint(proto, rtcpAddr, rtcpPort, 'rtcp', codec));
      }
    }
    this.tracker.registerSdp(reg, callId, sdp.originHash, sdp.versionHigh, sdp.versionLow, eps, this.ttl, now, this.grace);
    c[CI.endpoints_registered]! += eps.length;
    this.syncTracker();
  }

  private count(errors: number): void {
    if (errors === 0) return;
    for (let i = 0; i < SIP_MALFORMED_REASONS.length; i++) if ((errors & (1 << i)) !== 0) this.malformed[i]!++;
  }

  /** A quiet link: the releases whose grace has passed run now, not at the next SIP message. */
  expire(nowSec: number): void {
    const reg = this.registerMedia ? this.registry : null;
    if (reg !== null && this.tracker.pendingReleases > 0) this.tick(reg, nowSec);
  }

  /** Queued releases run at once (the registry outlives the parser only briefly). */
  stop(): void {
    // Queued releases are not run here: the registry belongs to the task and
    // goes with it, and other workers may still be handling the call's last
    // packets (in a file run a worker with little SIP ends long before the
    // one carrying the media).
    this.syncTracker();
  }

  /** The counters above, and malformed_<reason> (messages per reason, SIP_MALFORMED_REASONS). */
  stats(): Record<string, number> {
    const s: Record<string, number> = {};
    for (let i = 0; i < COUNTERS.length; i++) s[COUNTERS[i]!] = this.counters[i]!;
    for (let i = 0; i < SIP_MALFORMED_REASONS.length; i++) s[`malformed_${SIP_MALFORMED_REASONS[i]!}`] = this.malformed[i]!;
    s.tracked_calls = this.tracker.trackedCalls;
    s.pending_releases = this.tracker.pendingReleases;
    return s;
  }
}

function endpoint(proto: number, a: SdpAddress, port: number, kind: 'rtp' | 'rtcp', codec: string): MediaEndpoint {
  return { proto, ipVersion: a.ipVersion, ip: a.ip!, port, kind, codec, expiry: 0 };
}

function sameIp(a: SdpAddress, b: SdpAddress): boolean {
  if (a.ipVersion !== b.ipVersion || a.ip === null || b.ip === null) return false;
  for (let i = 0; i < a.ip.length; i++) if (a.ip[i] !== b.ip[i]) return false;
  return true;
}

/**
 * Messages whose SDP is an offer or an answer of the session: INVITE, ACK,
 * UPDATE and PRACK requests, and their provisional (101-199) and 2xx
 * responses. SDP elsewhere (OPTIONS capabilities, MESSAGE...) is reported,
 * not registered.
 */
function carriesSession(m: SipMessage): boolean {
  const id = m.isRequest ? m.methodId : m.cseqMethodId;
  if (id !== SipMethod.INVITE && id !== SipMethod.ACK && id !== SipMethod.UPDATE && id !== SipMethod.PRACK) return false;
  return m.isRequest || (m.status > 100 && m.status < 300);
}

/** A datagram of CR and LF only: a keep-alive (RFC 5626 4.4.1), not a message. */
function isKeepalive(d: Uint8Array, o: number, len: number): boolean {
  if (len === 0 || len > 8) return len === 0;
  for (let i = o; i < o + len; i++) if (d[i] !== CR && d[i] !== LF) return false;
  return true;
}

/**
 * A cheap look at the first bytes: "SIP/2.0 " (a status line), or an upper
 * case method token of 3 to 16 letters, a space and "sip:", "sips:" or
 * "tel:" (a request line). No allocation.
 */
export function looksLikeSip(d: Uint8Array, o: number, len: number): boolean {
  if (len < 12) return false;
  if (
    d[o] === 0x53 &&
    d[o + 1] === 0x49 &&
    d[o + 2] === 0x50 &&
    d[o + 3] === 0x2f &&
    d[o + 4] === 0x32 &&
    d[o + 5] === 0x2e &&
    d[o + 6] === 0x30 &&
    d[o + 7] === 0x20
  ) {
    return true;
  }
  const max = o + (len < 17 ? len : 17);
  let p = o;
  while (p < max && d[p]! >= 0x41 && d[p]! <= 0x5a) p++;
  if (p - o < 3 || p >= max || d[p] !== 0x20 || o + len - p < 6) return false;
  const a = d[p + 1]! | 0x20;
  const b = d[p + 2]! | 0x20;
  const c = d[p + 3]! | 0x20;
  const e = d[p + 4]!;
  if (a === 0x73 && b === 0x69 && c === 0x70) return e === 0x3a || ((e | 0x20) === 0x73 && d[p + 5] === 0x3a); // sip: sips:
  return a === 0x74 && b === 0x65 && c === 0x6c && e === 0x3a; // tel:
}

registerPlugin('parser', 'sip', () => new SipParser());
