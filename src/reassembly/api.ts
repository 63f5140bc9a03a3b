// The TCP reassembly contract (ADR-005). The core owns these interfaces
// (ADR-005a): the pipeline talks to a TcpReassembler, stream-aware parsers
// implement StreamParser, and neither sees how the other is built, so the
// reassembly engine can be replaced without touching parsers or pipeline.
//
// Output granularity (ADR-005b): the reassembler delivers ordered bytes per
// direction; the parser frames them. A handler says how many bytes it
// consumed; the reassembler keeps the rest (and counts it against the
// stream's and the global memory limits) and presents it again, followed by
// the next bytes. Framing state therefore costs the parser nothing to keep.
import type { ParseResult } from '../core/output.ts';
import type { DecodedPacket } from '../core/packet.ts';

export interface TcpReassemblyConfig {
  enabled: boolean;
  /** Ports whose streams are reassembled (either side); empty = the ports the stream parsers ask for. */
  ports: number[];
  /** Follow a stream first seen in the middle (ADR-005c) ... */
  midStreamJoin: boolean;
  /** ... except on these ports, whose streams are followed only from their SYN (WebSocket). */
  synRequiredPorts: number[];
  maxConcurrentStreams: number;
  /** Bytes one stream may hold (out-of-order segments + bytes its parser has not consumed yet). */
  perStreamBufferLimit: number;
  /** Hard cap on all streams' memory; the least recently used streams are evicted to stay under it (ADR-005f). */
  globalMemoryLimit: number;
  /** Seconds (packet time) without a packet before a stream is evicted (ADR-005d). */
  streamTimeoutSec: number;
  /** Seconds (packet time) to wait for a missing segment before skipping the hole (ADR-005e). */
  gapTimeoutSec: number;
}

export function defaultTcpReassemblyConfig(): TcpReassemblyConfig {
  return {
    enabled: false,
    ports: [],
    midStreamJoin: true,
    synRequiredPorts: [],
    maxConcurrentStreams: 10000,
    perStreamBufferLimit: 32 * 1024,
    globalMemoryLimit: 128 * 1024 * 1024,
    streamTimeoutSec: 120,
    gapTimeoutSec: 5,
  };
}

/** Direction of a stream: 0 = from the side that sent the stream's first packet, 1 = towards it. */
export type StreamDir = 0 | 1;

/** Where a stream handler sends the messages it framed. */
export interface StreamSink {
  /** Reports one message that travelled in direction `dir`; goes through the processors like any parser result. */
  emit(dir: StreamDir, res: ParseResult): void;
  /** Packet time (seconds) of the packet being handled: what a message's timers run on. */
  now(): number;
}

/** One stream's framing state, created by a StreamParser. */
export interface StreamHandler {
  /**
   * Ordered bytes d[start, end) of direction `dir`. `gap` is true when bytes
   * before `start` are unknown (stream joined mid-way, a segment was lost,
   * or a buffer overflowed): the handler must resynchronise to a message
   * boundary. Returns how many bytes from `start` it consumed; the rest is
   * presented again with the next bytes (or dropped, with `gap`, if the
   * stream's buffer limit is reached). `d` is valid only during the call.
   */
  onData(dir: StreamDir, d: Uint8Array, start: number, end: number, gap: boolean): number;
  /** Direction `dir` sent its FIN and every byte before it was delivered (a body read until close ends here). */
  onEnd?(dir: StreamDir): void;
  /** The stream ends (FIN/RST, timeout, eviction, end of capture): report what can still be reported. */
  onClose(): void;
}

/** A parser that can frame messages out of a reassembled TCP stream. */
export interface StreamParser {
  /** Ports this parser's streams use (for reassembly rules that list none). */
  streamPorts(): readonly number[];
  /** Cheap test on the first packet of a new stream (usually its ports). */
  canHandleStream(pkt: DecodedPacket): boolean;
  /** A new stream whose first packet is `pkt` (direction 0 = pkt's source); messages go to `sink`. */
  openStream(pkt: DecodedPacket, sink: StreamSink): StreamHandler;
}

export function isStreamParser(p: unknown): p is StreamParser {
  return typeof (p as StreamParser).openStream === 'function' && typeof (p as StreamParser).canHandleStream === 'function';
}

/** What the reassembler asks of its user (the pipeline) when a new stream appears. */
export interface StreamOpener {
  /** A handler for a new stream, or null to leave the packet to per-packet parsing. */
  openStream(pkt: DecodedPacket): StreamHandler | null;
}

/** The reassembly engine (ADR-005a). */
export interface TcpReassembler {
  /** True when `pkt` (a TCP packet) belongs to reassembly; it was then taken (and possibly delivered). */
  handlePacket(pkt: DecodedPacket): boolean;
  /** Lets packet time advance gap and idle timeouts when the capture is idle. */
  expire(nowSec: number): void;
  /** Counters and gauges (REASSEMBLY_STATS). */
  stats(): Record<string, number>;
  /** Flushes every stream (holes skipped) and closes it. */
  close(): void;
}

export const REASSEMBLY_STATS = [
  'segments', // TCP packets taken by the reassembler
  'bytes_delivered', // ordered bytes handed to parsers
  'streams_created',
  'mid_stream_joins', // streams (directions) first seen without a SYN
  'syn_required_skipped', // packets of streams not followed because their port needs a SYN
  'unclaimed', // new streams no stream parser wanted (left to per-packet parsing)
  'streams_closed', // FIN from both sides, or RST
  'streams_timed_out', // idle for stream_timeout
  'streams_evicted_memory', // LRU eviction to stay under global_memory_limit
  'streams_evicted_max', // LRU eviction at max_concurrent_streams
  'retransmitted_segments', // segments whose bytes were all delivered already
  'overlap_bytes', // bytes received again (retransmission or overlap), not delivered twice
  'out_of_order_segments', // segments buffered ahead of a hole
  'gaps', // holes skipped
  'gap_bytes', // bytes never seen in those holes
  'gaps_forced', // holes skipped early because the stream's buffer limit was reached
  'overflow_bytes', // unconsumed bytes dropped because a parser did not frame them within per_stream_buffer_limit
  'active_streams', // gauge
  'memory_bytes', // gauge: buffered bytes + per-stream overhead
  'memory_peak', // gauge: highest memory_bytes seen
] as const;
export type ReassemblyStat = (typeof REASSEMBLY_STATS)[number];
