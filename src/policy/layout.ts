// The byte layouts of bpf/policy.h, for the control plane. The dataplane
// checks the key and value sizes the loaded object declares against these,
// so an object built from a different header is refused instead of misread.
import { BITMAP_BYTES } from './compile.ts';

export const SESS_KEY_BYTES = 16;
export const SESS_VAL_BYTES = 56;
export const LPM_KEY_BYTES = 12;
export const CFG_BYTES = 16;
export const EVENT_BYTES = 64;
export const STATS_FIELDS = [
  'packets',
  'bytes',
  'allowed',
  'denied',
  'logged',
  'session_hits',
  'new_sessions',
  'events_lost',
  'reclassified',
  'not_ipv4',
  'events',
] as const;
export type StatName = (typeof STATS_FIELDS)[number];
export type PolicyStats = Record<StatName, number>;
export const STATS_BYTES = STATS_FIELDS.length * 8;
export const NO_RULE = 0xffffffff;
export const CFG_EVENTS_NEW_SESSION = 0x1;
export const EV_NEW_SESSION = 1;
export const EV_DENY = 2;
export const EV_LOG = 3;

/** Expected (key, value) sizes per map name. */
export const MAP_LAYOUT: Record<string, [number, number]> = {
  cfg: [4, CFG_BYTES],
  sessions: [SESS_KEY_BYTES, SESS_VAL_BYTES],
  src_lpm: [LPM_KEY_BYTES, BITMAP_BYTES],
  dst_lpm: [LPM_KEY_BYTES, BITMAP_BYTES],
  proto_bm: [4, BITMAP_BYTES],
  sport_cls: [4, 4],
  dport_cls: [4, 4],
  sport_bm: [4, BITMAP_BYTES],
  dport_bm: [4, BITMAP_BYTES],
  rule_act: [4, 4],
  stats: [4, STATS_BYTES],
};

/** The cfg word: generation (its low bit is the active slot), words to scan, default action, flags. */
export function cfgWord(gen: number, nwords: number, defaultAction: number, flags: number): bigint {
  return BigInt(gen >>> 0) | (BigInt(nwords) << 32n) | (BigInt(defaultAction) << 48n) | (BigInt(flags) << 56n);
}

export interface DecodedEvent {
  tsNs: bigint;
  packets: number;
  bytes: number;
  /** Host-order IPv4 addresses of the packet that raised the event. */
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  proto: number;
  type: number;
  action: number;
  /** 0 ingress, 1 egress. */
  dir: number;
  rule: number;
  gen: number;
  ifindex: number;
  pktLen: number;
}

export function decodeEvent(b: Buffer): DecodedEvent {
  return {
    tsNs: b.readBigUInt64LE(0),
    packets: Number(b.readBigUInt64LE(8)),
    bytes: Number(b.readBigUInt64LE(16)),
    srcIp: b.readUInt32BE(24),
    dstIp: b.readUInt32BE(28),
    srcPort: b.readUInt16LE(32),
    dstPort: b.readUInt16LE(34),
    proto: b[36]!,
    type: b[37]!,
    action: b[38]!,
    dir: b[39]!,
    rule: b.readUInt32LE(40),
    gen: b.readUInt32LE(44),
    ifindex: b.readUInt32LE(48),
    pktLen: b.readUInt32LE(52),
  };
}

export interface DecodedSession {
  /** The initiator's side first. */
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  proto: number;
  firstNs: bigint;
  lastNs: bigint;
  packets: number;
  bytes: number;
  gen: number;
  rule: number;
  action: number;
}

export function decodeSession(k: Buffer, ko: number, v: Buffer, vo: number): DecodedSession {
  const aIp = k.readUInt32BE(ko);
  const bIp = k.readUInt32BE(ko + 4);
  const aPort = k.readUInt16LE(ko + 8);
  const bPort = k.readUInt16LE(ko + 10);
  const initIsA = v[vo + 49] !== 0;
  return {
    srcIp: initIsA ? aIp : bIp,
    dstIp: initIsA ? bIp : aIp,
    srcPort: initIsA ? aPort : bPort,
    dstPort: initIsA ? bPort : aPort,
    proto: k[ko + 12]!,
    firstNs: v.readBigUInt64LE(vo),
    lastNs: v.readBigUInt64LE(vo + 8),
    packets: Number(v.readBigUInt64LE(vo + 16)),
    bytes: Number(v.readBigUInt64LE(vo + 24)),
    gen: v.readUInt32LE(vo + 40),
    rule: v.readUInt32LE(vo + 44),
    action: v[vo + 48]!,
  };
}
