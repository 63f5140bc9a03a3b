// RFC 6455 framing, read from a reassembled byte stream: frame headers,
// unmasking, and the search for a frame boundary after a mid-stream join or
// a hole (frame headers carry no magic, so a candidate is accepted only when
// its payload starts like a SIP message).
import { looksLikeSip } from './sip-parser.ts';

export const WsOpcode = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

/** One frame header; reused, filled by readFrameHeader. */
export class WsFrameHeader {
  fin = false;
  opcode = 0;
  masked = false;
  /** Offset of the 4-byte masking key (valid when masked). */
  maskAt = 0;
  headerLen = 0;
  payloadLen = 0;
}

/** Largest frame payload followed; bigger frames are skipped (a SIP message is far smaller). */
export const MAX_WS_PAYLOAD = 1 << 20;

export const WsHeader = { INCOMPLETE: 0, OK: 1, INVALID: 2 } as const;

/** Reads the frame header at d[p, end) into h. */
export function readFrameHeader(d: Uint8Array, p: number, end: number, h: WsFrameHeader): number {
  if (end - p < 2) return WsHeader.INCOMPLETE;
  const b0 = d[p]!;
  const b1 = d[p + 1]!;
  if ((b0 & 0x70) !== 0) return WsHeader.INVALID; // RSV bits: no extension negotiated
  const op = b0 & 0x0f;
  if (op > 2 && op < 8) return WsHeader.INVALID;
  if (op > 10) return WsHeader.INVALID;
  h.fin = (b0 & 0x80) !== 0;
  h.opcode = op;
  h.masked = (b1 & 0x80) !== 0;
  let len = b1 & 0x7f;
  let hl = 2;
  if (len === 126) {
    if (end - p < 4) return WsHeader.INCOMPLETE;
    len = (d[p + 2]! << 8) | d[p + 3]!;
    hl = 4;
  } else if (len === 127) {
    if (end - p < 10) return WsHeader.INCOMPLETE;
    if (d[p + 2] !== 0 || d[p + 3] !== 0 || d[p + 4] !== 0 || d[p + 5] !== 0) return WsHeader.INVALID;
    len = ((d[p + 6]! << 24) >>> 0) + ((d[p + 7]! << 16) | (d[p + 8]! << 8) | d[p + 9]!);
    hl = 10;
  }
  // Control frames are short and never fragmented (RFC 6455 5.5).
  if (op >= 8 && (len > 125 || !h.fin)) return WsHeader.INVALID;
  if (h.masked) {
    h.maskAt = p + hl;
    hl += 4;
    if (end - p < hl) return WsHeader.INCOMPLETE;
  }
  h.headerLen = hl;
  h.payloadLen = len;
  return WsHeader.OK;
}

/** Copies the payload d[s, s+n) to out[at...], unmasking with the key at d[key] (RFC 6455 5.3) when masked. */
export function copyPayload(d: Uint8Array, s: number, n: number, masked: boolean, key: number, out: Uint8Array, at: number): void {
  if (!masked) {
    out.set(d.subarray(s, s + n), at);
    return;
  }
  const k0 = d[key]!;
  const k1 = d[key + 1]!;
  const k2 = d[key + 2]!;
  const k3 = d[key + 3]!;
  for (let i = 0; i < n; i++) {
    const k = (i & 3) === 0 ? k0 : (i & 3) === 1 ? k1 : (i & 3) === 2 ? k2 : k3;
    out[at + i] = d[s + i]! ^ k;
  }
}

const probe = new Uint8Array(24);
const ph = new WsFrameHeader();

/**
 * The first offset in d[p, end) where a data frame starts whose payload
 * starts like a SIP message; `masked` is what this direction must carry
 * (client to server frames are masked) or null when unknown. Returns -1
 * when there is none, or -2 - i when a candidate at i needs more bytes to
 * be judged.
 */
export function findFrame(d: Uint8Array, p: number, end: number, masked: boolean | null): number {
  for (let i = p; i < end; i++) {
    const b0 = d[i]!;
    // FIN text/binary, or the first fragment of one.
    if (b0 !== 0x81 && b0 !== 0x82 && b0 !== 0x01 && b0 !== 0x02) continue;
    const r = readFrameHeader(d, i, end, ph);
    if (r === WsHeader.INCOMPLETE) return -2 - i;
    if (r === WsHeader.INVALID) continue;
    if (masked !== null && ph.masked !== masked) continue;
    if (ph.payloadLen < 12 || ph.payloadLen > MAX_WS_PAYLOAD) continue;
    const s = i + ph.headerLen;
    const n = ph.payloadLen < probe.length ? ph.payloadLen : probe.length;
    if (end - s < n) return -2 - i;
    copyPayload(d, s, n, ph.masked, ph.maskAt, probe, 0);
    if (looksLikeSip(probe, 0, n)) return i;
  }
  return -1;
}
