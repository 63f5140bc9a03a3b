// The public contract between parsers, processors and reporters (ADR-010/011/012).

/** Labels: string -> string. Keys match [a-z0-9][a-z0-9.-]* (ADR-012). */
export type Labels = Record<string, string>;

const LABEL_KEY = /^[a-z0-9][a-z0-9.-]*$/;

/** Validates a label key (used on configuration, never per packet). */
export function isValidLabelKey(key: string): boolean {
  return LABEL_KEY.test(key);
}

/**
 * A protocol-owned payload. Processors never look inside (ADR-011); reporters
 * only ask for one of its two serialised forms.
 */
export interface Payload {
  /** The payload type: the parser's protocol ("sip", "rtp", "raw"...). */
  readonly type: string;
  /** The JSON form (a plain value, serialised by the reporter). */
  toJSON(): unknown;
  /**
   * Optional: the JSON form already as text, exactly JSON.stringify(toJSON()).
   * Payloads made on the fast path (RTP) write it directly, which costs a
   * fraction of building an object and stringifying it per packet.
   */
  toJsonText?(): string;
  /** The binary form (e.g. the message bytes as they were on the wire). */
  toBinary(): Uint8Array;
}

/** What a parser returns for a packet it handled. */
export interface ParseResult {
  payload: Payload;
  labels: Labels;
}

/** A flow's 5-tuple in text form, as written in records. */
export interface FiveTuple {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  proto: number;
}

export interface TunnelMeta {
  type: string;
  outerSrcIp: string;
  outerDstIp: string;
  /** VNI, GRE key or ERSPAN session id; null when the encapsulation carried none. */
  vni: number | null;
}

export interface NetworkMeta {
  ipVersion: number;
  vlans: number[];
  tunnel: TunnelMeta | null;
  fragmented: boolean;
  ttl: number;
}

/** The record that leaves the pipeline: envelope + labels + payload. */
export interface OutputPacket {
  tsSec: number;
  tsNsec: number;
  /** Capture sequence number of the (last) frame this record came from. */
  frameNo: number;
  protocol: string;
  flow: FiveTuple;
  net: NetworkMeta;
  labels: Labels;
  payload: Payload;
}
