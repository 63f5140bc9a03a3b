// RTCP compound packets (RFC 3550 section 6, RFC 4585 feedback, RFC 3611 XR),
// read into plain objects that are the JSON form of the "rtcp" payload. RTCP
// is a few packets per stream every few seconds, so clarity beats avoiding
// allocation here; every read is bounded by the sub-packet it belongs to.

export const RTCP_TYPE_NAMES = ['SR', 'RR', 'SDES', 'BYE', 'APP', 'RTPFB', 'PSFB', 'XR'] as const;
export type RtcpTypeName = (typeof RTCP_TYPE_NAMES)[number];
export const RTCP_PT_FIRST = 200;
export const RTCP_PT_LAST = 207;

export const RTCP_MALFORMED_REASONS = [
  'too_short',
  'not_rtcp',
  'bad_version',
  'bad_length',
  'bad_padding',
  'bad_sr',
  'bad_rr',
  'bad_sdes',
  'bad_bye',
  'bad_app',
  'bad_feedback',
  'bad_xr',
] as const;
export type RtcpMalformedReason = (typeof RTCP_MALFORMED_REASONS)[number];

export interface RtcpReportBlock {
  ssrc: number;
  fraction_lost: number;
  /** Signed 24-bit: duplicates can make it negative. */
  cumulative_lost: number;
  highest_seq: number;
  jitter: number;
  lsr: number;
  dlsr: number;
}

export interface RtcpSr {
  type: 'SR';
  ssrc: number;
  /** NTP timestamp: whole seconds since 1900 and the 32-bit binary fraction. */
  ntp_sec: number;
  ntp_frac: number;
  rtp_ts: number;
  packet_count: number;
  octet_count: number;
  reports: RtcpReportBlock[];
}

export interface RtcpRr {
  type: 'RR';
  ssrc: number;
  reports: RtcpReportBlock[];
}

export type SdesItemType = 'cname' | 'name' | 'email' | 'phone' | 'loc' | 'tool' | 'note' | 'priv' | 'unknown';

export interface SdesItem {
  type: SdesItemType;
  /** The item type number, for `unknown` items. */
  code?: number;
  text: string;
  /** PRIV items: the prefix (RFC 3550 section 6.5.8). */
  prefix?: string;
}

export interface RtcpSdes {
  type: 'SDES';
  chunks: { ssrc: number; items: SdesItem[] }[];
}

export interface RtcpBye {
  type: 'BYE';
  ssrcs: number[];
  reason?: string;
}

export interface RtcpApp {
  type: 'APP';
  ssrc: number;
  subtype: number;
  /** Four ASCII characters. */
  name: string;
  data_length: number;
}

export interface RtcpFeedback {
  type: 'RTPFB' | 'PSFB';
  fmt: number;
  /** NACK, PLI, FIR, TCC, AFB (REMB)... when the FMT is a known one. */
  fmt_name?: string;
  sender_ssrc: number;
  media_ssrc: number;
  fci_length: number;
}

export interface RtcpXrBlock {
  type: number;
  name?: string;
  /** Block content length in bytes (the header's length field times 4). */
  length: number;
}

export interface RtcpXr {
  type: 'XR';
  ssrc: number;
  blocks: RtcpXrBlock[];
}

/** A sub-packet of a type outside 200-207 (reported, not decoded; RFC 3550 says ignore it). */
export interface RtcpUnknown {
  type: 'unknown';
  packet_type: number;
  length: number;
}

export type RtcpPacket = RtcpSr | RtcpRr | RtcpSdes | RtcpBye | RtcpApp | RtcpFeedback | RtcpXr | RtcpUnknown;

export interface RtcpParse {
  /** Every sub-packet read before the end or the first damage. */
  packets: RtcpPacket[];
  /** Why the walk stopped early, or null when it reached the end. */
  error: RtcpMalformedReason | null;
  /** Name of the first sub-packet (null when the first one was unusable). */
  firstType: RtcpTypeName | null;
  /** Sender SSRC of the first sub-packet, or -1 when it carries none (an empty SDES or BYE). */
  firstSsrc: number;
}

const SDES_ITEMS: readonly SdesItemType[] = ['unknown', 'cname', 'name', 'email', 'phone', 'loc', 'tool', 'note', 'priv'];
const RTPFB_FMT: Record<number, string> = { 1: 'NACK', 3: 'TMMBR', 4: 'TMMBN', 5: 'RTCP-SR-REQ', 6: 'RAMS', 7: 'TLLEI', 8: 'RTCP-ECN-FB', 9: 'PAUSE-RESUME', 15: 'TCC' };
const PSFB_FMT: Record<number, string> = { 1: 'PLI', 2: 'SLI', 3: 'RPSI', 4: 'FIR', 5: 'TSTR', 6: 'TSTN', 7: 'VBCM', 15: 'AFB' };
const XR_BLOCKS: Record<number, string> = {
  1: 'loss-rle',
  2: 'duplicate-rle',
  3: 'packet-receipt-times',
  4: 'receiver-reference-time',
  5: 'dlrr',
  6: 'statistics-summary',
  7: 'voip-metrics',
};

const utf8 = new TextDecoder();

function u32(d: Uint8Array, p: number): number {
  return ((d[p]! << 24) | (d[p + 1]! << 16) | (d[p + 2]! << 8) | d[p + 3]!) >>> 0;
}

function reportBlocks(d: Uint8Array, p: number, count: number): RtcpReportBlock[] {
  const out: RtcpReportBlock[] = [];
  for (let i = 0; i < count; i++, p += 24) {
    let lost = (d[p + 5]! << 16) | (d[p + 6]! << 8) | d[p + 7]!;
    if (lost & 0x800000) lost -= 0x1000000;
    out.push({
      ssrc: u32(d, p),
      fraction_lost: d[p + 4]!,
      cumulative_lost: lost,
      highest_seq: u32(d, p + 8),
      jitter: u32(d, p + 12),
      lsr: u32(d, p + 16),
      dlsr: u32(d, p + 20),
    });
  }
  return out;
}

/** SDES chunks in [p, end); null when an item or chunk overruns. */
function sdesChunks(d: Uint8Array, p: number, end: number, count: number): RtcpSdes['chunks'] | null {
  const chunks: RtcpSdes['chunks'] = [];
  const start = p;
  for (let c = 0; c < count; c++) {
    if (p + 4 > end) return null;
    const chunk = { ssrc: u32(d, p), items: [] as SdesItem[] };
    chunks.push(chunk);
    p += 4;
    // A null item ends the list, then padding to the next word. Senders that
    // end the packet right after the last item are accepted.
    while (p < end) {
      const t = d[p]!;
      if (t === 0) {
        p = start + ((p + 1 - start + 3) & ~3);
        break;
      }
      if (p + 2 > end) return null;
      const len = d[p + 1]!;
      if (p + 2 + len > end) return null;
      const item: SdesItem = { type: SDES_ITEMS[t] ?? 'unknown', text: '' };
      if (t === 8) {
        const plen = len > 0 ? d[p + 2]! : 0;
        if (len === 0 || 1 + plen > len) return null;
        item.prefix = utf8.decode(d.subarray(p + 3, p + 3 + plen));
        item.text = utf8.decode(d.subarray(p + 3 + plen, p + 2 + len));
      } else {
        if (item.type === 'unknown') item.code = t;
        item.text = utf8.decode(d.subarray(p + 2, p + 2 + len));
      }
      chunk.items.push(item);
      p += 2 + len;
    }
  }
  return chunks;
}

/**
 * Walks the compound packet in `d[off, off+len)`. The first sub-packet must be
 * one of SR..XR (that is what makes the datagram RTCP); damage there leaves
 * `packets` empty, damage later keeps what was read before it.
 */
export function parseRtcpCompound(d: Uint8Array, off: number, len: number): RtcpParse {
  const r: RtcpParse = { packets: [], error: null, firstType: null, firstSsrc: -1 };
  const end = off + len;
  if (len < 8) {
    r.error = 'too_short';
    return r;
  }
  if (d[off + 1]! < RTCP_PT_FIRST || d[off + 1]! > RTCP_PT_LAST) {
    r.error = 'not_rtcp';
    return r;
  }
  let p = off;
  while (p < end) {
    const err = readOne(d, p, end, r);
    if (typeof err === 'string') {
      r.error = err;
      break;
    }
    p += err;
  }
  return r;
}

/** Reads the sub-packet at p into r; returns its size in bytes, or why it is unusable. */
function readOne(d: Uint8Array, p: number, end: number, r: RtcpParse): number | RtcpMalformedReason {
  if (end - p < 4) return 'too_short';
  const b0 = d[p]!;
  if (b0 >> 6 !== 2) return 'bad_version';
  const pt = d[p + 1]!;
  const size = (((d[p + 2]! << 8) | d[p + 3]!) + 1) * 4;
  if (p + size > end) return 'bad_length';
  let cend = p + size;
  if ((b0 & 0x20) !== 0) {
    const pad = d[cend - 1]!;
    if (pad === 0 || pad > size - 4) return 'bad_padding';
    cend -= pad;
  }
  const count = b0 & 0x1f;
  const body = cend - p;
  let pkt: RtcpPacket;
  let ssrc = -1;
  switch (pt) {
    case 200: {
      if (body < 28 + 24 * count) return 'bad_sr';
      ssrc = u32(d, p + 4);
      pkt = {
        type: 'SR',
        ssrc,
        ntp_sec: u32(d, p + 8),
        ntp_frac: u32(d, p + 12),
        rtp_ts: u32(d, p + 16),
        packet_count: u32(d, p + 20),
        octet_count: u32(d, p + 24),
        reports: reportBlocks(d, p + 28, count),
      };
      break;
    }
    case 201: {
      if (body < 8 + 24 * count) return 'bad_rr';
      ssrc = u32(d, p + 4);
      pkt = { type: 'RR', ssrc, reports: reportBlocks(d, p + 8, count) };
      break;
    }
    case 202: {
      const chunks = sdesChunks(d, p + 4, cend, count);
      if (chunks === null) return 'bad_sdes';
      if (chunks.length > 0) ssrc = chunks[0]!.ssrc;
      pkt = { type: 'SDES', chunks };
      break;
    }
    case 203: {
      let q = p + 4 + 4 * count;
      if (q > cend) return 'bad_bye';
      const ssrcs: number[] = [];
      for (let i = 0; i < count; i++) ssrcs.push(u32(d, p + 4 + 4 * i));
      if (count > 0) ssrc = ssrcs[0]!;
      const bye: RtcpBye = { type: 'BYE', ssrcs };
      if (q < cend) {
        const rl = d[q]!;
        q++;
        if (q + rl > cend) return 'bad_bye';
        if (rl > 0) bye.reason = utf8.decode(d.subarray(q, q + rl));
      }
      pkt = bye;
      break;
    }
    case 204: {
      if (body < 12) return 'bad_app';
      ssrc = u32(d, p + 4);
      pkt = {
        type: 'APP',
        ssrc,
        subtype: count,
        name: String.fromCharCode(d[p + 8]!, d[p + 9]!, d[p + 10]!, d[p + 11]!),
        data_length: body - 12,
      };
      break;
    }
    case 205:
    case 206: {
      if (body < 12) return 'bad_feedback';
      ssrc = u32(d, p + 4);
      const fb: RtcpFeedback = {
        type: pt === 205 ? 'RTPFB' : 'PSFB',
        fmt: count,
        sender_ssrc: ssrc,
        media_ssrc: u32(d, p + 8),
        fci_length: body - 12,
      };
      const name = (pt === 205 ? RTPFB_FMT : PSFB_FMT)[count];
      if (name !== undefined) fb.fmt_name = name;
      pkt = fb;
      break;
    }
    case 207: {
      if (body < 8) return 'bad_xr';
      ssrc = u32(d, p + 4);
      const blocks: RtcpXrBlock[] = [];
      for (let q = p + 8; q < cend; ) {
        if (q + 4 > cend) return 'bad_xr';
        const blen = ((d[q + 2]! << 8) | d[q + 3]!) * 4;
        if (q + 4 + blen > cend) return 'bad_xr';
        const bt = d[q]!;
        const block: RtcpXrBlock = { type: bt, length: blen };
        const name = XR_BLOCKS[bt];
        if (name !== undefined) block.name = name;
        blocks.push(block);
        q += 4 + blen;
      }
      pkt = { type: 'XR', ssrc, blocks };
      break;
    }
    default:
      pkt = { type: 'unknown', packet_type: pt, length: size };
  }
  if (r.packets.length === 0) {
    r.firstType = pkt.type === 'unknown' ? null : pkt.type;
    r.firstSsrc = ssrc;
  }
  r.packets.push(pkt);
  return size;
}
